"""Finding a site's feeds from its page address, as feed readers do.

A page names its feeds in ``<link rel="alternate" type="application/rss+xml" href=…>``
(Atom, RSS, RDF and JSON Feed types); when it names none, the usual paths (``/feed``,
``/rss.xml``, ``/atom.xml``, ``/index.xml``, ``/feed.json``) are tried. An address that
is a feed already is taken as it is. Every candidate is fetched and parsed before it is
offered, so what the user picks is a feed that works, with its title. Requests go through
the fetcher, under the outbound address policy unless the caller trusts the address (the
command line: the operator typed it; the web console: not).
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from monitor.errors import FetchError, SourceError
from monitor.feeds.fetch import FetchLimits, fetch
from monitor.feeds.parse import parse_feed

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "application/feed+json",
        "application/json",
        "text/xml",
        "application/xml",
    }
)
USUAL_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/index.xml", "/feed.json", "/rss")
MAX_CANDIDATES = 10


@dataclass(frozen=True, slots=True)
class FoundFeed:
    url: str
    title: str
    format: str
    entries: int


class NoFeedFound(SourceError):
    """A page that names no working feed."""


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, title)
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k.lower(): (v or "") for k, v in attrs}
        if tag == "base" and found.get("href") and self.base is None:
            self.base = found["href"]
        if tag != "link" or not found.get("href"):
            return
        rel = found.get("rel", "").lower().split()
        kind = found.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES and len(self.links) < MAX_CANDIDATES:
            self.links.append((found["href"], found.get("title", "")))


def feed_links(html: str, page_url: str) -> list[tuple[str, str]]:
    """``(absolute url, title)`` of the feeds a page names, in its order (pure)."""
    parser = _Links()
    parser.feed(html)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    seen: dict[str, str] = {}
    for href, title in parser.links:
        url = urljoin(base, href.strip())
        if url.startswith(("http://", "https://")):
            seen.setdefault(url, title)
    return list(seen.items())


async def discover(
    client: httpx.AsyncClient, url: str, limits: FetchLimits, *, trusted: bool
) -> list[FoundFeed]:
    """The working feeds of ``url`` (a page or a feed), each fetched and parsed."""
    page = await fetch(client, url, limits=limits, trusted=trusted)
    own = _as_feed(page.url, page.body, page.headers)
    if own is not None:
        return [own]
    text = page.body.decode(_charset(page.headers), errors="replace")
    named = feed_links(text, page.url)
    candidates = named or [(urljoin(page.url, path), "") for path in USUAL_PATHS]
    found: list[FoundFeed] = []
    for candidate, title in candidates[:MAX_CANDIDATES]:
        try:
            # A link from a page is the page's, not the operator's: the policy applies.
            result = await fetch(client, candidate, limits=limits, trusted=False)
        except FetchError:
            continue
        feed = _as_feed(result.url, result.body, result.headers)
        if feed is not None:
            found.append(FoundFeed(feed.url, feed.title or title, feed.format, feed.entries))
    if not found:
        where = "the feeds it names" if named else "the usual feed addresses"
        raise NoFeedFound(f"{url}: no working feed found (tried {where})")
    return found


def _as_feed(url: str, body: bytes, headers: dict[str, str]) -> FoundFeed | None:
    kind = headers.get("content-type", "").lower()
    if "html" in kind and b"<rss" not in body[:2048] and b"<feed" not in body[:2048]:
        return None
    try:
        parsed = parse_feed(body, headers, url)
    except SourceError:
        return None
    if parsed.format in ("", "unknown") or (not parsed.entries and not parsed.title):
        return None
    return FoundFeed(url, parsed.title or "", parsed.format, len(parsed.entries))


def _charset(headers: dict[str, str]) -> str:
    kind = headers.get("content-type", "")
    for part in kind.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    return "utf-8"
