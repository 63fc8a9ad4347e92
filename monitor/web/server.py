"""Serving the web application: a socket we bind ourselves, uvicorn in a thread of its own.

The daemon's loop never waits on a web request: uvicorn runs its own loop in a daemon
thread (it installs no signal handler there; the process's owner keeps those), and a
request that reads the database or previews a query runs in that loop's thread pool. The
socket is bound before the thread starts, so an address in use is one clear error at
start-up, and port 0 picks a free port that :attr:`WebServer.url` then tells.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from monitor.errors import MonitorError
from monitor.web.exposure import split_listen

log = logging.getLogger("monitor.web")

# How long close() waits for requests in flight before the thread is left to die with us.
CLOSE_WAIT = 5.0


class WebServer:
    def __init__(self, app: ASGIApp, listen: str, key: str = "[web] listen") -> None:
        self.app = app
        self.listen = listen
        self.key = key
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    def start(self) -> None:
        """Bind and serve; raises :class:`MonitorError` naming the address when it cannot."""
        host, port = split_listen(self.listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(128)
        except (OSError, OverflowError) as error:
            sock.close()
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise MonitorError(
                f"{self.key} = {self.listen!r}: cannot listen there: {reason}"
            ) from None
        sock.setblocking(False)
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            server_header=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"web {self.listen}", daemon=True)
        self._thread.start()
        log.info("web console and API on %s", self.url)

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except Exception:
            log.exception("the web server stopped")

    def close(self) -> None:
        """Stop accepting, let requests in flight finish for up to :data:`CLOSE_WAIT` s."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=CLOSE_WAIT)
        if sock is not None:
            sock.close()

    @property
    def port(self) -> int:
        if self._socket is None:
            raise MonitorError(f"the web server on {self.listen} is not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        host, _ = split_listen(self.listen)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
