"""Digests rendered from Jinja2 templates (pure: templates in, text out).

The defaults live in ``alerts/templates/``; a channel's ``templates`` folder
overrides any of them by file name. Every template runs in Jinja2's sandbox
(a user's template cannot reach Python internals), and HTML templates
autoescape everything, so a feed's ``<script>`` title arrives as text.
:meth:`Renderer.check` renders every template against a sample digest at
start-up, so a broken template stops the daemon with the template's name and
line (exit 2) instead of failing when a digest falls due.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from alerts.digest import Digest, Entry, MatchedDocument, digest_id
from monitor.errors import ConfigError

# Template kind -> file name. A channel may also name a template file as its kind
# ("teams.json.j2"): adding a channel needs its template, not an entry here.
TEMPLATES = {
    "subject": "subject.txt.j2",
    "email_text": "email.txt.j2",
    "email_html": "email.html.j2",
    "webhook": "webhook.json.j2",
    "slack": "slack.json.j2",
    "file_markdown": "file.md.j2",
    "file_html": "file.html.j2",
    "apprise": "apprise.md.j2",
}


def _segments(snippet: dict[str, Any]) -> list[tuple[str, bool]]:
    """The snippet's text cut into (piece, highlighted) parts."""
    text, cursor = str(snippet.get("text", "")), 0
    parts: list[tuple[str, bool]] = []
    for start, end in snippet.get("highlights", []):
        parts.extend(((text[cursor:start], False), (text[start:end], True)))
        cursor = end
    parts.append((text[cursor:], False))
    return [part for part in parts if part[0]]


def mark_html(snippet: dict[str, Any]) -> Markup:
    return Markup("").join(
        Markup('<mark style="background:#fde68a;color:inherit;">{}</mark>').format(piece)
        if hit
        else escape(piece)
        for piece, hit in _segments(snippet)
    )


def mark_text(snippet: dict[str, Any], before: str = "[", after: str = "]") -> str:
    return "".join(f"{before}{p}{after}" if hit else p for p, hit in _segments(snippet))


def md_escape(text: str) -> str:
    return "".join("\\" + c if c in "\\`*_{}[]<>()#+!|" else c for c in str(text))


_MD_URL_UNSAFE = {"(": "%28", ")": "%29", " ": "%20", "<": "%3C", ">": "%3E", "\\": "%5C"}


def md_url(url: str) -> str:
    """A URL fit for a Markdown link's destination: the characters that would end it (or
    start a title) percent-encoded, so ``[t](…/Foo_(bar))`` stays one link to the page."""
    return "".join(_MD_URL_UNSAFE.get(c, c) for c in str(url))


def mark_markdown(snippet: dict[str, Any]) -> str:
    return "".join(f"**{md_escape(p)}**" if hit else md_escape(p) for p, hit in _segments(snippet))


def slack_escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FILTERS: dict[str, Callable[..., Any]] = {
    "mark_html": mark_html,
    "mark_text": mark_text,
    "mark_markdown": mark_markdown,
    "md_escape": md_escape,
    "md_url": md_url,
    "slack_escape": slack_escape,
}


class Renderer:
    def __init__(self, folder: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if folder is not None:
            loaders.append(jinja2.FileSystemLoader(folder))
        loaders.append(jinja2.PackageLoader("alerts", "templates"))
        self.folder = folder
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=lambda name: name is not None and ".html" in name,
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        self.env.filters.update(FILTERS)

    def render(self, kind: str, digest: Digest) -> str:
        return self.env.get_template(template_file(kind)).render(digest=digest)

    def check(self, kinds: tuple[str, ...] = tuple(TEMPLATES)) -> None:
        """Load and render every template against a sample; ConfigError naming file and line."""
        problems = []
        for kind in kinds:
            name = template_file(kind)
            try:
                output = self.render(kind, sample_digest())
                if name.endswith(".json.j2"):
                    json.loads(output)
            except jinja2.TemplateSyntaxError as error:
                problems.append(f"{self._where(name)}:{error.lineno}: {error.message}")
            except json.JSONDecodeError as error:
                problems.append(f"{self._where(name)}: renders invalid JSON: {error}")
            except Exception as error:  # a template can fail in any way at render time
                problems.append(f"{self._where(name)}:{_line(error, name)}: {error}")
        if problems:
            raise ConfigError(problems)

    def _where(self, name: str) -> str:
        if self.folder is not None and (self.folder / name).exists():
            return str(self.folder / name)
        return f"alerts/templates/{name}"


def template_file(kind: str) -> str:
    """The file a template kind is read from (see :data:`TEMPLATES`)."""
    return TEMPLATES.get(kind, kind)


def _line(error: BaseException, name: str) -> str:
    """The template line in the traceback of a render error, if Jinja2 put it there."""
    line = "?"
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(name):
            line = str(tb.tb_lineno)
        tb = tb.tb_next
    return line


def sample_digest() -> Digest:
    """A digest that exercises every template feature: copies, snippets, a cap, hostile text."""
    lead = MatchedDocument(
        seq=1,
        document_id="sample",
        title='Armenia & Azerbaijan <script>alert("x")</script>',
        url="https://example.org/a?x=1&y=2",
        source="example",
        language="en",
        published="2023-10-02T10:00Z",
        snippets=(
            {"field": "body", "text": "Armenia and Azerbaijan met.", "highlights": [[0, 7]]},
        ),
    )
    copy = MatchedDocument(2, "copy", "Copy", None, "other", "en", "2023-10-02", ())
    return Digest(
        digest_id(" sample", "sample", (1, 2)),
        "sample",
        "sample",
        (Entry(lead, (copy,)),),
        more=3,
        seqs=(1, 2),
    )
