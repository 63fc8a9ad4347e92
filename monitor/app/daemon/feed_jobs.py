"""The daemon's feed jobs: one per feed at its interval, each asking the log whether it is due.

A job first asks the log when the feed is due (a failing feed backs off), so a restart,
a reload or another worker's poll never polls early and never forgets a feed; after the
poll it moves the job's next run to when the feed is next due. One poller and one HTTP
client serve every feed, so the global and per-host limits hold across jobs.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import datetime, timedelta

import httpx

from alerts.outbox.assembly import record_health
from monitor.app.daemon.runtime import Runtime, enabled_feeds
from monitor.app.scheduler import feed_trigger, move_job
from monitor.config.settings import FeedSettings, FetchSettings
from monitor.feeds.extractor import Extractor
from monitor.feeds.fetch import make_client
from monitor.feeds.politeness import next_poll_at
from monitor.feeds.polling import Poller, PollOutcome, fetch_limits
from monitor.readmodels.feeds import feed_states


class FeedJobs:
    def __init__(self, runtime: Runtime, on_matches: Callable[[], None]) -> None:
        self.runtime = runtime
        # Told when a poll recorded new matches (immediate digests go out soon after).
        self.on_matches = on_matches
        self._polling: set[str] = set()  # feeds with a poll in flight
        self._client: httpx.AsyncClient | None = None
        self._poller: Poller | None = None
        # Kept across reloads, so that a reload does not cut the pages being read.
        self._extractor = Extractor(runtime.settings.fetch.full_text_timeout)

    def start(self, pool: Executor | None) -> None:
        """Open the HTTP client and the poller (inside the event loop)."""
        self._client = make_client(fetch_limits(self.runtime.settings.fetch))
        self.use(pool)

    def use(self, pool: Executor | None) -> None:
        """Parse in ``pool`` from now on, under the fetch settings in force."""
        self._extractor.seconds = self.runtime.settings.fetch.full_text_timeout
        self._poller = Poller(
            self.runtime.recorder,
            self.runtime.settings.fetch,
            executor=pool,
            on_outcome=self._observe,
            extractor=self._extractor,
        )

    async def refetch(self, old: FetchSettings) -> None:
        """A reload changed ``[fetch]`` from ``old``: new limits need a new client."""
        if self.runtime.settings.fetch != old:
            if self._client is not None:
                await self._client.aclose()
            self._client = make_client(fetch_limits(self.runtime.settings.fetch))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        await self._extractor.aclose()

    def schedule(self, now: datetime) -> None:
        """A job per enabled feed, first run when the log says it is due."""
        runtime = self.runtime
        settings = runtime.settings
        with runtime.recorder.store.reading() as conn:
            states = feed_states(conn)
        for feed in enabled_feeds(settings):
            due = next_poll_at(
                states.get(feed.name),
                feed.interval,
                max_backoff=settings.fetch.max_backoff,
                url=feed.shown_url,
            )
            first = max(due or now, now)
            runtime.scheduler.add_job(
                runtime.tasks.job(functools.partial(self.poll, feed.name)),
                feed_trigger(feed.interval, settings.daemon.jitter, first),
                id=f"feed:{feed.name}",
                name=f"poll {feed.name}",
                next_run_time=first,
            )

    async def poll(self, name: str) -> None:
        feed = self.runtime.feed(name)
        # A reload reschedules every feed; one still polling is not polled twice at once.
        if feed is None or name in self._polling:
            return
        self._polling.add(name)
        try:
            await self._poll_feed(feed)
        finally:
            self._polling.discard(name)

    async def _poll_feed(self, feed: FeedSettings) -> None:
        runtime = self.runtime
        lease = [f"feed:{feed.name}"]
        if runtime.leases is not None and not runtime.leases.claim(lease):
            return  # another worker has it
        try:
            due = self._due(feed)
            # The poll before ended at its record time, so this one may come a moment early.
            if due is None or due - timedelta(seconds=1) <= runtime.clock():
                assert self._poller is not None and self._client is not None, "start() first"
                [outcome] = await self._poller.poll([feed], client=self._client)
                settings = runtime.settings
                record_health(
                    runtime.recorder, settings.feeds, settings.health, runtime.channels, [feed.name]
                )
                if outcome.matched:
                    self.on_matches()
                due = self._due(feed)
        finally:
            if runtime.leases is not None:
                runtime.leases.release(lease)
        self._reanchor(feed, due)

    def _due(self, feed: FeedSettings) -> datetime | None:
        with self.runtime.recorder.store.reading() as conn:
            state = feed_states(conn, [feed.name]).get(feed.name)
        max_backoff = self.runtime.settings.fetch.max_backoff
        return next_poll_at(state, feed.interval, max_backoff=max_backoff, url=feed.shown_url)

    def _reanchor(self, feed: FeedSettings, due: datetime | None) -> None:
        """Move the feed's next run to when it is due (a failing feed backs off; a poll
        that ended late, or another worker's poll, moves the whole cadence with it)."""
        if due is None:
            return
        spread = feed.interval * self.runtime.settings.daemon.jitter
        when = max(due, self.runtime.clock()) + timedelta(seconds=random.uniform(0, spread))
        move_job(self.runtime.scheduler, f"feed:{feed.name}", when)

    def _observe(self, outcome: PollOutcome) -> None:
        metrics = self.runtime.metrics
        metrics.poll(outcome.feed, outcome.outcome, outcome.elapsed)
        if outcome.new or outcome.revised:
            metrics.documents(outcome.new, outcome.revised)
        for rule, count in outcome.by_rule:
            metrics.matches(rule, count)
