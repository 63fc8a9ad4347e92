"""Work in flight: every job of the daemon runs as a task that the shutdown waits for.

APScheduler decides when a job starts; the job itself runs as a task tracked here, so
SIGTERM can stop new work, give what is running ``shutdown_grace`` seconds, then cancel
the rest. A cancelled job's transaction never commits: it is redone at the next start.
A job that fails is logged, never fatal to the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger("monitor.daemon")

Job = Callable[[], Coroutine[Any, Any, None]]


class Tasks:
    """The daemon's tasks in flight, and whether it is stopping (create inside the loop)."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task the shutdown waits for."""
        self._track(asyncio.get_running_loop().create_task(work))

    def job(self, make: Job) -> Job:
        """An APScheduler job that runs ``make()`` as a tracked task (so shutdown can wait)."""

        async def job() -> None:
            if self.stopping.is_set():
                return
            task = asyncio.get_running_loop().create_task(make())
            self._track(task)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

        return job

    async def drain(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for what is in flight, then cancel what is left."""
        pending = {task for task in self._inflight if not task.done()}
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()  # its transaction never commits: redone at the next start
        if still:
            await asyncio.wait(still, timeout=2)
            log.warning(
                "abandoned %d job(s) in flight at shutdown; they run again at start", len(still)
            )

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._inflight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job failed", exc_info=task.exception())
