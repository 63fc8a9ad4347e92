"""Whether the daemon is alive and ready, and the heartbeat file `monitor status` reads.

Alive means the scheduler runs and the tick came recently (or the daemon is still
starting); ready means it has started and is not shutting down. The heartbeat file is
written whole or not at all: a reader sees the last beat or the one before.
"""

from __future__ import annotations

import json
import logging
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.app.health import Health

log = logging.getLogger("monitor.daemon")


class Liveness:
    """When the daemon started, when it last ticked, and whether it takes work."""

    def __init__(self) -> None:
        self.started = time.time()
        self.last_tick: float | None = None
        self.ready = False

    @property
    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started, UTC)

    def ticked(self) -> float:
        self.last_tick = time.time()
        return self.last_tick

    def health(self, scheduler_running: bool, *, tick: float) -> Health:
        """Alive and ready as of now, for a daemon that ticks every ``tick`` seconds."""
        now = time.time()
        recent = self.last_tick is not None and now - self.last_tick < 3 * tick + 30
        starting = self.last_tick is None and now - self.started < 3 * tick + 30
        detail = {
            "scheduler_running": scheduler_running,
            "last_tick": iso(self.last_tick),
            "started": iso(self.started),
            "pid": os.getpid(),
        }
        return Health(
            alive=scheduler_running and (recent or starting),
            ready=self.ready and scheduler_running,
            detail=detail,
        )

    def beat(self, **facts: Any) -> dict[str, Any]:
        """What `monitor status` shows of this process."""
        return {
            "pid": os.getpid(),
            "started_at": iso(self.started),
            "last_tick_at": iso(self.last_tick),
            **facts,
        }


def write_heartbeat(path: Path, beat: dict[str, Any]) -> None:
    """Write ``beat`` to ``path`` atomically; a failure is logged, never fatal."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(json.dumps(beat), encoding="utf-8")
        temporary.replace(path)
    except OSError as error:
        log.warning("cannot write the heartbeat %s: %s", path, error)


def iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()
