"""The operators' endpoint of ``monitor run``: /healthz, /readyz and /metrics.

Off unless ``[http] listen`` is set. A standard-library server in a daemon thread is
enough for probes and a scrape every few seconds, and keeps a web framework out of the
daemon. Nothing here can stop the daemon: a failing health check answers 503, a bug in a
handler answers 500, and neither is printed to stderr (the daemon's log gets them).
"""

from __future__ import annotations

import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from monitor.app.metrics import Metrics
from monitor.errors import MonitorError

log = logging.getLogger("monitor.ops_http")

ALLOWED = "GET, HEAD"
# A client that opens a connection and sends nothing holds a thread for at most this long.
REQUEST_TIMEOUT = 10.0
# How often serve_forever looks for a shutdown request: the upper bound of close().
POLL_INTERVAL = 0.1


@dataclass(frozen=True, slots=True)
class Health:
    """What the probes report: alive (do not restart me), ready (send me work), and why."""

    alive: bool
    ready: bool
    detail: dict[str, Any] = field(default_factory=dict)


HealthCheck = Callable[[], Health]
Response = tuple[HTTPStatus, bytes, str]  # status, body, content type


class OpsServer:
    """An HTTP server on ``listen`` ("HOST:PORT"; port 0 picks a free one) in its own thread."""

    def __init__(self, listen: str, metrics: Metrics, health: HealthCheck) -> None:
        self.listen = listen
        self.metrics = metrics
        self.health = health
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve; raises :class:`MonitorError` naming the address when it cannot bind."""
        if self._server is not None:
            return
        self._server = _bind(self.listen, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"ops-http {self.listen}",
            daemon=True,
        )
        self._thread.start()
        log.info("operators' endpoint on %s", self.url)

    def close(self) -> None:
        """Stop accepting, release the port; requests in flight finish on their own threads."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()  # returns within POLL_INTERVAL: it only stops the accept loop
        server.server_close()
        if thread is not None:
            thread.join(timeout=1.0)

    @property
    def port(self) -> int:
        return int(self._bound().server_address[1])

    @property
    def url(self) -> str:
        host = str(self._bound().server_address[0])
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def _bound(self) -> _Server:
        if self._server is None:
            raise MonitorError(f"the operators' endpoint on {self.listen} is not started")
        return self._server

    def __enter__(self) -> OpsServer:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    # Handler threads must not keep the process alive at shutdown, nor make close() wait.
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], ops: OpsServer, family: socket.AddressFamily
    ) -> None:
        self.address_family = family
        self.ops = ops
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host's name up in DNS, which can hang for seconds
        # on a box without a resolver; the name is only used for CGI variables.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # socketserver prints the traceback to stderr; the daemon logs instead.
        log.exception("operators' endpoint: request from %s failed", client_address)


def _bind(listen: str, ops: OpsServer) -> _Server:
    host, _, port_text = listen.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return _Server((host, int(port_text)), ops, family)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise MonitorError(f"[http] listen = {listen!r}: cannot listen there: {reason}") from error


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = REQUEST_TIMEOUT
    server_version = "monitor"
    sys_version = ""

    def do_GET(self) -> None:
        self._route(body=True)

    def do_HEAD(self) -> None:
        self._route(body=False)

    def _not_allowed(self) -> None:
        self._send(*_text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed"), body=True)

    # Methods outside HTTP's usual set get the standard library's 501 (not implemented).
    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _route(self, *, body: bool) -> None:
        path = urlsplit(self.path).path
        try:
            code, payload, content_type = self._respond(path)
        except Exception:
            log.exception("operators' endpoint: %s %s failed", self.command, path)
            code, payload, content_type = _text(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
        self._send(code, payload, content_type, body)

    def _respond(self, path: str) -> Response:
        ops = self.server.ops
        if path == "/healthz":
            return _probe(ops.health, lambda health: health.alive, failing="unhealthy")
        if path == "/readyz":
            return _probe(ops.health, lambda health: health.ready, failing="not ready")
        if path == "/metrics":
            payload, content_type = ops.metrics.render()
            return HTTPStatus.OK, payload, content_type
        return _text(HTTPStatus.NOT_FOUND, "not found")

    def _send(self, code: HTTPStatus, payload: bytes, content_type: str, body: bool) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        if code == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", ALLOWED)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        # The standard library writes every request to stderr; probes every few seconds
        # would drown the daemon's own log.
        log.debug("operators' endpoint: %s " + format, self.address_string(), *args)


def _probe(check: HealthCheck, passes: Callable[[Health], bool], *, failing: str) -> Response:
    try:
        health = check()
    except Exception as error:
        # A check that cannot tell is a failing check: the prober must see 503, not a 500.
        # Only the error's type goes out (the endpoint may listen beyond localhost); the log
        # has the rest.
        log.warning("operators' endpoint: the health check failed", exc_info=True)
        document = {"status": failing, "error": f"health check raised {type(error).__name__}"}
        return _json(HTTPStatus.SERVICE_UNAVAILABLE, document)
    ok = passes(health)
    # "status" comes first, and a detail of the same name cannot override it.
    detail = {k: v for k, v in health.detail.items() if k != "status"}
    document = {"status": "ok" if ok else failing} | detail
    return _json(HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE, document)


def _json(code: HTTPStatus, document: dict[str, Any]) -> Response:
    # default=str: details hold datetimes and the like; a probe must not fail on them.
    payload = json.dumps(document, default=str, ensure_ascii=False).encode() + b"\n"
    return code, payload, "application/json"


def _text(code: HTTPStatus, message: str) -> Response:
    return code, message.encode() + b"\n", "text/plain; charset=utf-8"
