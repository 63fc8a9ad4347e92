"""The outbox's read models as tables: digests and their delivery state.

``deliveries`` holds one row per digest: pending (due at ``next_attempt_at``),
delivered, or abandoned. ``digest_items`` holds every (rule, channel,
document) a digest has covered, which is what makes "never twice" a lookup:
a match goes into a digest only when its document has no row there.
``channel_state`` remembers channels whose endpoint said it is gone. Like
every projection, all three are rebuilt from the log by ``monitor replay``;
their folds are in :mod:`alerts.outbox.folds`, their queries in
:mod:`alerts.outbox.queries`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from alerts.outbox.folds import digest_items, fold_channel, fold_delivery
from monitor.eventlog.projection import Projection, RowsProjection
from monitor.eventlog.store import UTCDateTime


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
