"""``monitor status``, gathered: feeds' health and schedule, the outbox backlog, the heartbeat.

This module reads; :mod:`monitor.app.status_view` prints what it read, as text or JSON.

Everything comes from the projections (``feed_state``, ``deliveries``) and the
configuration; nothing is written, not even a projection catch-up, so the command
never waits for the writer's lock and is safe to run while the daemon works. Every
writer catches the projections up in its own transaction, so they are current anyway.

Times are UTC; ages are relative to the ``now`` given ("3m ago", "in 12m").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.outbox.folds import ABANDONED, PENDING
from alerts.outbox.queries import DeliveryRecord, delivery_counts, waiting_digests
from monitor.config.settings import FeedSettings, Settings
from monitor.eventlog.leases import Worker, workers
from monitor.eventlog.store import Store
from monitor.feeds.politeness import next_poll_at, poll_delay
from monitor.readmodels.feeds import FeedState, feed_states

# Digests listed per state; the counts are always complete. An outage can leave thousands
# pending, and a status page that scrolls for minutes helps nobody.
LIST_LIMIT = 50


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One configured feed: its last poll and when the next one is due."""

    name: str
    enabled: bool
    url: str
    interval: float
    last_polled_at: datetime | None
    last_outcome: str | None  # polled | not_modified | failed; None when never polled
    last_status: int | None
    last_success_at: datetime | None
    consecutive_failures: int
    last_error_category: str | None
    last_error_message: str | None
    # Seconds from the last poll to the next: the interval while healthy, longer while failing.
    backoff: float
    # None: due now (never polled, or its URL changed since the last poll).
    next_poll_at: datetime | None
    failing: bool
    # The URL in config.toml differs from the one last polled (the next poll uses the new one).
    url_changed: bool
    polls: int
    documents: int

    @property
    def health(self) -> str:
        if not self.enabled:
            return "disabled"
        if self.last_polled_at is None:
            return "never polled"
        if self.failing:
            return "failing"
        return "retrying" if self.consecutive_failures else "ok"


@dataclass(frozen=True, slots=True)
class RemovedFeed:
    """A feed with history in the log that is no longer in the configuration."""

    name: str
    url: str
    last_polled_at: datetime
    last_outcome: str
    polls: int
    documents: int


@dataclass(frozen=True, slots=True)
class DigestStatus:
    """A pending or abandoned digest."""

    digest_id: str
    rule: str
    channel: str
    state: str
    attempts: int  # since it was assembled or last retried by hand: what max_attempts counts
    total_attempts: int
    created_at: datetime
    # None while pending: held until its channel is enabled again; always None when abandoned.
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_category: str | None
    last_error: str | None

    @property
    def held(self) -> bool:
        return self.state == PENDING and self.next_attempt_at is None


@dataclass(frozen=True, slots=True)
class StatusReport:
    now: datetime
    failure_threshold: int
    feeds: list[FeedStatus]
    removed_feeds: list[RemovedFeed]
    # Digests by state (pending, delivered, abandoned), every state present even at zero.
    delivery_counts: dict[str, int]
    pending: list[DigestStatus]
    abandoned: list[DigestStatus]
    # The daemon's heartbeat as it wrote it; None when there is none (not running, or a
    # version that writes none yet).
    daemon: dict[str, Any] | None = field(default=None)
    # Every worker that said it is alive in the database (several share one PostgreSQL
    # database), with the leases each holds now.
    workers: list[Worker] = field(default_factory=list)


def gather_status(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    heartbeat: Mapping[str, Any] | None = None,
    limit: int = LIST_LIMIT,
) -> StatusReport:
    """Read the state of every feed and of the outbox as of ``now`` (an aware UTC time)."""
    now = utc(now)
    with store.reading() as conn:
        states = feed_states(conn)
        counts = delivery_counts(conn)
        pending = [_digest(d) for d in waiting_digests(conn, PENDING, limit)]
        abandoned = [_digest(d) for d in waiting_digests(conn, ABANDONED, limit)]
    configured = {feed.name for feed in settings.feeds}
    return StatusReport(
        now=now,
        failure_threshold=settings.health.failures,
        feeds=[_feed_status(feed, states.get(feed.name), settings) for feed in settings.feeds],
        removed_feeds=[
            RemovedFeed(
                name=name,
                url=state.url,
                last_polled_at=state.last_polled_at,
                last_outcome=state.last_outcome,
                polls=state.polls,
                documents=state.documents,
            )
            for name, state in sorted(states.items())
            if name not in configured
        ],
        delivery_counts=counts,
        pending=pending,
        abandoned=abandoned,
        daemon=None if heartbeat is None else dict(heartbeat),
        workers=workers(store),
    )


def load_heartbeat(path: Path) -> dict[str, Any] | None:
    """The JSON object the daemon writes to ``path``; None when absent or unreadable (a
    heartbeat being replaced mid-read is as good as none: the next status shows it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _feed_status(feed: FeedSettings, state: FeedState | None, settings: Settings) -> FeedStatus:
    max_backoff = settings.fetch.max_backoff
    failures = state.consecutive_failures if state else 0
    return FeedStatus(
        name=feed.name,
        enabled=feed.enabled,
        url=feed.shown_url,
        interval=feed.interval,
        last_polled_at=state.last_polled_at if state else None,
        last_outcome=state.last_outcome if state else None,
        last_status=state.last_status if state else None,
        last_success_at=state.last_success_at if state else None,
        consecutive_failures=failures,
        last_error_category=state.last_error_category if state else None,
        last_error_message=state.last_error_message if state else None,
        backoff=poll_delay(
            feed.interval,
            failures,
            max_backoff=max_backoff,
            retry_after=state.retry_after if state else None,
        ),
        next_poll_at=next_poll_at(
            state, feed.interval, max_backoff=max_backoff, url=feed.shown_url
        ),
        failing=failures >= settings.health.failures,
        url_changed=state is not None and state.url != feed.shown_url,
        polls=state.polls if state else 0,
        documents=state.documents if state else 0,
    )


def _digest(record: DeliveryRecord) -> DigestStatus:
    return DigestStatus(
        digest_id=record.digest_id,
        rule=record.rule,
        channel=record.channel,
        state=record.state,
        attempts=record.attempts,
        total_attempts=record.total_attempts,
        created_at=record.created_at,
        next_attempt_at=record.next_attempt_at,
        last_attempt_at=record.last_attempt_at,
        last_category=record.last_category,
        last_error=record.last_error,
    )


def utc(stamp: datetime) -> datetime:
    # Naive times are UTC by this project's convention (the store reads them back aware).
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
