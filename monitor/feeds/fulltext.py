"""The full text of feed items: fetch each item's page and keep its main text.

A feed with ``full_text = true`` often carries only a teaser, so its new items
are matched against the article itself. This module is the edge that gets it:
:func:`full_texts` fetches the pages (through :func:`monitor.feeds.fetch.fetch`,
so its timeouts, size cap and redirect checks apply), paced by a
:class:`RateLimiter` per feed, and :func:`extract_main_text` (pure) keeps what
trafilatura takes for the article: comments, navigation and footers left out.

Nothing here raises for one page: each page ends as a :class:`FullText` whose
``text`` is None and whose ``error`` says why in a few words ("HTTP 404",
"timeout", "not HTML", "no main text"), and the caller keeps the summary.

Decoding, first that applies: a byte order mark; the charset of the
Content-Type header; the page's ``<meta>`` charset; trafilatura's detection
(UTF-8, then charset_normalizer's guess). A declared charset that does not
decode the bytes is passed over rather than trusted, since servers often
send a default header whatever the page says.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.documents.normalise import html_to_text
from monitor.errors import FetchError
from monitor.feeds.fetch import FetchLimits, fetch

# Shorter than this, what trafilatura found is a caption or a cookie notice,
# and the feed's own summary is the better text to match.
MIN_CHARS = 200

# Pages, not feeds: the fetch module's default Accept asks for feed types.
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Types servers put on anything; the body decides.
_VAGUE_TYPES = frozenset(
    {"", "text/plain", "application/octet-stream", "text/xml", "application/xml"}
)
# WHATWG's sniffing signatures (an XML declaration or comments may come first).
_HTML_START = re.compile(
    rb"\A\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*"
    rb"<(?:!doctype\s+html|html|head|body|title|meta|script|style|iframe|h1|div|font|table"
    rb"|a|b|br|p)[\s/>]",
    re.IGNORECASE | re.DOTALL,
)
# Both <meta charset="x"> and <meta http-equiv="Content-Type" content="text/html; charset=x">.
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_PARAM_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_PRESCAN = 4096
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Labels browsers read as another encoding (WHATWG Encoding): pages are written for browsers.
_BROWSER_ENCODING = {
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "iso8859-9": "cp1254",
    "gb2312": "gb18030",
    "gbk": "gb18030",
}

log = logging.getLogger("monitor.fulltext")


@dataclass(frozen=True, slots=True)
class FullText:
    """A page's main text, or (``text`` None) a one-line reason why there is none."""

    text: str | None
    error: str | None = None


class RateLimiter:
    """At most ``rate`` requests per second, evenly spaced: one per feed, shared across polls.

    Fixed spacing rather than a bucket with a burst: these are a publisher's
    own pages, and a dozen new items must not arrive at its server at once.
    Callers queue in order, one at a time, and the next slot counts from when
    the last caller really went: a caller that wakes late (the event loop was
    busy parsing) moves the slots after it along, instead of leaving the
    callers behind it free to go at once.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for this caller's slot."""
        async with self._turn:
            now = self._clock()
            slot = now if self._next is None else max(now, self._next)
            if slot > now:
                await self._sleep(slot - now)
            self._next = max(self._clock(), slot) + self.interval


async def full_texts(
    client: httpx.AsyncClient,
    pages: Sequence[tuple[str, str]],
    *,
    limits: FetchLimits,
    rate: RateLimiter,
    concurrency: int = 2,
    executor: Executor | None = None,
) -> dict[str, FullText]:
    """The main text of each ``(key, url)`` page, by key; never raises for a page.

    A URL listed under several keys is fetched once. Extraction runs in
    ``executor`` (or a thread), off the event loop that other fetches share.
    """
    keys_by_url: dict[str, list[str]] = {}
    for key, url in pages:
        keys_by_url.setdefault(url, []).append(key)
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> tuple[str, FullText]:
        async with gate:
            return url, await _full_text(client, url, limits, rate, executor)

    done = await asyncio.gather(*(one(url) for url in keys_by_url))
    return {key: found for url, found in done for key in keys_by_url[url]}


async def _full_text(
    client: httpx.AsyncClient,
    url: str,
    limits: FetchLimits,
    rate: RateLimiter,
    executor: Executor | None,
) -> FullText:
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return _failed(url, "not an http(s) URL")
    await rate.acquire()
    try:
        # An item's link is a stranger's: it may reach public addresses only.
        result = await fetch(
            client, url, limits=limits, headers={"Accept": ACCEPT_HTML}, trusted=False
        )
    except FetchError as error:
        return _failed(url, _reason(error), error.message)
    content_type = result.headers.get("content-type")
    loop = asyncio.get_running_loop()
    try:
        found = await loop.run_in_executor(
            executor, _extract, result.body, result.url, content_type
        )
    except Exception as error:  # a parser bug on one hostile page must cost that page only
        log.exception("full text of %s: extraction failed", url)
        return FullText(None, f"extraction failed: {type(error).__name__}")
    if found.text is None:
        return _failed(url, found.error or "no main text")
    return found


def _reason(error: FetchError) -> str:
    if error.category == "http" and error.status is not None:
        return f"HTTP {error.status}"
    return error.category.replace("_", " ")


def _failed(url: str, reason: str, detail: str | None = None) -> FullText:
    # INFO: the item keeps its summary, so this is a note, not a fault.
    log.info("full text of %s: %s", url, detail or reason)
    return FullText(None, reason)


# ---------------------------------------------------------------- extraction (pure)


def extract_main_text(html: bytes, url: str, *, content_type: str | None = None) -> str | None:
    """The article text of a page, paragraphs apart by a blank line; None when there is none.

    None when the body is not HTML, or when trafilatura (comments excluded,
    tables included, favouring precision) finds under ``MIN_CHARS``.
    """
    return _extract(html, url, content_type).text


def _extract(html: bytes, url: str, content_type: str | None) -> FullText:
    if not is_html(html, content_type):
        return FullText(None, "not HTML")
    text = _main_text(decode_html(html, content_type), url)
    if text is None or len(text) < MIN_CHARS:
        return FullText(None, "no main text")
    return FullText(text)


def is_html(body: bytes, content_type: str | None) -> bool:
    """Whether ``body`` is an HTML page: by its declared type, or its first bytes when vague."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in _HTML_TYPES | _VAGUE_TYPES:
        return False
    head = body[:1024]
    if b"\x00" in head.removeprefix(codecs.BOM_UTF16_LE).removeprefix(codecs.BOM_UTF16_BE):
        return False  # binary (UTF-16 pages start with a BOM)
    if media_type in _HTML_TYPES:
        return True
    return _HTML_START.match(head.removeprefix(codecs.BOM_UTF8)) is not None


def decode_html(body: bytes, content_type: str | None) -> str:
    """``body`` as text: BOM, header charset, meta charset, then detection."""
    for bom, bom_encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_encoding, errors="replace")
    header = _PARAM_CHARSET.search(content_type or "")
    meta = _META_CHARSET.search(body[:_PRESCAN])
    declared = [header.group(1)] if header else []
    if meta:
        declared.append(meta.group(1).decode("ascii"))
    for label in declared:
        encoding = _encoding(label)
        if encoding is not None:
            try:
                return body.decode(encoding)
            except UnicodeDecodeError:
                continue
    return _detected(body)


def _encoding(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A page whose meta could be read as ASCII is not UTF-16, whatever it says.
    if name.startswith("utf-16") or name.startswith("utf-32"):
        return "utf-8"
    return _BROWSER_ENCODING.get(name, name)


def _detected(body: bytes) -> str:
    # trafilatura is imported on first use: it costs half a second, and most feeds never need it.
    from trafilatura.utils import detect_encoding

    for guess in detect_encoding(body):
        try:
            return body.decode(guess)
        except (LookupError, UnicodeDecodeError):
            continue
    return body.decode("utf-8", errors="replace")


def _main_text(html: str, url: str) -> str | None:
    tree = _parse(html)
    if tree is None:
        return None
    from trafilatura import bare_extraction

    document = bare_extraction(
        tree,
        url=url,
        favor_precision=True,
        include_comments=False,
        include_tables=True,
        with_metadata=False,
    )
    if document is None or isinstance(document, dict) or document.body is None:
        return None
    import lxml.etree

    # Its XML keeps paragraphs apart (html_to_text knows its tag names); its text output would not.
    return html_to_text(lxml.etree.tostring(document.body, encoding="unicode"))


def _parse(html: str) -> Any:
    import lxml.etree
    import lxml.html

    # UTF-8 bytes with the encoding stated, so a <meta charset> in the page cannot re-decode it;
    # trafilatura's own parser settings otherwise.
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        collect_ids=False,
        default_doctype=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        return lxml.html.document_fromstring(html.encode(), parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None
