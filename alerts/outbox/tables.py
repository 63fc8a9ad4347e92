"""The outbox's read models, folded from the log: digests and their delivery state.

``deliveries`` holds one row per digest: pending (due at ``next_attempt_at``),
delivered, or abandoned. ``digest_items`` holds every (rule, channel,
document) a digest has covered, which is what makes "never twice" a lookup:
a match goes into a digest only when its document has no row there.
``channel_state`` remembers channels whose endpoint said it is gone. Like
every projection, all three are rebuilt from the log by ``monitor replay``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from monitor.eventlog.log import StoredEvent, UTCDateTime
from monitor.eventlog.projection import Projection, Row, RowsProjection

PENDING, DELIVERED, ABANDONED = "pending", "delivered", "abandoned"


class DeliveryRow(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (sa.Index("ix_deliveries_state_due", "state", "next_attempt_at"),)

    digest_id: str = Field(primary_key=True, max_length=36)
    rule: str = Field(nullable=False, max_length=64)
    channel: str = Field(nullable=False, max_length=64)
    channel_type: str = Field(nullable=False, max_length=16)
    state: str = Field(nullable=False, max_length=16)
    documents: int = Field(nullable=False)
    entries: int = Field(nullable=False)
    more: int = Field(nullable=False)
    subject: str = Field(nullable=False)
    # Attempts since the digest was assembled or a retry was requested (what max_attempts
    # counts), and in all.
    attempts: int = Field(default=0, nullable=False)
    total_attempts: int = Field(default=0, nullable=False)
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    # None while pending means: waiting for its channel to be enabled again.
    next_attempt_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    last_attempt_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    delivered_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    last_category: str | None = None
    last_error: str | None = None
    last_status: int | None = None
    # The DigestAssembled event: the rendered message every attempt sends.
    assembled_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


class DigestItemRow(SQLModel, table=True):
    __tablename__ = "digest_items"
    __table_args__ = (
        sa.Index("ix_digest_items_pair", "rule", "channel", "document_id", unique=True),
        sa.Index("ix_digest_items_watermark", "rule", "channel", "match_seq"),
    )

    item_id: str = Field(primary_key=True, max_length=200)  # "<rule>/<channel>/<document_id>"
    rule: str = Field(nullable=False, max_length=64)
    channel: str = Field(nullable=False, max_length=64)
    document_id: str = Field(nullable=False, max_length=32)
    digest_id: str = Field(nullable=False, max_length=36)
    match_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


class ChannelStateRow(SQLModel, table=True):
    __tablename__ = "channel_state"

    channel: str = Field(primary_key=True, max_length=64)
    disabled: bool = Field(nullable=False)
    reason: str = Field(nullable=False)
    destination: str = Field(nullable=False, max_length=64)
    changed_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


deliveries_table: sa.Table = DeliveryRow.__table__  # type: ignore[attr-defined]
digest_items_table: sa.Table = DigestItemRow.__table__  # type: ignore[attr-defined]
channel_state_table: sa.Table = ChannelStateRow.__table__  # type: ignore[attr-defined]


def _stamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def fold_delivery(row: Row | None, event: StoredEvent) -> Row | None:
    """The deliveries row after a digest or delivery event."""
    data = event.data
    if event.type == "DigestAssembled":
        return {
            "digest_id": data["digest_id"],
            "rule": data["rule"],
            "channel": data["channel"],
            "channel_type": data["channel_type"],
            "state": PENDING,
            "documents": len(data["documents"]),
            "entries": len(data["entries"]),
            "more": data["more"],
            "subject": data["message"]["subject"],
            "attempts": 0,
            "total_attempts": 0,
            "created_at": event.recorded_at,
            "next_attempt_at": event.recorded_at,
            "last_attempt_at": None,
            "delivered_at": None,
            "last_category": None,
            "last_error": None,
            "last_status": None,
            "assembled_seq": event.seq,
            "last_seq": event.seq,
        }
    if row is None:
        return None  # a delivery event without its digest: nothing to attach it to
    step = {"last_seq": event.seq}
    if event.type == "DeliverySucceeded":
        return (
            row
            | step
            | _attempted(row, event)
            | {
                "state": DELIVERED,
                "delivered_at": event.recorded_at,
                "next_attempt_at": None,
                "last_status": data.get("status"),
                "last_category": None,
                "last_error": None,
            }
        )
    if event.type == "DeliveryFailed":
        return (
            row
            | step
            | _attempted(row, event)
            | {
                "next_attempt_at": _stamp(data.get("retry_at")),
                "last_status": data.get("status"),
                "last_category": data["category"],
                "last_error": data["message"],
            }
        )
    if event.type == "DeliveryAbandoned":
        return row | step | {"state": ABANDONED, "next_attempt_at": None}
    if event.type == "DeliveryRetryRequested":
        return row | step | {"state": PENDING, "attempts": 0, "next_attempt_at": event.recorded_at}
    return row


def _attempted(row: Row, event: StoredEvent) -> Row:
    return {
        "attempts": row["attempts"] + 1,
        "total_attempts": row["total_attempts"] + 1,
        "last_attempt_at": event.recorded_at,
    }


def item_key(rule: str, channel: str, document_id: str) -> str:
    return f"{rule}/{channel}/{document_id}"


def digest_items(event: StoredEvent) -> Iterable[Row]:
    data = event.data
    for document_id, seq in zip(data["documents"], data["matches"], strict=True):
        yield {
            "item_id": item_key(data["rule"], data["channel"], document_id),
            "rule": data["rule"],
            "channel": data["channel"],
            "document_id": document_id,
            "digest_id": data["digest_id"],
            "match_seq": seq,
        }


def fold_channel(row: Row | None, event: StoredEvent) -> Row | None:
    data = event.data
    return {
        "channel": data["channel"],
        "disabled": event.type == "ChannelDisabled",
        "reason": data["reason"],
        "destination": data["destination"],
        "changed_at": event.recorded_at,
        "last_seq": event.seq,
    }


DELIVERY_PROJECTIONS = (
    Projection(
        name="deliveries",
        table=deliveries_table,
        handles=frozenset(
            {
                "DigestAssembled",
                "DeliverySucceeded",
                "DeliveryFailed",
                "DeliveryAbandoned",
                "DeliveryRetryRequested",
            }
        ),
        key=lambda event: str(event.data["digest_id"]),
        fold=fold_delivery,
    ),
    RowsProjection(
        name="digest_items",
        table=digest_items_table,
        handles=frozenset({"DigestAssembled"}),
        rows=digest_items,
    ),
    Projection(
        name="channel_state",
        table=channel_state_table,
        handles=frozenset({"ChannelDisabled", "ChannelEnabled"}),
        key=lambda event: str(event.data["channel"]),
        fold=fold_channel,
    ),
)
