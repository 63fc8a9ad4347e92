"""The digests pages: each digest as sent, its delivery, retry; the dead letters."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from alerts.channels import Channels
from alerts.outbox.commands import request_retry
from alerts.outbox.queries import find_digest, list_deliveries
from monitor.app.preflight import preflight
from monitor.errors import MonitorError
from monitor.eventlog.log import EventLog
from monitor.web.console import Console, quote_notice


def routes(console: Console) -> list[Route]:
    context, page, form = console.context, console.page, console.form

    def digests(request: Request) -> Response:
        state = request.query_params.get("state")
        with context.recorder.store.reading() as conn:
            records = list_deliveries(conn, state=state if state else None, limit=100)
        label = "Dead letters" if state == "abandoned" else "Digests"
        return page(request, "digests.html", active=label, records=records, state=state)

    def digest(request: Request) -> Response:
        with context.recorder.store.reading() as conn:
            try:
                record = find_digest(conn, request.path_params["digest_id"])
            except MonitorError as problem:
                return HTMLResponse(str(problem), 404)
            event = next(EventLog().read(conn, after=record.assembled_seq - 1, limit=1))
        parts = dict(event.data.get("message", {}).get("parts", {}))
        html = parts.get("html") or next(
            (
                v
                for v in parts.values()
                if v.lstrip()[:15].lower().startswith(("<!doctype", "<html"))
            ),
            None,
        )
        text = (
            parts.get("text")
            or parts.get("markdown")
            or parts.get("file")
            or parts.get("body")
            or ""
        )
        subject = event.data.get("message", {}).get("subject", record.subject)
        return page(
            request,
            "digest.html",
            active="Digests",
            record=record,
            html=html,
            text=text,
            subject=subject,
        )

    async def retry(request: Request) -> Response:
        _, refused = await form(request)
        if refused is not None:
            return refused
        settings = context.settings

        def work() -> str:
            preflight(settings, str(context.config_file))
            record, attempts = request_retry(
                context.recorder, Channels.of(settings), request.path_params["digest_id"]
            )
            if not attempts:
                return f"digest {record.digest_id[:8]}: retry recorded"
            outcome = attempts[0].outcome
            if outcome.ok:
                return f"digest {record.digest_id[:8]} delivered to {record.channel}"
            return (
                f"digest {record.digest_id[:8]} failed again: {outcome.category}: {outcome.message}"
            )

        try:
            notice = await asyncio.to_thread(work)
        except MonitorError as problem:
            notice = str(problem)
        return RedirectResponse(f"/digests?notice={quote_notice(notice)}", status_code=303)

    return [
        Route("/digests", digests),
        Route("/digests/{digest_id}", digest),
        Route("/digests/{digest_id}/retry", retry, methods=["POST"]),
    ]
