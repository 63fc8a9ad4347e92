"""Seed file formats: the text of one file into raw entries (pure: no I/O).

See :mod:`monitor.seeds.scan` for what each format accepts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from monitor.documents.normalise import clean_title, html_to_text
from monitor.documents.shapes import RawEntry

TITLE_LINE_MAX = 120

# What a parser returns: the entries (None when the file as a whole did not
# parse) and one line per bad record.
Parsed = tuple[list[RawEntry] | None, list[str]]

_DATE_TOKEN = re.compile(r"\s*date\s+(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?=\s|\Z)", re.IGNORECASE)
_TITLE_LINE = re.compile(rf"\s*([^\n]{{1,{TITLE_LINE_MAX}}})\n[ \t]*\n(?=\s*\S)")


def _parse_text(text: str, display: str) -> Parsed:
    published = None
    date = _DATE_TOKEN.match(text)
    if date is not None:
        published, text = date.group(1), text[date.end() :]
    title, body = _leading_title(text)
    if not (title or body.strip()):
        return [], []
    entry = RawEntry(
        guid=f"seed:{display}",
        title=title,
        content=body,
        content_is_html=False,
        published=published,
    )
    return [entry], []


def _leading_title(text: str) -> tuple[str | None, str]:
    """A short first line set off by a blank line is a title; else there is none."""
    text = text.replace("\r\n", "\n")
    match = _TITLE_LINE.match(text)
    if match is None or not match.group(1).strip():
        return None, text
    return match.group(1).strip(), text[match.end() :]


_FRONT_MATTER = re.compile(r"---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE)
_FIELD = re.compile(r"([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*")
# Lines that YAML front matter may hold besides "key: value" (lists, nesting,
# comments): skipped. Any other line means the "---" was a thematic break.
_YAML_OTHER = re.compile(r"(?:[ \t-].*|#.*|)")
_FENCE = re.compile(r"[ \t]{0,3}(```|~~~)")
_HEADING = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_DROPPED_LINE = re.compile(r"[ \t]{0,3}(?:(?:[-*_=][ \t]*){3,}|\[[^\]]+\]:[ \t]+\S.*)")
_LINE_PREFIX = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*(?:[-*+][ \t]+|\d{1,9}[.)][ \t]+)?")
_INLINE = (
    (re.compile(r"!\[[^\]]*\]\([^)]*\)"), ""),  # images go
    (re.compile(r"!\[[^\]]*\]\[[^\]]*\]"), ""),
    (re.compile(r"\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links keep their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"\*(?=\S)(.+?)(?<=\S)\*"), r"\1"),
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!>~|])"), r"\1"),
)
_MARKDOWN_KEYS = {
    "title": "title", "date": "published", "published": "published", "url": "url",
    "link": "url", "language": "language", "lang": "language", "id": "guid",
    "guid": "guid", "author": "author",
}  # fmt: skip


def _parse_markdown(text: str, display: str) -> Parsed:
    meta, body = _front_matter(text.replace("\r\n", "\n"))
    heading, body = _markdown_to_text(body, heading_is_title="title" not in meta)
    title = meta.get("title") or heading
    if title is None:
        title, body = _leading_title(body)
    if not (title or body.strip()):
        return [], []
    guid = meta.get("guid") or (None if meta.get("url") else f"seed:{display}")
    entry = RawEntry(
        guid=guid,
        url=meta.get("url"),
        title=title,
        content=body,
        content_is_html=False,
        published=meta.get("published"),
        language=meta.get("language"),
        author=meta.get("author"),
    )
    return [entry], []


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Simple ``key: value`` front matter; anything fancier is skipped, not parsed."""
    block = _FRONT_MATTER.match(text)
    if block is None:
        return {}, text
    meta: dict[str, str] = {}
    for line in block.group(1).split("\n"):
        field = _FIELD.fullmatch(line)
        if field is None:
            if not _YAML_OTHER.fullmatch(line):
                return {}, text
            continue
        key = _MARKDOWN_KEYS.get(field.group(1).lower())
        value = field.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        if key is not None and value:
            meta[key] = value
    return meta, text[block.end() :]


def _markdown_to_text(body: str, *, heading_is_title: bool) -> tuple[str | None, str]:
    """The first heading and the text with markdown syntax lightly removed.

    When the first heading is the title and opens the document, it leaves the
    text. Code blocks are kept as they are, without their fences.
    """
    lines: list[str] = []
    heading: str | None = None
    in_code = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
        elif in_code:
            lines.append(line)
        elif (match := _HEADING.fullmatch(line)) is not None:
            text = _markdown_inline(match.group(1) or "")
            if heading is None and text:
                heading = text
                if heading_is_title and not any(kept.strip() for kept in lines):
                    continue
            lines.append(text)
        elif not _DROPPED_LINE.fullmatch(line):
            lines.append(_markdown_inline(_LINE_PREFIX.sub("", line, count=1)))
    return heading, "\n".join(lines)


def _markdown_inline(line: str) -> str:
    for pattern, replacement in _INLINE:
        line = pattern.sub(replacement, line)
    return line


def _parse_html(text: str, display: str) -> Parsed:
    page = _extract_page(text)
    if not (page.title or page.text):
        return [], []
    entry = RawEntry(
        guid=f"seed:{display}",
        url=page.url,
        title=page.title,
        content=page.text,
        content_is_html=False,
        published=page.published,
        language=page.language,
    )
    return [entry], []


@dataclass(frozen=True, slots=True)
class _Page:
    title: str | None
    text: str
    url: str | None
    published: str | None
    language: str | None


# Where pages state their publication date, most specific first; the value is
# kept as written so that its precision survives.
_DATE_KEYS = (
    "article:published_time", "og:published_time", "datepublished", "dc.date.issued",
    "dcterms.created", "dc.date", "date", "pubdate", "publish-date", "parsely-pub-date",
)  # fmt: skip
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _extract_page(html: str) -> _Page:
    import lxml.etree
    import lxml.html

    try:
        # Bytes, because lxml refuses str with an XML encoding declaration.
        parser = lxml.html.HTMLParser(encoding="utf-8")
        tree = lxml.html.document_fromstring(html.encode("utf-8"), parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return _Page(None, html_to_text(html), None, None, None)
    meta = _page_meta(tree)
    language = tree.get("lang") or tree.get(_XML_LANG) or meta.get("content-language")
    canonical = tree.xpath("//link[@rel='canonical']/@href")
    url = canonical[0].strip() if canonical else meta.get("og:url")
    published = next((meta[key] for key in _DATE_KEYS if meta.get(key)), None)
    # Read before trafilatura, which prunes the tree it is given.
    head_title = clean_title(tree.findtext(".//title")) or None
    title, text, found_date = _main_text(tree)
    return _Page(
        title=title or meta.get("og:title") or head_title,
        text=text or html_to_text(html),
        url=url,
        published=published or found_date,
        language=language,
    )


def _page_meta(tree: Any) -> dict[str, str]:
    """``<meta>`` contents and ``<time itemprop=datePublished>``, by lowercased name."""
    meta: dict[str, str] = {}
    for element in tree.iter("meta", "time"):
        key = (
            element.get("property")
            or element.get("name")
            or element.get("itemprop")
            or element.get("http-equiv")
            or ""
        ).lower()
        content = (element.get("content") or element.get("datetime") or "").strip()
        if key and content:
            meta.setdefault(key, content)
    return meta


def _main_text(tree: Any) -> tuple[str | None, str, str | None]:
    """Title, main text and date found by trafilatura; nothing when it is unavailable."""
    try:
        import lxml.etree
        from trafilatura import bare_extraction
    except ImportError:  # trafilatura needs lxml_html_clean since lxml 5.2
        return None, "", None
    document = bare_extraction(
        tree,
        include_comments=False,
        include_tables=True,
        with_metadata=True,
        # Dates from the page's markup only, not guessed from its text.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if document is None or isinstance(document, dict) or document.body is None:
        return None, "", None
    # Its XML keeps paragraphs apart; its plain text output would not.
    text = html_to_text(lxml.etree.tostring(document.body, encoding="unicode"))
    return document.title or None, text, document.date or None


def _parse_json(text: str, display: str) -> Parsed:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return None, [f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"]
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]  # a JSON Feed
    items = data if isinstance(data, list) else [data]
    entries: list[RawEntry] = []
    problems: list[str] = []
    for number, item in enumerate(items, start=1):
        entry = _entry_from_object(item)
        if isinstance(entry, RawEntry):
            entries.append(entry)
        else:
            problems.append(f"item {number}: {entry}")
    return entries, problems


def _parse_json_lines(text: str, display: str) -> Parsed:
    entries: list[RawEntry] = []
    problems: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            entry = _entry_from_object(orjson.loads(line))
        except orjson.JSONDecodeError as error:
            entry = f"invalid JSON at column {error.colno}: {error.msg}"
        if isinstance(entry, RawEntry):
            entries.append(entry)
        else:
            problems.append(f"line {number}: {entry}")
    return entries, problems


class _BadField(ValueError):
    pass


def _entry_from_object(item: Any) -> RawEntry | str:
    """A raw entry, or why ``item`` is not one."""
    if not isinstance(item, dict):
        return f"expected an object, found {type(item).__name__}"
    try:
        plain = _string(item, "text", "content_text")
        html = _string(item, "content_html", "content", "html")
        entry = RawEntry(
            guid=_string(item, "id", "guid"),
            url=_string(item, "url"),
            title=_string(item, "title"),
            content=plain or html,
            content_is_html=plain is None,
            published=_string(item, "published", "date", "date_published"),
            language=_string(item, "language", "lang"),
            author=_string(item, "author"),
        )
    except _BadField as error:
        return str(error)
    if not (entry.title or entry.content):
        return "has neither a title nor a text"
    return entry


def _string(item: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` that holds a non-empty string (an id may be a number)."""
    for name in names:
        value = item.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and name in ("id", "guid"):
            value = str(value)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise _BadField(f"field {name!r} must be a string, found {type(value).__name__}")
        return value
    return None


PARSERS: dict[str, Callable[[str, str], Parsed]] = {
    ".txt": _parse_text,
    ".md": _parse_markdown,
    ".markdown": _parse_markdown,
    ".html": _parse_html,
    ".htm": _parse_html,
    ".json": _parse_json,
    ".jsonl": _parse_json_lines,
}
