"""The web application: the console, the API and the probes in one Starlette app.

``monitor run`` serves it when ``[web] listen`` is set, ``monitor web`` serves it alone
(for installations that run ``run --once`` from a timer). See the README, "Web console
and API".
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from monitor.web import api, ops, pages
from monitor.web.auth import Guard, GuardMiddleware
from monitor.web.context import WebContext

log = logging.getLogger("monitor.web")
STATIC = Path(__file__).parent / "static"


def make_app(context: WebContext) -> Starlette:
    guard = Guard(context.token)
    routes = [
        *ops.routes(context),
        *api.routes(context),
        *pages.routes(context, guard),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(GuardMiddleware, guard=guard)],
        exception_handlers={Exception: _internal},
    )


async def _internal(request: Request, error: Exception) -> Response:
    # The log gets the traceback; the client only that something failed (it may be anyone
    # who reaches the port).
    log.error("web: %s %s failed", request.method, request.url.path, exc_info=error)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": {"message": "internal error (see the log)"}}, 500)
    return PlainTextResponse("internal error (see the log)", 500)
