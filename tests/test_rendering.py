"""Templates: every default renders; HTML escapes feed text; JSON bodies parse; user overrides
apply in the sandbox; a broken template is reported with its file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alerts.rendering import TEMPLATES, Renderer, sample_digest
from monitor.errors import ConfigError


def test_every_default_template_renders_and_checks() -> None:
    renderer = Renderer()
    renderer.check()
    digest = sample_digest()
    html = renderer.render("email_html", digest)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<mark style="background:#fde68a;color:inherit;">Armenia</mark>' in html
    assert "… and 3 more stories not shown." in html
    assert "https://example.org/a?x=1&amp;y=2" in html
    text = renderer.render("email_text", digest)
    assert "> [Armenia] and Azerbaijan met." in text and "<script>" in text  # plain text: as is
    body = json.loads(renderer.render("webhook", digest))
    assert body["id"] == digest.digest_id and body["entries"][0]["sources"] == ["example", "other"]
    assert body["entries"][0]["title"] == digest.entries[0].lead.title
    slack = json.loads(renderer.render("slack", digest))
    assert "&lt;script&gt;" in slack["blocks"][1]["text"]["text"]
    markdown = renderer.render("file_markdown", digest)
    assert "**Armenia**" in markdown and "\\<script\\>" in markdown


def test_a_user_folder_overrides_one_template(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text("Custom: {{ digest.rule }} ({{ digest.documents }})\n")
    renderer = Renderer(tmp_path)
    renderer.check()
    assert renderer.render("email_text", sample_digest()) == "Custom: sample (2)\n"
    assert "<!doctype html>" in renderer.render("email_html", sample_digest())


def test_broken_templates_are_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text("line one\n{% for x in %}\n")
    (tmp_path / "file.md.j2").write_text("ok\n{{ digest.nope }}\n")
    (tmp_path / "webhook.json.j2").write_text("{not json\n")
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check()
    problems = "\n".join(caught.value.problems)
    assert f"{tmp_path / 'email.txt.j2'}:2:" in problems
    assert f"{tmp_path / 'file.md.j2'}:2:" in problems and "nope" in problems
    assert f"{tmp_path / 'webhook.json.j2'}: renders invalid JSON" in problems
    assert len(caught.value.problems) == 3


def test_user_templates_run_in_the_sandbox(tmp_path: Path) -> None:
    (tmp_path / "email.txt.j2").write_text("{{ digest.__class__.__init__.__globals__ }}\n")
    with pytest.raises(ConfigError) as caught:
        Renderer(tmp_path).check(("email_text",))
    assert "unsafe" in caught.value.problems[0] or "access" in caught.value.problems[0]


def test_every_kind_has_a_default() -> None:
    folder = Path(__file__).resolve().parents[1] / "alerts" / "templates"
    assert {p.name for p in folder.glob("*.j2")} == set(TEMPLATES.values())


@pytest.mark.parametrize(
    "given",
    [
        "https://en.wikipedia.org/wiki/Georgia_(country)",
        "https://example.org/a?x=1&y=2|3",
        "https://example.org/p)x](javascript:alert(1))",
    ],
)
def test_a_url_reaches_every_format_whole(given: str) -> None:
    """Markdown (read back by a CommonMark parser), HTML and Slack and webhook JSON all
    link to exactly the document's URL, however its characters would end the link early."""
    from dataclasses import replace
    from html.parser import HTMLParser
    from urllib.parse import unquote

    from markdown_it import MarkdownIt

    from monitor.documents.normalise import canonical_url

    url = str(canonical_url(given))  # as every document's URL is stored
    digest = sample_digest()
    entry = digest.entries[0]
    digest = replace(digest, entries=(replace(entry, lead=replace(entry.lead, url=url)),))
    renderer = Renderer()
    for kind in ("file_markdown", "apprise"):
        tokens = MarkdownIt().parseInline(renderer.render(kind, digest))
        hrefs = [
            t.attrs["href"]
            for block in tokens
            for t in block.children or []
            if t.type == "link_open"
        ]
        assert len(hrefs) >= 1 and unquote(str(hrefs[0])) == unquote(url), kind

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.found: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.found += [str(v) for k, v in attrs if tag == "a" and k == "href"]

    for kind in ("email_html", "file_html"):
        links = Links()
        links.feed(renderer.render(kind, digest))
        assert links.found[0] == url, kind
    assert json.loads(renderer.render("webhook", digest))["entries"][0]["url"] == url
    slack = json.loads(renderer.render("slack", digest))["blocks"][1]["text"]["text"]
    target = slack.split("<", 1)[1].split("|", 1)[0]
    assert target.replace("&amp;", "&") == url and "&" not in target.replace("&amp;", "")
