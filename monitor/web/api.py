"""The JSON API, ``/api/v1/…`` (the README shows each call with its answer).

Rules and feeds are read from and written to ``config.toml`` (:mod:`monitor.config.editing`):
a write may name the file's version it was made on in ``If-Match`` (the ``version`` every
read returns) and is refused with 409 when the file changed since; a change that would not
start is refused with 400 and every problem, one line each, naming the key. Errors are
``{"error": {"message": …}}`` (plus ``position`` for a bad query, ``problems`` for a bad
configuration).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from alerts.channels import Channels
from alerts.outbox.commands import request_retry
from alerts.outbox.folds import STATES
from alerts.outbox.queries import list_deliveries
from monitor.app.preflight import preflight
from monitor.app.status import gather_status, load_heartbeat
from monitor.app.subscriptions import add_feed, find_feeds
from monitor.config import editing
from monitor.errors import ConfigError, MonitorError, QueryError, SourceError, UsageError
from monitor.search.preview import CONSOLE_BUDGET, Preview
from monitor.web.context import WebContext

MAX_LIMIT = 500


def preview_json(result: Preview) -> dict[str, Any]:
    return {
        "total": result.total,
        "exact": result.exact,
        "candidates": result.candidates,
        "languages": result.languages,
        "sources": result.sources,
        "matches": [
            {
                "document_id": document.document_id,
                "title": document.title,
                "url": document.url,
                "published": document.published.value,
                "language": document.language,
                "source": document.source,
                "snippets": [
                    {"field": s["field"], "text": s["text"], "highlights": s["highlights"]}
                    for s in match.snippets
                ],
            }
            for document, match in result.matches
        ],
        "elapsed_ms": result.elapsed_ms,
    }


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"message": message, **extra}}, status_code=status)


def failure(problem: Exception) -> JSONResponse:
    """The answer for what an edit or a call can raise."""
    if isinstance(problem, QueryError):
        return error(400, str(problem), position=problem.position)
    if isinstance(problem, ConfigError):
        return error(400, problem.problems[0], problems=problem.problems)
    if isinstance(problem, editing.ConfigConflict):
        return error(409, str(problem))
    if isinstance(problem, editing.NotFound):
        return error(404, str(problem))
    if isinstance(problem, UsageError | SourceError):
        return error(422, str(problem))
    return error(500, str(problem))


def routes(context: WebContext) -> list[Route]:
    def preview(request: Request) -> Response:
        query = request.query_params.get("q", "")
        try:
            limit = min(int(request.query_params.get("limit", "20")), MAX_LIMIT)
        except ValueError:
            return error(400, "limit: not a number")
        budget = None if request.query_params.get("exact") == "true" else CONSOLE_BUDGET
        try:
            result = context.searcher().preview(query, limit=max(limit, 1), budget=budget)
        except QueryError as problem:
            return failure(problem)
        return JSONResponse(preview_json(result))

    def rules_list(request: Request) -> Response:
        snapshot = context.snapshot
        rules = [_rule(rule) for rule in snapshot.settings.rules]
        return JSONResponse({"version": snapshot.version, "rules": rules})

    async def rules_create(request: Request) -> Response:
        body = await _json(request)
        if isinstance(body, Response):
            return body
        return await _edit(
            request,
            lambda: editing.add("rules", editing.rule_fields(body)),
            lambda s: _named(s.settings.rules, body.get("name")),
            201,
        )

    def rule_get(request: Request) -> Response:
        snapshot = context.snapshot
        found = _named(snapshot.settings.rules, request.path_params["name"])
        if found is None:
            return error(404, f"no rule named {request.path_params['name']!r}")
        return JSONResponse({"version": snapshot.version, "rule": found})

    async def rule_put(request: Request) -> Response:
        name = request.path_params["name"]
        body = await _json(request)
        if isinstance(body, Response):
            return body

        def change() -> Callable[[Any], None]:
            fields = editing.rule_fields({"name": name, **body})
            # PUT replaces: the keys it does not give are removed (their defaults apply).
            return editing.update(
                "rules", name, {key: fields.get(key) for key in editing.RULE_KEYS}
            )

        new_name = body.get("name", name)
        return await _edit(request, change, lambda s: _named(s.settings.rules, new_name), 200)

    async def rule_delete(request: Request) -> Response:
        name = request.path_params["name"]
        return await _edit(request, lambda: editing.remove("rules", name), lambda s: None, 204)

    async def _edit(
        request: Request,
        make: Callable[[], Callable[[Any], None]],
        result: Callable[[editing.Snapshot], Any],
        status: int,
    ) -> Response:
        version = request.headers.get("if-match", "").strip('"') or None

        def work() -> Response:
            try:
                snapshot = editing.edit(context.config_file, version, make(), preflight)
            except (MonitorError, ValueError) as problem:
                return failure(problem)
            context.edited(snapshot)
            if status == 204:
                return Response(status_code=204, headers={"ETag": f'"{snapshot.version}"'})
            document = {"version": snapshot.version, "rule": result(snapshot)}
            return JSONResponse(document, status_code=status)

        return await asyncio.to_thread(work)

    def feeds_list(request: Request) -> Response:
        snapshot = context.snapshot
        settings = snapshot.settings
        heartbeat = load_heartbeat(settings.path(settings.daemon.heartbeat))
        report = gather_status(
            context.recorder.store, settings, datetime.now(UTC), heartbeat=heartbeat
        )
        feeds = [_feed(status) for status in report.feeds]
        return JSONResponse({"version": snapshot.version, "feeds": feeds})

    async def feeds_create(request: Request) -> Response:
        body = await _json(request)
        if isinstance(body, Response):
            return body
        url = body.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return error(400, "url: an http:// or https:// address is needed")
        settings = context.settings
        try:
            # A page address from the console is not the operator's config: the outbound
            # address policy applies ([fetch] allow_private_networks lifts it).
            found = await find_feeds(settings, url, trusted=False)
            version = request.headers.get("if-match", "").strip('"') or None
            added = await asyncio.to_thread(
                add_feed,
                context.config_file,
                settings,
                found,
                pick=int(body.get("pick", 1)) - 1,
                name=body.get("name"),
                version=version,
            )
        except (MonitorError, ValueError) as problem:
            return failure(problem)
        context.edited(editing.read(context.config_file))
        return JSONResponse(
            {
                "feed": {"name": added.name, "url": added.url, "title": added.title},
                "others": [asdict(other) for other in added.others],
            },
            status_code=201,
        )

    def deliveries(request: Request) -> Response:
        state = request.query_params.get("state")
        if state is not None and state not in STATES:
            return error(400, f"state: one of {', '.join(STATES)}")
        limit = min(int(request.query_params.get("limit", "50") or 50), MAX_LIMIT)
        with context.recorder.store.reading() as conn:
            records = list_deliveries(conn, state=state, limit=limit)
        return JSONResponse({"deliveries": [_plain(asdict(r)) for r in records]})

    def retry(request: Request) -> Response:
        settings = context.settings
        try:
            preflight(settings, str(context.config_file))
            record, attempts = request_retry(
                context.recorder, Channels.of(settings), request.path_params["digest_id"]
            )
        except MonitorError as problem:
            return failure(problem)
        outcome = attempts[0].outcome if attempts else None
        return JSONResponse(
            {
                "digest_id": record.digest_id,
                "channel": record.channel,
                "attempted": bool(attempts),
                "delivered": bool(outcome and outcome.ok),
                "error": None
                if outcome is None or outcome.ok
                else f"{outcome.category}: {outcome.message}",
            }
        )

    return [
        Route("/api/v1/preview", preview, methods=["GET"]),
        Route("/api/v1/rules", rules_list, methods=["GET"]),
        Route("/api/v1/rules", rules_create, methods=["POST"]),
        Route("/api/v1/rules/{name}", rule_get, methods=["GET"]),
        Route("/api/v1/rules/{name}", rule_put, methods=["PUT"]),
        Route("/api/v1/rules/{name}", rule_delete, methods=["DELETE"]),
        Route("/api/v1/feeds", feeds_list, methods=["GET"]),
        Route("/api/v1/feeds", feeds_create, methods=["POST"]),
        Route("/api/v1/deliveries", deliveries, methods=["GET"]),
        Route("/api/v1/deliveries/{digest_id}/retry", retry, methods=["POST"]),
    ]


async def _json(request: Request) -> dict[str, Any] | Response:
    try:
        body = await request.json()
    except ValueError:
        return error(400, "the body is not JSON")
    if not isinstance(body, dict):
        return error(400, "the body must be a JSON object")
    return body


def _rule(rule: Any) -> dict[str, Any]:
    return {
        "name": rule.name,
        "query": rule.query,
        "channels": list(rule.channels),
        "schedule": rule.schedule,
        "enabled": rule.enabled,
    }


def _named(rules: Any, name: Any) -> dict[str, Any] | None:
    return next((_rule(r) for r in rules if r.name == name), None)


def _feed(status: Any) -> dict[str, Any]:
    return _plain(
        {
            "name": status.name,
            "url": status.url,
            "enabled": status.enabled,
            "interval": status.interval,
            "health": status.health,
            "last_polled_at": status.last_polled_at,
            "last_outcome": status.last_outcome,
            "last_success_at": status.last_success_at,
            "consecutive_failures": status.consecutive_failures,
            "last_error": status.last_error_message,
            "last_error_category": status.last_error_category,
            "backoff": status.backoff,
            "next_poll_at": status.next_poll_at,
            "documents": status.documents,
        }
    )


def _plain(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in document.items()}
