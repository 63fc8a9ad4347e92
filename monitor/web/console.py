"""What every page of the console shares: rendering, checked forms, and how times read."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from monitor.web.auth import CSRF_FIELD, Guard
from monitor.web.context import WebContext

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class Console:
    """What every page shares: the context, the guard, rendering, checked forms."""

    def __init__(self, context: WebContext, guard: Guard) -> None:
        self.context = context
        self.guard = guard

    def page(self, request: Request, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        values.setdefault("notice", request.query_params.get("notice"))
        values = {"csrf": self.guard.csrf_token(request), "when": when, "span": span, **values}
        return TEMPLATES.TemplateResponse(request, name, values, status_code=status)

    async def form(self, request: Request) -> tuple[dict[str, Any], Response | None]:
        data = await request.form()
        values: dict[str, Any] = {
            k: data.getlist(k) if k == "channels" else data.get(k) for k in data
        }
        if not self.guard.csrf_valid(request, str(values.get(CSRF_FIELD) or "")):
            return values, HTMLResponse(
                "the form's CSRF token is missing or wrong: reload the page", 403
            )
        return values, None


def quote_notice(text: str) -> str:
    return quote(text, safe="")


def when(stamp: datetime | None) -> str:
    if stamp is None:
        return "never"
    return f"{stamp.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def span(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
