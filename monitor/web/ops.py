"""The operators' probes and metrics: ``/healthz``, ``/readyz``, ``/metrics``.

They answer without the console's token (a prober has none) and say nothing secret. A
health check that cannot tell is a failing check: 503, never a 500. Only the error's type
goes out (the server may listen beyond loopback); the log has the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.app.health import Health, HealthCheck
from monitor.web.context import WebContext

log = logging.getLogger("monitor.web")
NO_STORE = {"Cache-Control": "no-store"}


def routes(context: WebContext) -> list[Route]:
    # Plain functions: Starlette runs them in its thread pool, and the checks and the store
    # gauges read the database.
    def healthz(request: Request) -> Response:
        return _probe(context.health, lambda h: h.alive, failing="unhealthy")

    def readyz(request: Request) -> Response:
        return _probe(context.health, lambda h: h.ready, failing="not ready")

    def scrape(request: Request) -> Response:
        payload, content_type = context.metrics.render()
        return Response(payload, headers={**NO_STORE, "Content-Type": content_type})

    methods = ["GET", "HEAD"]
    return [
        Route("/healthz", healthz, methods=methods),
        Route("/readyz", readyz, methods=methods),
        Route("/metrics", scrape, methods=methods),
    ]


def _probe(check: HealthCheck, passes: Callable[[Health], bool], *, failing: str) -> Response:
    try:
        health = check()
    except Exception as error:
        log.warning("web: the health check failed", exc_info=True)
        document = {"status": failing, "error": f"health check raised {type(error).__name__}"}
        return JSONResponse(document, status_code=503, headers=NO_STORE)
    ok = passes(health)
    # "status" comes first, and a detail of the same name cannot override it.
    detail = {k: _plain(v) for k, v in health.detail.items() if k != "status"}
    document = {"status": "ok" if ok else failing} | detail
    return JSONResponse(document, status_code=200 if ok else 503, headers=NO_STORE)


def _plain(value: Any) -> Any:
    # Details hold datetimes and the like; a probe must not fail on them.
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)
