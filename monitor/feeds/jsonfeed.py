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

import ijson
import orjson

from monitor.documents.shapes import RawEntry
from monitor.errors import FeedMalformed
from monitor.feeds.jsonstream import STREAM_BYTES, stream_items

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
    dropped: int = 0  # items past max_entries, left unread


def read_json_feed(
    body: bytes,
    *,
    base_url: str,
    language: str | None = None,
    max_entries: int | None = None,
    stream_bytes: int = STREAM_BYTES,
) -> JsonFeed:
    """Read a JSON Feed; ``language`` (Content-Language) is the last-resort language.

    With ``max_entries``, only that many items are read: the newest by date (undated
    items after the dated ones, in the feed's order). A body over ``stream_bytes`` is
    read item by item (:mod:`monitor.feeds.jsonstream`), with the same result.
    """
    if len(body) > stream_bytes:
        document, objects, skipped, too_deep, dropped = _streamed(body, max_entries)
    else:
        document, objects, skipped, too_deep, dropped = _whole(body, max_entries)
    version = document.get("version")
    match = _VERSION.match(version) if isinstance(version, str) else None
    if match is None:
        raise FeedMalformed(f"not a JSON Feed: version is {_shown(version)}")
    if objects is None:
        raise FeedMalformed("JSON Feed without an items list")
    feed_language = _text(document.get("language")) or language
    feed_author = _authors(document)
    entries = [_entry(item, base_url, feed_language, feed_author) for item in objects]
    return JsonFeed(
        format=_FORMATS[match.group(1)],
        title=_text(document.get("title")),
        link=_url(document.get("home_page_url"), base_url),
        language=feed_language,
        entries=entries,
        warning=_warning(skipped - too_deep, too_deep),
        dropped=dropped,
    )


_UNDATED = datetime.min.replace(tzinfo=UTC)


# The document, its items kept (None: no items list), and how many items were skipped, too
# deep and dropped.
_Read = tuple[dict[str, Any], list[dict[str, Any]] | None, int, int, int]


def _whole(body: bytes, max_entries: int | None) -> _Read:
    document, too_deep = _load(body)
    items = document.get("items")
    if not isinstance(items, list):
        return document, None, 0, too_deep, 0
    objects = [item for item in items if isinstance(item, dict) and not _too_deep(item)]
    too_deep += sum(1 for item in items if isinstance(item, dict)) - len(objects)
    skipped = len(items) - len(objects)
    del items
    dropped = 0
    if max_entries is not None and len(objects) > max_entries:
        dropped = len(objects) - max_entries
        objects = _newest(objects, max_entries)
    return document, objects, skipped, too_deep, dropped


def _too_deep(item: dict[str, Any]) -> bool:
    """Whether ``item`` holds containers more than ITEM_DEPTH levels deep (itself the first)."""
    level: list[Any] = [item]
    for _ in range(ITEM_DEPTH):
        level = [
            inner
            for value in level
            for inner in (value.values() if isinstance(value, dict) else value)
            if isinstance(inner, dict | list)
        ]
        if not level:
            return False
    return True


def _streamed(body: bytes, max_entries: int | None) -> _Read:
    try:
        read = stream_items(body.removeprefix(_BOM), max_entries, _when, ITEM_DEPTH)
    except ijson.JSONError as exc:
        raise FeedMalformed(f"JSON Feed is not valid JSON: {_one_line(exc)}") from None
    except ValueError as exc:
        raise FeedMalformed(f"not a JSON Feed: {exc}") from None
    if not read.has_items:
        return read.top, None, 0, read.too_deep, 0
    dropped = read.objects - len(read.items)
    # Items nested too deep count among the skipped in the fast path's figures too.
    return read.top, read.items, read.skipped + read.too_deep, read.too_deep, dropped


def _when(item: dict[str, Any]) -> datetime:
    date = _text(item.get("date_published")) or _text(item.get("date_modified"))
    return _rfc3339(date) or _UNDATED


def _newest(items: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    # sorted() is stable: equal dates (and every undated item) keep the feed's order.
    return sorted(items, key=_when, reverse=True)[:count] if count else []


def _load(body: bytes) -> tuple[dict[str, Any], int]:
    """The document, and how many of its items were dropped for being nested too deep."""
    body = body.removeprefix(_BOM)
    too_deep = 0
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" not in str(exc) and "recursion" not in str(exc):
            raise FeedMalformed(f"JSON Feed is not valid JSON: {_one_line(exc)}") from None
        # One item nested past the parser's limit must not cost the feed its good items.
        body, too_deep = _without_deep_items(body)
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as again:
            raise FeedMalformed(f"JSON Feed is not valid JSON: {_one_line(again)}") from None
    if not isinstance(document, dict):
        raise FeedMalformed(f"not a JSON Feed: the document is a JSON {type(document).__name__}")
    return document, too_deep


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())


ITEM_DEPTH = 64  # levels of nesting inside one item; real items use fewer than five
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _without_deep_items(body: bytes) -> tuple[bytes, int]:
    """``body`` with each item of the top-level ``items`` nested deeper than ITEM_DEPTH
    written as ``null`` (an item that is no object is skipped), and how many there were.

    A scan of strings and brackets only: a document it cannot follow is left as it is, for
    the parser to reject."""
    depth, key, in_items = 0, b"", False
    start, deepest, spans = 0, 0, []
    for token in _TOKEN.finditer(body):
        mark = token.group()
        if mark[0] == 0x22:  # a string: at the top level, the key of what follows
            if depth == 1:
                key = mark
            continue
        if mark in (b"[", b"{"):
            depth += 1
            if depth == 2 and mark == b"[" and key == b'"items"':
                in_items = True
            elif in_items and depth == 3:
                start, deepest = token.start(), depth
            elif in_items:
                deepest = max(deepest, depth)
            continue
        if in_items and depth == 3 and deepest - 2 > ITEM_DEPTH:
            spans.append((start, token.end()))
        elif in_items and depth == 2:
            in_items = False
        depth -= 1
    pieces, at = [], 0
    for begin, end in spans:
        pieces += [body[at:begin], b"null"]
        at = end
    return b"".join([*pieces, body[at:]]), len(spans)


def _warning(skipped: int, too_deep: int) -> str | None:
    problems = []
    if too_deep:
        problems.append(f"dropped {too_deep} items nested more than {ITEM_DEPTH} levels deep")
    if skipped:
        problems.append(f"skipped {skipped} items that are not JSON objects")
    return "; ".join(problems) or None


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
