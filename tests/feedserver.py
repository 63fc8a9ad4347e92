"""A real HTTP/1.1 server on 127.0.0.1 for tests that need a peer, not a mock.

    with FeedServer() as server:
        server.static("/feed.xml", b"<rss .../>", headers={"Content-Type": "application/rss+xml"})
        server.route("/dyn", lambda request: Reply(status=500))
        fetch(server.url("/feed.xml"))
        server.requests_for("/feed.xml")[0].headers["user-agent"]

A route is a callable taking the :class:`Request` and returning a
:class:`Reply`, or ``None`` to drop the connection without answering. A reply
body that is an iterable of chunks is streamed with chunked encoding; ``raw``
bytes are written to the socket as they are (for broken HTTP). Routes that
wait or stream check :attr:`FeedServer.stopping`, so closing the server ends
them at once; every loop in here is bounded.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

# Longest any route waits; a stuck test still ends, and closing the server ends it sooner.
MAX_WAIT = 30.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-cased names
    client_port: int  # the same on every request of one kept-alive connection


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # written instead of a response


Route = Callable[[Request], Reply | None]


class FeedServer:
    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._routes: dict[str, Route] = {}
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.feed_server = self
        # A short poll interval keeps close() (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # -- routes ---------------------------------------------------------------

    def route(self, path: str, route: Route) -> None:
        self._routes[path] = route

    def static(
        self,
        path: str,
        body: bytes = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        reply = Reply(status=status, body=body, headers=dict(headers or {}))
        self.route(path, lambda _request: reply)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.static(path, status=status, headers={"Location": location})

    def conditional(
        self,
        path: str,
        body: bytes,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        content_type: str = "application/rss+xml",
    ) -> None:
        """200 with validators, or 304 when the request's validators match (ETag first)."""
        validators = {"ETag": etag or "", "Last-Modified": last_modified or ""}
        validators = {name: value for name, value in validators.items() if value}

        def respond(request: Request) -> Reply:
            if "if-none-match" in request.headers:
                fresh = etag is not None and request.headers["if-none-match"] == etag
            else:
                since = request.headers.get("if-modified-since")
                fresh = last_modified is not None and since == last_modified
            if fresh:
                return Reply(status=304, headers=validators)
            return Reply(body=body, headers={**validators, "Content-Type": content_type})

        self.route(path, respond)

    def hang(self, path: str) -> None:
        """Accept the request and never answer (until the server closes)."""

        def respond(_request: Request) -> None:
            self.stopping.wait(MAX_WAIT)

        self.route(path, respond)

    def drip(self, path: str, chunk: bytes = b"<item>", interval: float = 0.05) -> None:
        """An endless chunked body, one small chunk every ``interval`` seconds."""

        def chunks() -> Iterator[bytes]:
            for _ in range(int(MAX_WAIT / interval)):
                if self.stopping.wait(interval):
                    return
                yield chunk

        self.route(
            path, lambda _request: Reply(body=chunks(), headers={"Content-Type": "text/xml"})
        )

    # -- what was asked -------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    def requests_for(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path.partition("?")[0] == path]

    def _dispatch(self, request: Request) -> Reply | None:
        with self._lock:
            self._requests.append(request)
        route = self._routes.get(request.path.partition("?")[0])
        if route is None:
            return Reply(status=404, body=b"no such route", headers={"Content-Type": "text/plain"})
        return route(request)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    feed_server: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up mid-response is what several tests do on purpose.
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections end on their own
    # Headers and body go out in separate writes; with Nagle on, each response waits ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        request = Request(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            client_port=self.client_address[1],
        )
        reply = self.server.feed_server._dispatch(request)
        if reply is None:
            self.close_connection = True
        elif reply.raw is not None:
            self.wfile.write(reply.raw)
            self.close_connection = True
        else:
            self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        names = {name.lower() for name in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if isinstance(reply.body, bytes):
            if "content-length" not in names and reply.status not in (204, 304):
                self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if reply.status not in (204, 304):
                self.wfile.write(reply.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in reply.body:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format: str, *args: Any) -> None:
        pass
