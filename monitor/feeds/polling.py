"""One poll of a set of feeds: fetch concurrently, parse and normalise, record.

Fetching is I/O-bound, so it runs concurrently on one event loop, bounded
globally and per host so no publisher gets more than ``per_host`` requests
at once. Parsing and normalising are CPU-bound pure Python, so they run in a
process pool (both cores, not one behind the GIL). Every poll ends in
exactly one of ``FeedPolled``, ``FeedNotModified`` or ``FeedPollFailed``,
committed in the same transaction as the documents it brought.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from monitor import heap
from monitor.config.redaction import shown_url
from monitor.config.secrets import expand_headers
from monitor.config.settings import FeedSettings, FetchSettings
from monitor.documents.normalise import normalise_entry
from monitor.documents.plan import Plan
from monitor.documents.recording import record_documents
from monitor.documents.shapes import Document
from monitor.errors import FetchError, SourceError
from monitor.eventlog.events import Event, FeedNotModified, FeedPolled, FeedPollFailed
from monitor.eventlog.recorder import Recorder
from monitor.feeds.extractor import Extractor
from monitor.feeds.fetch import FetchLimits, FetchResult, fetch, make_client, redact_url
from monitor.feeds.fulltext import FullText, RateLimiter, full_texts
from monitor.feeds.parse import MAX_ENTRIES, parse_feed
from monitor.feeds.seen import SeenEntries, entry_digest
from monitor.readmodels.documents import known_documents
from monitor.readmodels.feeds import FeedState, feed_states
from monitor.rules.matcher import Match, match_documents
from monitor.search.keys import IndexTexts

log = logging.getLogger("monitor.polling")


@dataclass(frozen=True, slots=True)
class PollOutcome:
    feed: str
    outcome: str  # polled | not_modified | failed
    new: int = 0
    revised: int = 0
    category: str | None = None
    message: str | None = None
    matched: int = 0
    by_rule: tuple[tuple[str, int], ...] = ()  # rule -> new matches
    elapsed: float = 0.0


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a worker process sends back for one feed body."""

    format: str
    warning: str | None
    documents: list[Document]
    # document_id -> the rules it matches (by the active matcher; empty without rules)
    matches: dict[str, list[Match]]
    dropped: int = 0  # entries past [fetch] max_entries
    # The search index's tokens of each document, from the analysis that matched it.
    index: IndexTexts | None = None
    # Digests of every entry read (monitor.feeds.seen), and how many of them were in the
    # feed's last recorded poll and so were neither normalised nor matched again.
    seen: frozenset[int] = frozenset()
    skipped: int = 0


def parse_and_normalise(
    body: bytes,
    headers: dict[str, str],
    url: str,
    feed: str,
    language: str | None,
    fetched_at: datetime,
    max_entries: int = MAX_ENTRIES,
    known: frozenset[int] = frozenset(),
) -> Parsed:
    """Parse a feed body, normalise its entries and match them; runs in a worker process.

    Entries whose digest is in ``known`` (the feed's last recorded poll) are skipped.
    """
    parsed = parse_feed(body, headers, url, max_entries=max_entries)
    documents, seen, skipped = [], set(), 0
    for entry in parsed.entries:
        digest = entry_digest(entry)
        seen.add(digest)
        if digest in known:
            skipped += 1
            continue
        if language and not entry.language:
            entry = dataclasses.replace(entry, language=language)
        documents.append(normalise_entry(entry, source=feed, fetched_at=fetched_at))
    matches, index = match_documents(documents)
    heap.give_back()  # what parsing a large feed took, not kept for the worker's life
    return Parsed(
        parsed.format,
        parsed.warning,
        documents,
        matches,
        parsed.dropped,
        index,
        frozenset(seen),
        skipped,
    )


def fetch_limits(settings: FetchSettings) -> FetchLimits:
    limits = FetchLimits(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        total_timeout=settings.total_timeout,
        max_bytes=settings.max_bytes,
        max_redirects=settings.max_redirects,
        # Full-text feeds fetch pages too (two at a time each), beside the feeds themselves.
        max_connections=settings.concurrency * 2,
        allow_private_networks=settings.allow_private_networks,
    )
    if settings.user_agent:
        limits = dataclasses.replace(limits, user_agent=settings.user_agent)
    return limits


# Why a page kept the feed's summary that the operator should see on the poll's event (its
# own failures, "HTTP 404" or "no main text", are the publisher's and only logged).
_NOTED = {
    "blocked": "refused by the address policy (blocked)",
    "too large": "over [fetch] full_text_max_bytes (too large)",
    "time limit": "past [fetch] full_text_timeout (time limit)",
}


def _kept_summaries(pages: Sequence[tuple[str, str]], texts: dict[str, FullText]) -> str | None:
    notes = []
    for reason, said in _NOTED.items():
        urls = sorted(url for key, url in pages if key in texts and texts[key].error == reason)
        if urls:
            notes.append(f"{len(urls)} page(s) {said}, first {redact_url(urls[0])}")
    return "full text: " + "; ".join(notes) if notes else None


class Poller:
    """Polls feeds into a :class:`Recorder`."""

    def __init__(
        self,
        recorder: Recorder,
        settings: FetchSettings,
        *,
        executor: Executor | None = None,
        on_outcome: Callable[[PollOutcome], None] | None = None,
        extractor: Extractor | None = None,
    ) -> None:
        self.recorder = recorder
        self.settings = settings
        self.limits = fetch_limits(settings)
        self.executor = executor
        self.on_outcome = on_outcome
        # Shared by every call, so that polls started at different times (the daemon's feed
        # jobs) still respect the global and per-host limits together.
        self._gate = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._page_rates: dict[str, RateLimiter] = {}
        # Article pages are read by this one (a daemon keeps one across reloads), or by one
        # made for each call of poll(); either starts its process at the first page only.
        self.extractor = extractor
        self.seen = SeenEntries()

    async def poll(
        self, feeds: Sequence[FeedSettings], *, client: httpx.AsyncClient | None = None
    ) -> list[PollOutcome]:
        """Poll each of ``feeds`` once, concurrently; returns one outcome per feed.

        ``client`` (from :func:`make_client`) is reused when given; a long-running process
        keeps one, so connections and TLS contexts are not made again for every poll.
        """
        if client is None:
            async with make_client(self.limits) as own:
                return await self.poll(feeds, client=own)
        if self.extractor is None:
            extractor = Extractor(self.settings.full_text_timeout)
            try:
                return await self._poll(feeds, client, extractor)
            finally:
                await extractor.aclose()
        return await self._poll(feeds, client, self.extractor)

    async def _poll(
        self, feeds: Sequence[FeedSettings], client: httpx.AsyncClient, extractor: Extractor
    ) -> list[PollOutcome]:
        with self.recorder.store.reading() as conn:
            states = feed_states(conn, [feed.name for feed in feeds])
        outcomes: list[PollOutcome] = []

        async def one(feed: FeedSettings) -> None:
            async with self._gate, self._host_gate(feed.url):
                outcome = await self._poll_one(client, extractor, feed, states.get(feed.name))
            outcomes.append(outcome)
            if self.on_outcome is not None:
                self.on_outcome(outcome)

        await asyncio.gather(*(one(feed) for feed in feeds))
        return outcomes

    def _limits_for(self, feed: FeedSettings) -> FetchLimits:
        allow = feed.allow_private_networks
        if allow is None or allow == self.limits.allow_private_networks:
            return self.limits
        return dataclasses.replace(self.limits, allow_private_networks=allow)

    def _host_gate(self, url: str) -> asyncio.Semaphore:
        host = (urlsplit(url).hostname or "").lower()
        if host not in self._hosts:
            self._hosts[host] = asyncio.Semaphore(self.settings.per_host)
        return self._hosts[host]

    async def _poll_one(
        self,
        client: httpx.AsyncClient,
        extractor: Extractor,
        feed: FeedSettings,
        state: FeedState | None,
    ) -> PollOutcome:
        started = time.monotonic()
        fetched_at = self.recorder.clock()
        # Validators belong to the URL that gave them: a changed URL is fetched unconditionally.
        known = state if state is not None and state.url == feed.shown_url else None
        try:
            result = await fetch(
                client,
                feed.url,
                limits=self._limits_for(feed),
                etag=known.etag if known else None,
                last_modified=known.last_modified if known else None,
                headers=_headers(feed),
            )
            if result.not_modified:
                return self._not_modified(feed, result, time.monotonic() - started)
            parsed = await self._parse(result, feed, fetched_at)
            if feed.full_text:
                parsed = await self._with_full_text(client, extractor, feed, parsed)
        except SourceError as error:
            return self._failed(feed, error, time.monotonic() - started)
        except Exception as error:  # a bug or a dead worker must cost one feed, not the cycle
            log.exception("feed %s: unexpected error while parsing", feed.name)
            failure = SourceError(f"{type(error).__name__}: {error}", category="internal")
            return self._failed(feed, failure, time.monotonic() - started)
        return self._polled(feed, result, parsed, time.monotonic() - started)

    async def _parse(self, result: FetchResult, feed: FeedSettings, fetched_at: datetime) -> Parsed:
        # The base that relative links and guids resolve against carries no credentials:
        # a document's identity is recorded for good.
        base = shown_url(result.url)
        args = (
            result.body,
            result.headers,
            base,
            feed.name,
            feed.language,
            fetched_at,
            self.settings.max_entries,
            self.seen.known(feed),
        )
        if self.executor is None:
            return parse_and_normalise(*args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, parse_and_normalise, *args)

    async def _with_full_text(
        self, client: httpx.AsyncClient, extractor: Extractor, feed: FeedSettings, parsed: Parsed
    ) -> Parsed:
        """New and changed items get their page's main text, and are matched on it.

        The content hash stays the one of the feed's own entry, so the next poll of an
        unchanged entry (which again carries only the summary) is not taken for a revision.
        A page that cannot be fetched or read leaves the item with its summary.
        """
        with self.recorder.store.reading() as conn:
            known = known_documents(conn, [d.document_id for d in parsed.documents])
        fresh = [
            d for d in parsed.documents if d.url and known.get(d.document_id) != d.content_hash
        ]
        if not fresh:
            return parsed
        rate = self._page_rates.get(feed.name)
        if rate is None or rate.interval != 1.0 / feed.full_text_rate:
            rate = self._page_rates[feed.name] = RateLimiter(feed.full_text_rate)
        pages = [(d.document_id, str(d.url)) for d in fresh]
        # An article page gets a smaller cap than a feed: a 10 MB page took trafilatura 95 s.
        page_limits = dataclasses.replace(
            self._limits_for(feed),
            max_bytes=min(self.settings.max_bytes, self.settings.full_text_max_bytes),
        )
        texts = await full_texts(client, pages, limits=page_limits, rate=rate, extractor=extractor)
        replaced = {
            d.document_id: dataclasses.replace(d, text=str(texts[d.document_id].text))
            for d in fresh
            if d.document_id in texts and texts[d.document_id].text
        }
        note = _kept_summaries(pages, texts)
        if note:  # a refusal or a limit is recorded on the poll's event, not only in the log
            warning = f"{parsed.warning}; {note}" if parsed.warning else note
            parsed = dataclasses.replace(parsed, warning=warning)
        if not replaced:
            return parsed
        if self.executor is None:
            found, index = match_documents(list(replaced.values()))
        else:
            loop = asyncio.get_running_loop()
            found, index = await loop.run_in_executor(
                self.executor, match_documents, list(replaced.values())
            )
        matches = {k: v for k, v in parsed.matches.items() if k not in replaced} | found
        documents = [replaced.get(d.document_id, d) for d in parsed.documents]
        if parsed.index is not None and index is not None:
            index = IndexTexts(index.fingerprint, {**parsed.index.texts, **index.texts})
        return dataclasses.replace(parsed, documents=documents, matches=matches, index=index)

    def _polled(
        self, feed: FeedSettings, result: FetchResult, parsed: Parsed, elapsed: float
    ) -> PollOutcome:
        def summary(plan: Plan) -> list[Event]:
            return [polled_event(feed, result, parsed, plan, elapsed)]

        recorded = record_documents(
            self.recorder, parsed.documents, summary, parsed.matches, parsed.index
        )
        self.seen.remember(feed, parsed.seen)  # recorded: the next poll may skip these
        log.info(
            "feed %s: %d entries, %d new, %d revised",
            feed.name,
            len(parsed.documents) + parsed.skipped,
            recorded.new,
            recorded.revised,
        )
        return PollOutcome(
            feed.name,
            "polled",
            recorded.new,
            recorded.revised,
            matched=recorded.matched,
            by_rule=recorded.by_rule,
            elapsed=elapsed,
        )

    def _not_modified(self, feed: FeedSettings, result: FetchResult, elapsed: float) -> PollOutcome:
        event = FeedNotModified(
            feed=feed.name,
            url=feed.shown_url,
            status=result.status,
            elapsed=round(elapsed, 3),
            etag=result.etag,
            last_modified=result.last_modified,
        )
        self.recorder.append([event])
        log.info("feed %s: not modified", feed.name)
        return PollOutcome(feed.name, "not_modified", elapsed=elapsed)

    def _failed(self, feed: FeedSettings, error: SourceError, elapsed: float) -> PollOutcome:
        fetch_error = error if isinstance(error, FetchError) else None
        event = FeedPollFailed(
            feed=feed.name,
            url=feed.shown_url,
            status=fetch_error.status if fetch_error else None,
            category=error.category,
            message=error.message,
            elapsed=round(elapsed, 3),
            retry_after=fetch_error.retry_after if fetch_error else None,
        )
        self.recorder.append([event])
        # INFO, not WARNING: the failure is an event, and `run --once` prints its own summary.
        log.info("feed %s: %s: %s", feed.name, error.category, error.message)
        return PollOutcome(
            feed.name, "failed", category=error.category, message=error.message, elapsed=elapsed
        )


def polled_event(
    feed: FeedSettings, result: FetchResult, parsed: Parsed, plan: Plan, elapsed: float
) -> FeedPolled:
    """The poll's event, once the plan says what its documents added."""
    return FeedPolled(
        feed=feed.name,
        url=feed.shown_url,
        status=result.status,
        final_url=shown_url(result.url),
        format=parsed.format,
        entries=len(parsed.documents) + parsed.skipped,
        new=plan.new,
        revised=plan.revised,
        unchanged=plan.unchanged + plan.duplicates + parsed.skipped,
        elapsed=round(elapsed, 3),
        etag=result.etag,
        last_modified=result.last_modified,
        warning=parsed.warning,
        permanent_redirect=result.permanent_redirect and shown_url(result.permanent_redirect),
        dropped=parsed.dropped,
    )


def _headers(feed: FeedSettings) -> dict[str, str]:
    """The feed's extra headers with ``${NAME}`` taken from the environment."""
    try:
        return expand_headers(feed.headers, os.environ)
    except KeyError as missing:
        # The start-up check names it too; a variable unset since then fails only this feed.
        raise FetchError(
            f"a header refers to the unset environment variable {missing.args[0]}",
            category="config",
        ) from None
