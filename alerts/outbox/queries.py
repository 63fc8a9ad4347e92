"""What the outbox's tables say: pending matches, due digests, disabled channels, the record.

Every function reads on the caller's connection and writes nothing; the rows that cross
into other modules come back as :class:`DeliveryRecord`, not as mappings.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from alerts.attempts import Due
from alerts.digest import MatchedDocument
from alerts.message import Message
from alerts.outbox.folds import PENDING, STATES
from alerts.outbox.tables import channel_state_table, deliveries_table, digest_items_table
from monitor.errors import UsageError
from monitor.eventlog.log import events_table
from monitor.readmodels.documents import document_texts
from monitor.readmodels.tables import matches_table


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One ``deliveries`` row: a digest and where its delivery stands (see ``fold_delivery``)."""

    digest_id: str
    rule: str
    channel: str
    channel_type: str
    state: str  # pending | delivered | abandoned
    documents: int
    entries: int
    more: int
    subject: str
    # Attempts since the digest was assembled or a retry was requested (what max_attempts
    # counts), and in all.
    attempts: int
    total_attempts: int
    created_at: datetime
    # None while pending means: held until its channel is enabled again.
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_category: str | None
    last_error: str | None
    last_status: int | None
    assembled_seq: int
    last_seq: int

    @property
    def held(self) -> bool:
        """Pending without a time: waiting for its channel, not for the clock."""
        return self.state == PENDING and self.next_attempt_at is None

    @classmethod
    def from_row(cls, row: RowMapping) -> DeliveryRecord:
        return cls(**{name: row[name] for name in _FIELDS})


_FIELDS = tuple(f.name for f in fields(DeliveryRecord))


def pending_matches(
    conn: Connection, rule: str, channel: str, *, since: int, include_backfill: bool
) -> list[MatchedDocument]:
    """The rule's matches after ``since`` whose document no digest has taken to ``channel``.

    A digest takes every pending match at once, in ``seq`` order, so the channel's newest
    taken match is a watermark: only matches after it need the per-document check, which
    keeps the query small however long the rule's history (and whatever the planner's
    statistics say about young tables).
    """
    m, items, ev = matches_table.c, digest_items_table.c, events_table.c
    watermark = conn.execute(
        sa.select(sa.func.max(items.match_seq)).where(items.rule == rule, items.channel == channel)
    ).scalar()
    since = max(since, int(watermark or 0))
    taken = (
        sa.select(items.item_id)
        .where(items.rule == rule, items.channel == channel, items.document_id == m.document_id)
        .exists()
    )
    query = (
        sa.select(m.seq, ev.data)
        .join(events_table, ev.seq == m.seq)
        .where(m.rule == rule, m.seq > since, ~taken)
        .order_by(m.seq)
    )
    if not include_backfill:
        query = query.where(m.backfill == sa.false())
    found = [(int(seq), data) for seq, data in conn.execute(query)]
    texts = document_texts(conn, [data["document_id"] for _, data in found])
    return [_matched(seq, data, texts.get(data["document_id"], "")) for seq, data in found]


def _matched(seq: int, data: dict[str, Any], text: str) -> MatchedDocument:
    return MatchedDocument(
        seq=seq,
        document_id=data["document_id"],
        title=data["title"],
        url=data.get("url"),
        source=data["source"],
        language=data["language"],
        published=data["published"]["value"],
        snippets=tuple(data.get("snippets", ())),
        text=text,
    )


def disabled_channels(conn: Connection) -> dict[str, str]:
    """Channel -> the destination that was gone, for every disabled channel."""
    c = channel_state_table.c
    query = sa.select(c.channel, c.destination).where(c.disabled == sa.true())
    return {name: where for name, where in conn.execute(query)}


def due_deliveries(
    conn: Connection, now: datetime, only: Collection[str] | None = None
) -> list[Due]:
    """Pending digests whose next attempt is due, oldest first, channels disabled left out."""
    d, ev = deliveries_table.c, events_table.c
    disabled = set(disabled_channels(conn))
    query = (
        sa.select(d.digest_id, d.rule, d.channel, d.attempts, ev.data)
        .join(events_table, ev.seq == d.assembled_seq)
        # No time while pending: held by a disabled channel, due as soon as it is enabled.
        .where(d.state == PENDING, sa.or_(d.next_attempt_at <= now, d.next_attempt_at.is_(None)))
        .order_by(d.created_at, d.digest_id)
    )
    if only is not None:
        query = query.where(d.digest_id.in_(list(only)))
    return [
        Due(digest_id, rule, channel, attempts, Message.from_json(data["message"]))
        for digest_id, rule, channel, attempts, data in conn.execute(query)
        if channel not in disabled
    ]


def find_digest(conn: Connection, prefix: str) -> DeliveryRecord:
    """The digest whose id starts with ``prefix``; UsageError when none or several."""
    d = deliveries_table.c
    if len(prefix) < 4:
        raise UsageError("give at least 4 characters of the digest id")
    rows = (
        conn.execute(sa.select(deliveries_table).where(d.digest_id.like(f"{prefix}%")).limit(2))
        .mappings()
        .all()
    )
    if not rows:
        raise UsageError(f"no digest with id {prefix!r}; see 'monitor deliveries'")
    if len(rows) > 1:
        raise UsageError(f"{prefix!r} is ambiguous; give more of the id")
    return DeliveryRecord.from_row(rows[0])


def published_times(conn: Connection, digests: Collection[str]) -> list[str]:
    """When each story the given digests showed (leads and copies) was published, as recorded
    (ISO 8601 with the precision its source gave; empty when unknown)."""
    d, ev = deliveries_table.c, events_table.c
    query = (
        sa.select(ev.data)
        .join(deliveries_table, ev.seq == d.assembled_seq)
        .where(d.digest_id.in_(list(digests)))
    )
    found: list[str] = []
    for (data,) in conn.execute(query):
        for entry in data.get("entries", []):
            for story in (entry, *entry.get("copies", [])):
                found.append(str(story.get("published") or ""))
    return found


def list_deliveries(
    conn: Connection, *, state: str | None = None, limit: int = 50
) -> list[DeliveryRecord]:
    """Digests newest first, with their delivery state."""
    d = deliveries_table.c
    query = sa.select(deliveries_table).order_by(d.created_at.desc(), d.digest_id).limit(limit)
    if state is not None:
        query = query.where(d.state == state)
    return [DeliveryRecord.from_row(row) for row in conn.execute(query).mappings()]


def delivery_counts(conn: Connection, states: Collection[str] = STATES) -> dict[str, int]:
    """How many digests are in each of ``states`` (every one present, at zero if need be).

    Counting pending and abandoned digests only is served by the (state, next_attempt_at)
    index: delivered rows, the bulk of the table, are never visited.
    """
    state = deliveries_table.c.state
    query = sa.select(state, sa.func.count()).where(state.in_(list(states))).group_by(state)
    counts = dict.fromkeys(states, 0)
    counts.update({str(name): int(count) for name, count in conn.execute(query)})
    return counts


def waiting_digests(conn: Connection, state: str, limit: int) -> list[DeliveryRecord]:
    """Pending digests by when they are next tried (held ones last: they wait for a person),
    or abandoned ones, the most recently given up first."""
    d = deliveries_table.c
    order = (
        (d.next_attempt_at.is_(None), d.next_attempt_at, d.created_at)
        if state == PENDING
        else (d.last_seq.desc(),)
    )
    query = sa.select(deliveries_table).where(d.state == state).order_by(*order).limit(limit)
    return [DeliveryRecord.from_row(row) for row in conn.execute(query).mappings()]
