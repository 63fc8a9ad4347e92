"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) to raw entries.

feedparser 6 has no JSON Feed support, so this reads the format itself. It
is lenient where the web is (numeric ids, a missing id, items that are not
objects are skipped) and strict where nothing could be read (not JSON, not a
JSON Feed version, no ``items`` list): those raise FeedMalformed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import orjson

from monitor.documents.shapes import RawEntry
from monitor.errors import FeedMalformed

_VERSION = re.compile(r"\Ahttps?://jsonfeed\.org/version/(1|1\.1)/?\Z")
_FORMATS = {"1": "json1", "1.1": "json11"}
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class JsonFeed:
    format: str  # "json1" or "json11"
    title: str | None
    link: str | None
    language: str | None
    entries: list[RawEntry]
    warning: str | None


def read_json_feed(body: bytes, *, base_url: str, language: str | None = None) -> JsonFeed:
    """Read a JSON Feed; ``language`` (Content-Language) is the last-resort language."""
    document = _load(body)
    version = document.get("version")
    match = _VERSION.match(version) if isinstance(version, str) else None
    if match is None:
        raise FeedMalformed(f"not a JSON Feed: version is {_shown(version)}")
    items = document.get("items")
    if not isinstance(items, list):
        raise FeedMalformed("JSON Feed without an items list")
    feed_language = _text(document.get("language")) or language
    feed_author = _authors(document)
    entries = [
        _entry(item, base_url, feed_language, feed_author)
        for item in items
        if isinstance(item, dict)
    ]
    skipped = len(items) - len(entries)
    return JsonFeed(
        format=_FORMATS[match.group(1)],
        title=_text(document.get("title")),
        link=_url(document.get("home_page_url"), base_url),
        language=feed_language,
        entries=entries,
        warning=f"skipped {skipped} items that are not JSON objects" if skipped else None,
    )


def _load(body: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(body.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        raise FeedMalformed(f"JSON Feed is not valid JSON: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict):
        raise FeedMalformed(f"not a JSON Feed: the document is a JSON {type(document).__name__}")
    return document


def _entry(
    item: dict[str, Any], base_url: str, feed_language: str | None, feed_author: str | None
) -> RawEntry:
    content, is_html = _content(item)
    published = _text(item.get("date_published")) or _text(item.get("date_modified"))
    return RawEntry(
        guid=_identifier(item.get("id")),
        url=_url(item.get("url"), base_url) or _url(item.get("external_url"), base_url),
        title=_text(item.get("title")),
        content=content,
        content_is_html=is_html,
        published=published,
        published_parsed=_rfc3339(published),
        language=_text(item.get("language")) or feed_language,
        author=_authors(item) or feed_author,
    )


def _content(item: dict[str, Any]) -> tuple[str | None, bool]:
    html = _text(item.get("content_html"))
    if html:
        return html, True
    # content_text and summary are plain text by the spec.
    return _text(item.get("content_text")) or _text(item.get("summary")), False


def _authors(holder: dict[str, Any]) -> str | None:
    """Names from 1.1 ``authors``, else 1.0 ``author``, joined with commas."""
    authors = holder.get("authors")
    if not isinstance(authors, list):
        authors = [holder.get("author")]
    names = [_text(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(name for name in names if name) or None


def _rfc3339(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    # RFC 3339 requires an offset; a date without one is most likely UTC.
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _identifier(value: Any) -> str | None:
    # The spec says string, but numeric ids are common; bool is an int to Python, not an id.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return _text(value)


def _url(value: Any, base_url: str) -> str | None:
    text = _text(value)
    return urljoin(base_url, text) if text else None


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _shown(value: Any) -> str:
    return repr(value)[:80] if value is not None else "missing"
