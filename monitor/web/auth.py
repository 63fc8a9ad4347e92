"""Who may use the console and the API, and proof that a form came from the console.

Without ``MONITOR_WEB_TOKEN`` the server listens on loopback only (start-up refuses
anything else) and everyone who reaches it may use it; requests must name a loopback host
(``Host: 127.0.0.1:8080``), so a web page that rebinds its own name to 127.0.0.1 cannot
drive it. With the token, every API call needs ``Authorization: Bearer <token>``; the
console asks for the token once and keeps a signed session cookie (HttpOnly, SameSite
Strict, valid for :data:`SESSION_DAYS`). Every form and every change the console makes
carries a CSRF token tied to the session; an API call that is not authenticated by the
bearer token must send JSON (``Content-Type: application/json``), which a cross-site form
cannot. The probes (``/healthz``, ``/readyz``, ``/metrics``) need nothing: they say nothing
secret and a prober has no token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from urllib.parse import quote

import itsdangerous
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from monitor.web.exposure import is_loopback

SESSION_COOKIE = "monitor_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
SESSION_DAYS = 30
OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/static/", "/login")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Guard:
    def __init__(self, token: str | None) -> None:
        self.token = token
        # With a token the keys derive from it (sessions survive a restart); without one,
        # from a random secret of this process (nothing to survive).
        secret = (
            hashlib.sha256(b"monitor web:" + token.encode()).digest() if token else os.urandom(32)
        )
        self._signer = itsdangerous.TimestampSigner(secret, salt="monitor session")
        self._csrf = hmac.new(secret, b"csrf", hashlib.sha256).digest()

    def token_matches(self, given: str) -> bool:
        return self.token is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def new_session(self) -> str:
        return self._signer.sign(secrets.token_urlsafe(16)).decode()

    def session(self, request: Request) -> str | None:
        """The session id of a valid cookie, or None."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            return self._signer.unsign(cookie, max_age=SESSION_DAYS * 86400).decode()
        except itsdangerous.BadSignature:
            return None

    def bearer(self, request: Request) -> bool:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.token_matches(given.strip())

    def csrf_token(self, request: Request) -> str:
        owner = self.session(request) or "anonymous"
        return hmac.new(self._csrf, owner.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, request: Request, submitted: str | None) -> bool:
        given = submitted or request.headers.get(CSRF_HEADER, "")
        return bool(given) and hmac.compare_digest(given, self.csrf_token(request))

    def set_session(self, response: Response, request: Request) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.new_session(),
            max_age=SESSION_DAYS * 86400,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )


class GuardMiddleware:
    """Refuses what the rules above refuse, before any route runs."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, request: Request) -> Response | None:
        path = request.url.path
        if path.startswith(OPEN_PATHS[:3]):
            return None
        guard = self.guard
        if guard.token is None and not _loopback_host(request.headers):
            return _error(421, "this server answers to loopback host names only")
        if path.startswith(OPEN_PATHS[3:]):
            return None
        if path.startswith("/api/"):
            if guard.bearer(request):
                return None
            session = guard.session(request)
            if guard.token is not None and session is None:
                return _error(401, "an Authorization: Bearer token is needed", bearer=True)
            if request.method in WRITES:
                json = request.headers.get("content-type", "").startswith("application/json")
                if request.method != "DELETE" and not json:
                    return _error(415, "send JSON (Content-Type: application/json)")
                if session is not None and not guard.csrf_valid(request, None):
                    return _error(403, "the X-CSRF-Token header is missing or wrong")
            return None
        if guard.token is not None and guard.session(request) is None:
            target = quote(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return RedirectResponse(f"/login?next={target}", status_code=303)
        return None


def _loopback_host(headers: Headers) -> bool:
    host = headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]")[0]
    return is_loopback(name)


def _error(status: int, message: str, *, bearer: bool = False) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if bearer else {}
    return JSONResponse({"error": {"message": message}}, status_code=status, headers=headers)
