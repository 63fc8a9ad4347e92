"""The full text of feed items: fetch each item's page and keep its main text.

A feed with ``full_text = true`` often carries only a teaser, so its new items
are matched against the article itself. This module is the edge that gets it:
:func:`full_texts` fetches the pages (through :func:`monitor.feeds.fetch.fetch`,
so its timeouts, size cap and address policy apply), paced by a
:class:`RateLimiter` per feed, and hands each to an :class:`Extractor`, which
reads it (:mod:`monitor.feeds.article`) in a child process killed at its time
limit.

Nothing here raises for one page: each page ends as a :class:`FullText` whose
``text`` is None and whose ``error`` says why in a few words ("HTTP 404",
"timeout", "too large", "time limit", "not HTML", "no main text"), and the
caller keeps the summary.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import httpx

from monitor.errors import FetchError
from monitor.feeds.article import FullText, extract_main_text, is_html
from monitor.feeds.extractor import Extractor
from monitor.feeds.fetch import FetchLimits, fetch

__all__ = ["ACCEPT_HTML", "FullText", "RateLimiter", "extract_main_text", "full_texts"]

# Pages, not feeds: the fetch module's default Accept asks for feed types.
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"

log = logging.getLogger("monitor.fulltext")


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
    extractor: Extractor,
    concurrency: int = 2,
) -> dict[str, FullText]:
    """The main text of each ``(key, url)`` page, by key; never raises for a page.

    A URL listed under several keys is fetched once.
    """
    keys_by_url: dict[str, list[str]] = {}
    for key, url in pages:
        keys_by_url.setdefault(url, []).append(key)
    gate = asyncio.Semaphore(concurrency)

    async def one(url: str) -> tuple[str, FullText]:
        async with gate:
            return url, await _full_text(client, url, limits, rate, extractor)

    done = await asyncio.gather(*(one(url) for url in keys_by_url))
    return {key: found for url, found in done for key in keys_by_url[url]}


async def _full_text(
    client: httpx.AsyncClient,
    url: str,
    limits: FetchLimits,
    rate: RateLimiter,
    extractor: Extractor,
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
    if not is_html(result.body, content_type):
        return _failed(url, "not HTML")
    found = await extractor.extract(result.body, result.url, content_type)
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
