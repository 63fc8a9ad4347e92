"""The daemon's side of article extraction: pages read in a child that a time limit kills.

:class:`Extractor` starts :mod:`monitor.feeds.extraction_server` on first use, hands it
pages and awaits the answers on the event loop, so a slow page holds neither a parse
worker nor the loop. A page past its time limit is killed by the server and answered
"time limit"; a cancelled wait (the daemon stopping) kills its page at once, so shutdown
never waits for trafilatura. If the server dies, the pages it held are answered
"extraction failed" and the next page starts a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sys

from monitor.feeds.article import FullText
from monitor.feeds.extraction_server import frame, unframe

# Time to import trafilatura in a new server on a loaded machine, beyond which it is broken.
START_TIMEOUT = 60.0
_STOP_WAIT = 2.0
_READ = 1 << 16

log = logging.getLogger("monitor.fulltext")


class Extractor:
    """Article extraction with a time limit per page; create and close inside the event loop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[FullText]] = {}
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._closing = False

    async def extract(self, body: bytes, url: str, content_type: str | None) -> FullText:
        """The page's main text, or why there is none ("time limit" among the reasons)."""
        process = await self._server()
        request = next(self._ids)
        answer: asyncio.Future[FullText] = asyncio.get_running_loop().create_future()
        self._waiting[request] = answer
        try:
            assert process.stdin is not None
            page = ("page", request, body, url, content_type, float(self.seconds))
            process.stdin.write(frame(page))
            await process.stdin.drain()
            return await answer
        except asyncio.CancelledError:
            self._cancel(request)
            raise
        except (ConnectionError, RuntimeError):  # the server died while it was told
            return FullText(None, "extraction failed: extractor ended")
        finally:
            self._waiting.pop(request, None)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (for tests and diagnostics)."""
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    async def aclose(self) -> None:
        """End the server and every page it holds."""
        process, self._process = self._process, None
        if process is None:
            return
        self._closing = True
        if process.stdin is not None:
            process.stdin.close()
        try:
            await asyncio.wait_for(process.wait(), _STOP_WAIT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._reader is not None:
            await self._reader
            self._reader = None
        self._closing = False

    def _cancel(self, request: int) -> None:
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        process.stdin.write(frame(("cancel", request)))  # buffered; sent by the loop

    async def _server(self) -> asyncio.subprocess.Process:
        async with self._starting:
            if self._process is not None and self._process.returncode is None:
                return self._process
            if self._reader is not None:
                await self._reader
            self._process = await asyncio.wait_for(self._start(), START_TIMEOUT)
            return self._process

    async def _start(self) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "monitor.feeds.extraction_server",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # Its own session: a terminal's Ctrl-C is the daemon's to handle, not the server's.
            start_new_session=True,
            env={**os.environ, "PYTHONSAFEPATH": "1"},
        )
        assert process.stdout is not None
        buffer = bytearray()
        while True:
            chunk = await process.stdout.read(_READ)
            if not chunk:
                raise RuntimeError("the extraction server ended while it started")
            buffer += chunk
            messages = unframe(buffer)
            if messages:
                break
        log.debug("extraction server started: pid %d", process.pid)
        self._reader = asyncio.get_running_loop().create_task(self._read(process, buffer))
        return process

    async def _read(self, process: asyncio.subprocess.Process, buffer: bytearray) -> None:
        assert process.stdout is not None
        try:
            while True:
                for message in unframe(buffer):
                    match message:
                        case (int(request), FullText() as found):
                            answer = self._waiting.get(request)
                            if answer is not None and not answer.done():
                                answer.set_result(found)
                chunk = await process.stdout.read(_READ)
                if not chunk:
                    break
                buffer += chunk
        finally:
            await process.wait()
            lost = [answer for answer in self._waiting.values() if not answer.done()]
            for answer in lost:
                answer.set_result(FullText(None, "extraction failed: extractor ended"))
            if lost and not self._closing:
                log.warning(
                    "the extraction server ended (%s) holding %d page(s)",
                    _ended(process.returncode),
                    len(lost),
                )


def _ended(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {-code}"
    return f"exit {code}"
