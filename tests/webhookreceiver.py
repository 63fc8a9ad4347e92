"""A real webhook receiver on 127.0.0.1 for tests: scripted answers, every request recorded.

    with WebhookReceiver([Respond(500), Hang(5)], default=Respond(200), secret=key) as receiver:
        outcome = await send_webhook(client, receiver.url, message, secret=key, timeout=1)
        [first] = receiver.wait_for(1)
        assert first.verified and first.headers["webhook-id"] == message.digest_id

Each request, in the order they arrive, takes the next action of the script;
once the script is used up every request gets ``default``. Any method and any
path are accepted (:attr:`WebhookReceiver.url` is just a convenient one).
Given a secret, each request records whether its Standard Webhooks signature
verified. The server is a ThreadingHTTPServer with a deep accept backlog and
no request logging, so a benchmark can throw a thousand requests at it at once.
Every wait in here is bounded, and closing the receiver ends them at once:
hanging and dripping answers stop, open keep-alive connections are shut.
Given an ``ssl.SSLContext`` (from trustme, say) it speaks HTTPS instead.
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from alerts.signing import verify

# Longest any answer waits; a stuck test still ends, and closing the receiver ends it sooner.
MAX_WAIT = 30.0
# Requests with bigger bodies get 413: a runaway sender must not fill the test's memory.
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class Respond:
    """Answer at once."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hang:
    """Wait ``seconds`` (at most MAX_WAIT, less if the receiver closes), then answer ``then``."""

    seconds: float
    then: Respond = field(default_factory=Respond)


@dataclass(frozen=True)
class Drip:
    """Send the status and headers at once, then a chunked body of ``chunks`` slow chunks."""

    status: int = 200
    chunk: bytes = b"."
    interval: float = 0.1
    chunks: int = 100
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Drop:
    """Read the request, then close the connection without a word."""


Action = Respond | Hang | Drip | Drop


@dataclass(frozen=True)
class Received:
    at: float  # time.time() when the whole request had arrived
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-cased names
    body: bytes
    verified: bool | None  # None when the receiver has no secret
    client_port: int  # the same on every request of one kept-alive connection


class WebhookReceiver:
    def __init__(
        self,
        script: Iterable[Action] = (),
        *,
        default: Action | None = None,
        secret: bytes | None = None,
        path: str = "/hook",
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.stopping = threading.Event()
        self.secret = secret
        self.path = path
        self._script = list(script)
        self._default = default if default is not None else Respond()
        self._requests: list[Received] = []
        self._arrived = threading.Condition()
        self._connections: set[socket.socket] = set()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.receiver = self
        self.scheme = "http" if tls is None else "https"
        if tls is not None:
            # The handshake happens in each connection's thread (see _Handler.setup), so a
            # client that stalls or fails it cannot hold up accepting the others.
            self._httpd.socket = tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        # A short poll interval keeps close() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._started = False

    # -- life cycle -----------------------------------------------------------

    def start(self) -> WebhookReceiver:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        if self._started:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        # Handlers idle on keep-alive would otherwise linger until their read timeout.
        with self._arrived:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    # -- where and what -------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return self.url_for(self.path)

    def url_for(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[Received]:
        with self._arrived:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """All requests so far, once there are at least ``count``; AssertionError after timeout."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._requests) >= count, timeout):
                got = len(self._requests)
                raise AssertionError(f"expected {count} requests within {timeout:g} s, got {got}")
            return list(self._requests)

    # -- called from handler threads ------------------------------------------

    def _record(self, request: Received) -> Action:
        with self._arrived:
            self._requests.append(request)
            self._arrived.notify_all()
            return self._script.pop(0) if self._script else self._default

    def _opened(self, connection: socket.socket) -> None:
        with self._arrived:
            self._connections.add(connection)

    def _closed(self, connection: socket.socket) -> None:
        with self._arrived:
            self._connections.discard(connection)


class _Incomplete(Exception):
    """The connection ended before the whole request had arrived."""


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog: the default of 5 drops connections when a benchmark opens hundreds.
    request_queue_size = 1024
    receiver: WebhookReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A sender that gives up mid-answer (a timeout test) is expected, not an error.
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end on their own
    # Headers and body go out in separate writes; with Nagle on, each answer waits ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(self.timeout)
            self.request.do_handshake()
        super().setup()
        self.server.receiver._opened(self.connection)

    def finish(self) -> None:
        self.server.receiver._closed(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def do_POST(self) -> None:
        receiver = self.server.receiver
        try:
            body = self._read_body()
        except _Incomplete:
            # The sender went away mid-request (a worker killed while sending): nothing was
            # delivered, as for any HTTP server, and nothing is recorded.
            self.close_connection = True
            return
        if body is None:
            self._answer(Respond(status=413))
            self.close_connection = True
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        at = time.time()
        verified = (
            None if receiver.secret is None else verify(receiver.secret, headers, body, now=at)
        )
        request = Received(
            at, self.command, self.path, headers, body, verified, self.client_address[1]
        )
        self._perform(receiver._record(request))

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _read_body(self) -> bytes | None:
        """The request body, or None when it is over MAX_BODY."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self._read(length) if length <= MAX_BODY else None

    def _read_chunked(self) -> bytes | None:
        body = bytearray()
        while len(body) <= MAX_BODY:
            size = int(self._line().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self._line().strip():  # trailers, up to the blank line
                    pass
                return bytes(body)
            body += self._read(size)
            self._line()  # the CRLF after each chunk
        return None

    def _read(self, size: int) -> bytes:
        data = self.rfile.read(size)
        if len(data) < size:
            raise _Incomplete
        return data

    def _line(self) -> bytes:
        line = self.rfile.readline(1024)
        if not line.endswith(b"\n"):
            raise _Incomplete
        return line

    def _perform(self, action: Action) -> None:
        stopping = self.server.receiver.stopping
        if isinstance(action, Hang):
            if stopping.wait(min(action.seconds, MAX_WAIT)):
                self.close_connection = True
                return
            action = action.then
        if isinstance(action, Respond):
            self._answer(action)
        elif isinstance(action, Drip):
            self._drip(action, stopping)
        else:
            self.close_connection = True

    def _answer(self, respond: Respond) -> None:
        self.send_response(respond.status)
        for name, value in respond.headers.items():
            self.send_header(name, value)
        if respond.status not in (204, 304) and respond.status >= 200:
            self.send_header("Content-Length", str(len(respond.body)))
        self.end_headers()
        if respond.body:
            self.wfile.write(respond.body)

    def _drip(self, drip: Drip, stopping: threading.Event) -> None:
        self.send_response(drip.status)
        for name, value in drip.headers.items():
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for _ in range(drip.chunks):
            if stopping.wait(min(drip.interval, MAX_WAIT)):
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(drip.chunk), drip.chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass
