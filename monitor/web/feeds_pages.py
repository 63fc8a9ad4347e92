"""The feeds pages: health of each feed, its latest documents, add by address, OPML."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from monitor.app.status import gather_status, load_heartbeat
from monitor.app.subscriptions import add_feed, export_opml, find_feeds, import_opml
from monitor.config import editing
from monitor.errors import ConfigError, MonitorError
from monitor.readmodels.documents import documents_in_order, newest_ids
from monitor.web.auth import CSRF_FIELD
from monitor.web.console import Console, quote_notice
from monitor.web.context import WebContext

LATEST = 30  # documents shown on a feed's page


def routes(console: Console) -> list[Route]:
    context, guard, page, form = console.context, console.guard, console.page, console.form

    def feeds_page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        snapshot = context.snapshot
        settings = snapshot.settings
        heartbeat = load_heartbeat(settings.path(settings.daemon.heartbeat))
        report = gather_status(
            context.recorder.store, settings, datetime.now(UTC), heartbeat=heartbeat
        )
        return page(
            request,
            "feeds.html",
            status,
            active="Feeds",
            feeds=report.feeds,
            version=snapshot.version,
            **values,
        )

    def feeds_index(request: Request) -> Response:
        return feeds_page(request)

    async def feeds_discover(request: Request) -> Response:
        values, refused = await form(request)
        if refused is not None:
            return refused
        url = str(values.get("url") or "").strip()
        try:
            found = await find_feeds(context.settings, url, trusted=False)
        except MonitorError as problem:
            return feeds_page(request, 422, problems=[str(problem)], url=url)
        return feeds_page(request, url=url, found=found)

    async def feeds_add(request: Request) -> Response:
        values, refused = await form(request)
        if refused is not None:
            return refused
        url = str(values.get("url") or "").strip()
        settings = context.settings
        try:
            found = await find_feeds(settings, url, trusted=False)
            added = await asyncio.to_thread(
                add_feed,
                context.config_file,
                settings,
                found,
                pick=int(str(values.get("pick") or "1")) - 1,
                name=str(values.get("name") or "").strip() or None,
                version=str(values.get("version") or "") or None,
            )
        except (MonitorError, ValueError) as problem:
            lines = problem.problems if isinstance(problem, ConfigError) else [str(problem)]
            return feeds_page(request, 422, problems=lines, url=url)
        context.edited(editing.read(context.config_file))
        return RedirectResponse(
            f"/feeds?notice={quote_notice(f'added feed {added.name!r}: {added.url}')}",
            status_code=303,
        )

    async def feeds_import(request: Request) -> Response:
        data = await request.form()
        if not guard.csrf_valid(request, str(data.get(CSRF_FIELD) or "")):
            return HTMLResponse("the form's CSRF token is missing or wrong: reload the page", 403)
        upload = data.get("opml")
        if upload is None or isinstance(upload, str):
            return feeds_page(request, 400, problems=["choose an OPML file"])
        content = await upload.read()
        try:
            report = await asyncio.to_thread(
                import_opml,
                context.config_file,
                context.settings,
                content,
                version=str(data.get("version") or "") or None,
            )
        except MonitorError as problem:
            lines = problem.problems if isinstance(problem, ConfigError) else [str(problem)]
            return feeds_page(request, 422, problems=lines)
        context.edited(editing.read(context.config_file))
        notice = f"imported {len(report.added)} feed(s); {len(report.already)} already configured"
        return RedirectResponse(f"/feeds?notice={quote_notice(notice)}", status_code=303)

    def feeds_opml(request: Request) -> Response:
        headers = {"Content-Disposition": 'attachment; filename="feeds.opml"'}
        return Response(export_opml(context.settings), media_type="text/x-opml", headers=headers)

    def feed_detail(request: Request) -> Response:
        name = request.path_params["name"]
        settings = context.settings
        report = gather_status(context.recorder.store, settings, datetime.now(UTC))
        feed = next((f for f in report.feeds if f.name == name), None)
        if feed is None:
            return feeds_page(request, 404, problems=[f"no feed named {name!r}"])
        documents = _latest(context, name)
        return page(request, "feed.html", active="Feeds", feed=feed, documents=documents)

    return [
        Route("/feeds", feeds_index),
        Route("/feeds.opml", feeds_opml),
        Route("/feeds/discover", feeds_discover, methods=["POST"]),
        Route("/feeds/add", feeds_add, methods=["POST"]),
        Route("/feeds/import", feeds_import, methods=["POST"]),
        Route("/feeds/{name}", feed_detail),
    ]


def _latest(context: WebContext, source: str) -> list[Any]:
    with context.recorder.store.reading() as conn:
        return documents_in_order(conn, newest_ids(conn, source=source, limit=LATEST))
