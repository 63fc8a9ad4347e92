"""The rule editor: the form, its live preview, why and why not, and search."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from alerts.rendering import mark_html
from monitor.app.backfill import backfill
from monitor.app.preflight import preflight
from monitor.config import editing
from monitor.errors import ConfigError, MonitorError, QueryError
from monitor.readmodels.documents import stored_documents
from monitor.rules.analysis import analyse
from monitor.rules.explain import explain
from monitor.search.preview import CONSOLE_BUDGET
from monitor.web.console import Console, quote_notice


def routes(console: Console) -> list[Route]:
    context, page, form = console.context, console.page, console.form

    def rules_page(request: Request, status: int = 200, **values: Any) -> HTMLResponse:
        snapshot = context.snapshot
        settings = snapshot.settings
        return page(
            request,
            "rules.html",
            status,
            active="Rules",
            rules=settings.rules,
            channels=[c.name for c in settings.channels],
            version=values.pop("version", snapshot.version),
            form=values.pop("form", _blank(settings)),
            original=values.pop("original", None),
            **values,
        )

    def rules_index(request: Request) -> Response:
        return rules_page(request)

    def rule_edit(request: Request) -> Response:
        name = request.path_params["name"]
        rule = next((r for r in context.settings.rules if r.name == name), None)
        if rule is None:
            return rules_page(request, 404, problems=[f"no rule named {name!r}"])
        form = {
            "name": rule.name,
            "query": rule.query,
            "channels": list(rule.channels),
            "schedule": rule.schedule,
            "enabled": rule.enabled,
        }
        return rules_page(request, form=form, original=name)

    async def rule_save(request: Request) -> Response:
        values, refused = await form(request)
        if refused is not None:
            return refused
        original: str | None = request.path_params.get("name")
        name = str(values.get("name") or "").strip()
        fields: dict[str, Any] = {
            "name": name,
            "query": str(values.get("q") or "").strip(),
            "channels": list(values.get("channels") or []),
            "schedule": str(values.get("schedule") or "immediate").strip(),
            "enabled": values.get("enabled") == "true",
        }
        version = str(values.get("version") or "") or None
        change = (
            editing.update(
                "rules", original, {**fields, "enabled": None if fields["enabled"] else False}
            )
            if original
            else editing.add("rules", {**fields, "enabled": None if fields["enabled"] else False})
        )
        try:
            snapshot = await asyncio.to_thread(
                editing.edit, context.config_file, version, change, preflight
            )
        except (ConfigError, editing.ConfigConflict, editing.NotFound) as problem:
            lines = problem.problems if isinstance(problem, ConfigError) else [str(problem)]
            status = 409 if isinstance(problem, editing.ConfigConflict) else 400
            return rules_page(request, status, problems=lines, form=fields, original=original)
        context.edited(snapshot)
        notice = f"saved rule {name!r} in {context.config_file.name}"
        if values.get("backfill") == "true":
            report = await asyncio.to_thread(backfill, context.recorder, snapshot.settings, name)
            notice += f"; {report.matched} stored document(s) matched (backfill)"
        return RedirectResponse(f"/rules?notice={quote_notice(notice)}", status_code=303)

    async def rule_delete(request: Request) -> Response:
        values, refused = await form(request)
        if refused is not None:
            return refused
        name = str(request.path_params["name"])
        version = str(values.get("version") or "") or None
        try:
            snapshot = await asyncio.to_thread(
                editing.edit, context.config_file, version, editing.remove("rules", name), preflight
            )
        except MonitorError as problem:
            lines = problem.problems if isinstance(problem, ConfigError) else [str(problem)]
            return rules_page(request, 409, problems=lines)
        context.edited(snapshot)
        return RedirectResponse(
            f"/rules?notice={quote_notice(f'deleted rule {name!r}')}", status_code=303
        )

    def preview(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        limit = 50 if request.query_params.get("limit") == "50" else 20
        if not query:
            return page(
                request, "preview.html", query=query, result=None, problem=None, position=None
            )
        try:
            result = context.searcher().preview(query, limit=limit, budget=CONSOLE_BUDGET)
        except QueryError as problem:
            return page(
                request,
                "preview.html",
                query=query,
                problem=str(problem),
                position=problem.position,
                result=None,
            )
        items = [
            {"document": document, "snippets": [mark_html(s) for s in match.snippets]}
            for document, match in result.matches
        ]
        return page(
            request,
            "preview.html",
            query=query,
            result=result,
            items=items,
            problem=None,
            position=None,
        )

    def why(request: Request) -> Response:
        query = request.query_params.get("q", "")
        document_id = request.query_params.get("document", "").strip()
        searcher = context.searcher()
        try:
            compiled = searcher.compile(query)
        except QueryError as problem:
            return page(request, "why.html", problem=f"bad query: {problem}", lines=[])
        with context.recorder.store.reading() as conn:
            found = list(stored_documents(conn, ids=[document_id]))
        if not found:
            return page(
                request, "why.html", problem=f"no stored document with id {document_id!r}", lines=[]
            )
        document = found[0]
        doc = analyse(document.title, document.text, document.language, searcher.lexicon)
        lines = [
            f"{document.document_id} ({document.source}): {document.title}",
            *explain(compiled, doc),
        ]
        return page(request, "why.html", problem=None, lines=lines)

    def search(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        values: dict[str, Any] = {"query": query, "result": None, "problem": None, "position": None}
        if query:
            try:
                result = context.searcher().preview(query, limit=50, budget=CONSOLE_BUDGET)
                values["result"] = result
                values["items"] = [
                    {"document": d, "snippets": [mark_html(s) for s in m.snippets]}
                    for d, m in result.matches
                ]
            except QueryError as problem:
                values.update(problem=str(problem), position=problem.position)
        return page(request, "search.html", active="Search", **values)

    return [
        Route("/rules", rules_index, methods=["GET"]),
        Route("/rules", rule_save, methods=["POST"]),
        Route("/rules/{name}", rule_edit, methods=["GET"]),
        Route("/rules/{name}", rule_save, methods=["POST"]),
        Route("/rules/{name}/delete", rule_delete, methods=["POST"]),
        Route("/console/preview", preview),
        Route("/console/why", why),
        Route("/search", search),
    ]


def _blank(settings: Any) -> dict[str, Any]:
    channels = [c.name for c in settings.channels]
    return {
        "name": "",
        "query": "",
        "channels": channels[:1],
        "schedule": "immediate",
        "enabled": True,
    }
