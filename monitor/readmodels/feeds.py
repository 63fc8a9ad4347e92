"""Each feed's state as the log has it: its last poll, validators, failures and health."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from monitor.eventlog.store import in_chunks
from monitor.readmodels.tables import feed_state_table


@dataclass(frozen=True, slots=True)
class FeedState:
    """One ``feed_state`` row: what the last poll of a feed found (see ``fold_feed``)."""

    feed: str
    url: str
    last_polled_at: datetime
    last_outcome: str = "polled"  # polled | not_modified | failed
    last_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_success_at: datetime | None = None
    consecutive_failures: int = 0
    # The Retry-After of the last failure, in seconds: the next poll waits at least as long.
    retry_after: float | None = None
    last_error_category: str | None = None
    last_error_message: str | None = None
    polls: int = 0
    documents: int = 0
    # "failing" once a health alert went out, until the feed recovers.
    health: str = "ok"
    last_seq: int = 0

    @classmethod
    def from_row(cls, row: RowMapping) -> FeedState:
        return cls(**{name: row[name] for name in _FIELDS})


_FIELDS = tuple(f.name for f in fields(FeedState))


def feed_states(conn: Connection, names: Iterable[str] | None = None) -> dict[str, FeedState]:
    """Feed states by feed name: every feed's, or those of ``names``."""
    if names is None:
        rows = conn.execute(sa.select(feed_state_table)).mappings()
        return {row["feed"]: FeedState.from_row(row) for row in rows}
    found: dict[str, FeedState] = {}
    for chunk in in_chunks(names):
        query = sa.select(feed_state_table).where(feed_state_table.c.feed.in_(chunk))
        found.update(
            {row["feed"]: FeedState.from_row(row) for row in conn.execute(query).mappings()}
        )
    return found
