"""When a feed is next polled (pure): its interval, or a backoff while it keeps failing.

A feed that fails waits its interval times 2, 4, 8, … after each consecutive
failure, up to ``max_backoff`` (never less than its interval). It is never
dropped: a feed that has failed for a week is still tried every
``max_backoff``, and its first success brings back the normal interval. A
server that answers 429 or 503 with ``Retry-After`` gets at least the wait it
asked for (within ``max_backoff``). Miniflux stops polling after three
errors until someone clicks refresh; we would rather keep asking, slowly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the annotation only: this module stays free of the database
    from monitor.readmodels.feeds import FeedState


def poll_delay(
    interval: float,
    failures: int,
    *,
    max_backoff: float,
    retry_after: float | None = None,
) -> float:
    """Seconds from the last poll to the next."""
    if failures <= 0:
        return interval
    cap = max(interval, max_backoff)
    delay = min(cap, interval * 2.0 ** min(failures, 40))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def next_poll_at(
    state: FeedState | None,
    interval: float,
    *,
    max_backoff: float,
    url: str | None = None,
) -> datetime | None:
    """When the feed is next due, from its recorded state; None means now (never polled,
    or its URL changed since the last poll)."""
    if state is None or (url is not None and state.url != url):
        return None
    delay = poll_delay(
        interval,
        state.consecutive_failures,
        max_backoff=max_backoff,
        retry_after=state.retry_after,
    )
    return state.last_polled_at + timedelta(seconds=delay)


def is_due(
    state: FeedState | None,
    interval: float,
    now: datetime,
    *,
    max_backoff: float,
    url: str | None = None,
    slack: float = 0.0,
) -> bool:
    """Whether a poll now is on time; ``slack`` seconds early still counts (timer jitter)."""
    due = next_poll_at(state, interval, max_backoff=max_backoff, url=url)
    return due is None or due - timedelta(seconds=slack) <= now
