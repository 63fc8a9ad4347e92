"""The console's pages: the rule editor with its live preview, search, feeds, digests.

Plain HTML forms that work without JavaScript, made live with htmx (shipped in
``monitor/web/static``; no CDN, no build step): the query box asks ``/console/preview``
for the preview as the user types. Everything from feeds is escaped by Jinja2's
autoescaping; a digest's HTML is shown in a sandboxed frame. Forms carry the CSRF token
(:mod:`monitor.web.auth`); a change goes through :mod:`monitor.config.editing` like the
API's, so the console shows the same one-line problems a start would print. One module
per part: ``editor``, ``feeds_pages``, ``digests_pages``; here the sign-in.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from monitor.web import digests_pages, editor, feeds_pages
from monitor.web.auth import Guard
from monitor.web.console import Console
from monitor.web.context import WebContext


def routes(context: WebContext, guard: Guard) -> list[Route]:
    console = Console(context, guard)
    page = console.page

    def login_form(request: Request) -> Response:
        return page(request, "login.html", next=request.query_params.get("next", "/rules"))

    async def login(request: Request) -> Response:
        data = await request.form()
        target = str(data.get("next") or "/rules")
        if not target.startswith("/") or target.startswith("//"):
            target = "/rules"
        if not guard.token_matches(str(data.get("token") or "")):
            return page(request, "login.html", 401, next=target, problems=["that is not the token"])
        response = RedirectResponse(target, status_code=303)
        guard.set_session(response, request)
        return response

    def home(request: Request) -> Response:
        return RedirectResponse("/rules", status_code=303)

    return [
        *editor.routes(console),
        *feeds_pages.routes(console),
        *digests_pages.routes(console),
        Route("/", home),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
    ]
