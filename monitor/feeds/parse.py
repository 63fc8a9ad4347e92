"""Feed bytes and response headers in, :class:`ParsedFeed` out.

RSS 0.9x/1.0/2.0, Atom and RDF go through feedparser, always as bytes with
the response headers (a ``str`` would make feedparser open a URL or a file).
JSON Feed 1.0/1.1 goes through :mod:`monitor.feeds.jsonfeed`.

Two things are added in front of feedparser, both cheap next to the parse:

* RFC 7303 charset rules. feedparser still follows RFC 3023, under which
  ``text/xml`` without a charset means US-ASCII whatever the document
  declares: a warning on nearly every feed served that way, and UTF-16 feeds
  that do not parse at all. Such a type is handed on as ``application/xml``,
  so the BOM and the XML declaration decide, as RFC 7303 says.
* An entity-expansion budget. feedparser drops nested entity declarations
  (so no billion laughs), but keeps long plain ones, and when expat refuses
  to expand them its loose fallback parser expands them anyway: a 350 kB
  "quadratic blowup" document took minutes and 9 GB. Declarations whose
  expansion would exceed :data:`ENTITY_EXPANSION_BUDGET` are removed first.

Titles come back raw: entities decoded, markup (even ``<script>``) kept.
HTML content has been through feedparser's sanitiser (scripts dropped,
relative links resolved). Normalisation cleans both later.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
from feedparser.encodings import convert_to_utf8

from monitor.documents.shapes import RawEntry
from monitor.errors import FeedMalformed
from monitor.feeds import jsonfeed

# Bytes that entity references may add to a document before its declarations are dropped.
ENTITY_EXPANSION_BUDGET = 1 << 20
# More declarations than this are dropped unweighed: each one costs a scan of the body.
_MAX_ENTITIES = 64

_MAX_MESSAGE = 300
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_TEXT_XML = frozenset({"text/xml", "text/xml-external-parsed-entity"})
_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_FIRST_BYTE = re.compile(rb"\A(?:\xef\xbb\xbf)?[ \t\r\n]*(.)", re.DOTALL)
_FIRST_ELEMENT = re.compile(rb"<\w")
_ENTITY = re.compile(rb'<!ENTITY\s+(\w+)\s+"([^"]*)"')
_ANY_ENTITY = re.compile(rb"<!ENTITY[^>]*>")
# feedparser warnings that leave a fully parsed, merely empty, feed behind.
_SOFT_PROBLEMS = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    format: str  # feedparser's version ("rss20", "atom10", "rss10", ...) or "json1" / "json11"
    title: str | None
    link: str | None
    language: str | None
    entries: list[RawEntry]
    # The recoverable problem (feedparser's bozo message) when entries were still read.
    warning: str | None
    # Entries past ``max_entries`` that this poll left unread.
    dropped: int = 0


MAX_ENTRIES = 500  # [fetch] max_entries
# Where an entry starts, in RSS 0.9x/2.0, RSS 1.0 and Atom, with or without a prefix.
_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:item|entry)[\s>/]")


def parse_feed(
    body: bytes, headers: Mapping[str, str], url: str, *, max_entries: int = MAX_ENTRIES
) -> ParsedFeed:
    """Parse a fetched feed; raise FeedMalformed when no usable feed is in it.

    At most ``max_entries`` entries are read: the newest by date in a JSON Feed; the first
    in an XML feed, whose body is cut before the next entry so that the parser never
    builds the rest (feeds list their newest first). The rest are counted as dropped.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if _is_json(body, lowered.get("content-type", "")):
        return _from_json(body, lowered, url, max_entries)
    body, dropped = _cut_entries(body, max_entries)
    parsed = _from_xml(body, lowered, url)
    if not dropped:
        return parsed
    # The cut body ends mid-document: the parser's complaint about that is our own doing.
    return dataclasses.replace(
        parsed, dropped=dropped, warning=dropped_warning(dropped, max_entries)
    )


def dropped_warning(dropped: int, max_entries: int) -> str:
    return f"{dropped} entries past [fetch] max_entries = {max_entries} left unread"


def _cut_entries(body: bytes, max_entries: int) -> tuple[bytes, int]:
    """``body`` up to its entry number ``max_entries + 1``, and how many entries were cut."""
    starts = [found.start() for found in _ENTRY_START.finditer(body)]
    if len(starts) <= max_entries:
        return body, 0
    return body[: starts[max_entries]], len(starts) - max_entries


def _is_json(body: bytes, content_type: str) -> bool:
    match = _FIRST_BYTE.match(body)
    first = match.group(1) if match else b""
    if first == b"{":
        return True
    return _media_type(content_type) in _JSON_TYPES and first != b"<"


def _from_json(body: bytes, headers: dict[str, str], url: str, max_entries: int) -> ParsedFeed:
    feed = jsonfeed.read_json_feed(
        body, base_url=url, language=headers.get("content-language"), max_entries=max_entries
    )
    warning = feed.warning
    if feed.dropped:
        warning = "; ".join(filter(None, [dropped_warning(feed.dropped, max_entries), warning]))
    return ParsedFeed(
        format=feed.format,
        title=feed.title,
        link=feed.link,
        language=feed.language,
        entries=feed.entries,
        warning=warning,
        dropped=feed.dropped,
    )


def _feedparser_headers(headers: dict[str, str], url: str) -> dict[str, str]:
    result = dict(headers)
    # feedparser resolves relative links against Content-Location; it never sees the URL.
    location = result.get("content-location")
    result["content-location"] = urljoin(url, location) if location else url
    content_type = result.get("content-type")
    if content_type:
        result["content-type"] = _rfc7303(content_type)
    return result


def _rfc7303(content_type: str) -> str:
    media_type, _, params = content_type.partition(";")
    kind = media_type.strip().lower()
    textual_xml = kind in _TEXT_XML or (kind.startswith("text/") and kind.endswith("+xml"))
    if not textual_xml or "charset=" in params.lower():
        return content_type
    return "application/" + kind.removeprefix("text/") + (";" + params if params else "")


def _from_xml(body: bytes, headers: dict[str, str], url: str) -> ParsedFeed:
    try:
        body, handed_on, defused = _defuse_entities(body, _feedparser_headers(headers, url))
        # Entry HTML only ever becomes plain text here (html_to_text drops scripts, styles and
        # every tag, and with them every link), so feedparser's sanitiser and its rewriting
        # of relative links inside that HTML would be work thrown away: 40 % of its time.
        # Links of entries themselves are still resolved against the feed's URL.
        result = feedparser.parse(
            body, response_headers=handed_on, sanitize_html=False, resolve_relative_uris=False
        )
    # feedparser promises not to raise, but hostile input must not crash a poll if it does.
    except Exception as exc:
        raise FeedMalformed(_one_line(f"feed parser failed: {type(exc).__name__}: {exc}")) from None
    version = str(result.get("version") or "")
    entries = list(result.get("entries") or [])
    problem = _problem(result, defused)
    if not entries:
        _reject_empty(result, version, problem, headers)
    feed = result.get("feed") or {}
    header_language = headers.get("content-language")
    feed_language = _text(feed.get("language")) or header_language
    return ParsedFeed(
        format=version or "unknown",
        title=_text(feed.get("title")),
        link=_text(feed.get("link")),
        language=feed_language,
        entries=[_entry(entry, feed_language, header_language) for entry in entries],
        warning=problem,
    )


def _problem(result: Any, defused: int) -> str | None:
    message = None
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        message = f"{type(exc).__name__}: {exc}" if exc is not None else "ill-formed feed"
    if defused:
        dropped = f"dropped {defused} entity declarations over the expansion budget"
        message = f"{dropped}; {message}" if message else dropped
    return _one_line(message) if message else None


def _reject_empty(result: Any, version: str, problem: str | None, headers: dict[str, str]) -> None:
    """Raise FeedMalformed unless an entry-less result is a real (empty) feed."""
    if not version:
        content_type = headers.get("content-type", "no content type")
        detail = f"{content_type}; {problem}" if problem else content_type
        raise FeedMalformed(_one_line(f"not a feed: no RSS, Atom or RDF document ({detail})"))
    if problem and not isinstance(result.get("bozo_exception"), _SOFT_PROBLEMS):
        raise FeedMalformed(_one_line(f"malformed {version} feed: {problem}"))


def _entry(entry: Any, feed_language: str | None, header_language: str | None) -> RawEntry:
    content, detail = _content(entry)
    published, published_parsed = _date(entry)
    return RawEntry(
        guid=_text(dict.get(entry, "id")),
        url=_text(dict.get(entry, "link")),
        title=_text(dict.get(entry, "title")),
        content=content,
        content_is_html=(detail or {}).get("type", "text/html") in _HTML_TYPES,
        published=published,
        published_parsed=published_parsed,
        language=_language(detail or dict.get(entry, "title_detail"), header_language)
        or feed_language,
        author=_text(dict.get(entry, "author")),
    )


def _content(entry: Any) -> tuple[str | None, Any]:
    """The longest of the content values and the summary, with its detail dict."""
    candidates = list(dict.get(entry, "content") or [])
    summary = dict.get(entry, "summary_detail")
    if summary is not None:
        candidates.append(summary)
    best = max(candidates, key=lambda c: len(c.get("value") or ""), default=None)
    if best is None:
        return _text(dict.get(entry, "summary")), None
    return _text(best.get("value")), best


def _language(detail: Any, header_language: str | None) -> str | None:
    # feedparser fills a detail's language from xml:lang, else from Content-Language;
    # the latter is only the last resort, after the feed's own <language>.
    language = _text((detail or {}).get("language"))
    return language if language != header_language else None


def _date(entry: Any) -> tuple[str | None, datetime | None]:
    for key in ("published", "updated", "created"):
        raw = _text(dict.get(entry, key))
        if raw:
            return raw, _utc(dict.get(entry, key + "_parsed"))
    return None, None


def _utc(parsed: Any) -> datetime | None:
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError, TypeError):
        return None


def _defuse_entities(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str], int]:
    """Drop entity declarations whose expansion would blow the budget.

    The check runs on the UTF-8 text feedparser itself will parse (its own
    converter, about 1% of the parse), so a UTF-16 or UTF-7 prolog cannot hide
    a declaration. Returns the body and headers to parse, and how many
    declarations were dropped.
    """
    view: bytes = convert_to_utf8(headers, body, {})
    if b"<!ENTITY" not in view:
        return body, headers, 0
    first = _FIRST_ELEMENT.search(view)
    end = first.start() if first else len(view)
    head, rest = view[:end], view[end:]
    declared = _ENTITY.findall(head)
    if len(declared) <= _MAX_ENTITIES:
        expansion = sum(len(value) * rest.count(b"&" + name + b";") for name, value in declared)
        if expansion <= ENTITY_EXPANSION_BUDGET:
            return body, headers, 0
    # A space, not nothing, so that no new declaration can form across a removed one.
    cleaned, dropped = _ANY_ENTITY.subn(b" ", head)
    return cleaned + rest, {**headers, "content-type": "application/xml; charset=utf-8"}, dropped


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _one_line(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 1] + "…"
