"""The pipeline's read models as tables, and how each is folded from the log.

``documents`` holds every document's current version (its text stays in the log, read
through ``last_seq``), ``feed_state`` each feed's last poll, ``rules`` each rule's
recorded definition and match count, ``matches`` every (rule, document) pair matched.
The folds are pure and live in :mod:`monitor.readmodels.folds`; queries over these
tables live beside the concern they answer (``documents``, ``feeds``, ``rules``).
Like every projection, all of them can be dropped and rebuilt from the log
(``monitor replay``), which is also how a new one is first filled.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from monitor.eventlog.projection import Applies, BulkCreate, Projection
from monitor.eventlog.store import UTCDateTime
from monitor.readmodels.folds import (
    INGESTED_FIELDS,
    fold_document,
    fold_feed,
    fold_match,
    fold_rule,
    match_key,
)


class DocumentRow(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (sa.Index("ix_documents_source", "source"),)

    document_id: str = Field(primary_key=True, max_length=32)
    source: str = Field(nullable=False)
    identity: str = Field(nullable=False)
    url: str | None = None
    title: str = Field(nullable=False)
    language: str = Field(nullable=False, max_length=16)
    published: str = Field(nullable=False, max_length=32)
    published_precision: str = Field(nullable=False, max_length=8)
    published_origin: str = Field(nullable=False, max_length=8)
    content_hash: str = Field(nullable=False, max_length=64)
    author: str | None = None
    revisions: int = Field(default=0, nullable=False)
    first_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False, index=True))
    # The event that holds the current title and text: the text lives in the log only, so the
    # largest part of a document is stored once (and replays do not copy it).
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    ingested_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    revised_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))


class FeedStateRow(SQLModel, table=True):
    __tablename__ = "feed_state"

    feed: str = Field(primary_key=True, max_length=64)
    url: str = Field(nullable=False)
    last_outcome: str = Field(nullable=False, max_length=16)  # polled | not_modified | failed
    last_status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    last_success_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))
    consecutive_failures: int = Field(default=0, nullable=False)
    # The Retry-After of the last failure, in seconds: the next poll waits at least as long.
    retry_after: float | None = None
    last_error_category: str | None = None
    last_error_message: str | None = None
    polls: int = Field(default=0, nullable=False)
    documents: int = Field(default=0, nullable=False)
    # "failing" once a health alert went out, until the feed recovers.
    health: str = Field(default="ok", nullable=False, max_length=16)
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


class RuleRow(SQLModel, table=True):
    __tablename__ = "rules"

    rule: str = Field(primary_key=True, max_length=64)
    version: int = Field(nullable=False)
    query: str = Field(nullable=False)
    channels: list[str] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    # Channel -> the seq from which its matches go to it: a channel added to a rule later
    # gets the news from then on, not the rule's whole history.
    channel_since: dict[str, int] = Field(sa_column=sa.Column(sa.JSON(), nullable=False))
    schedule: str = Field(nullable=False)
    enabled: bool = Field(nullable=False)
    removed: bool = Field(default=False, nullable=False)
    matches: int = Field(default=0, nullable=False)
    defined_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


class MatchRow(SQLModel, table=True):
    """One (rule, document) pair that matched: a document matches a rule once."""

    __tablename__ = "matches"
    __table_args__ = (sa.Index("ix_matches_rule_seq", "rule", "seq"),)

    match_id: str = Field(primary_key=True, max_length=128)  # "<rule>/<document_id>"
    rule: str = Field(nullable=False, max_length=64)
    document_id: str = Field(nullable=False, max_length=32)
    rule_version: int = Field(nullable=False)
    backfill: bool = Field(nullable=False)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    matched_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


documents_table: sa.Table = DocumentRow.__table__  # type: ignore[attr-defined]
rules_table: sa.Table = RuleRow.__table__  # type: ignore[attr-defined]
matches_table: sa.Table = MatchRow.__table__  # type: ignore[attr-defined]
feed_state_table: sa.Table = FeedStateRow.__table__  # type: ignore[attr-defined]


# The monitor's own projections; the application adds the outbox's (app/wiring.py).
PROJECTIONS: tuple[Applies, ...] = (
    Projection(
        name="documents",
        table=documents_table,
        handles=frozenset({"DocumentIngested", "DocumentRevised"}),
        key=lambda event: str(event.data["document_id"]),
        fold=fold_document,
        bulk=BulkCreate(
            event_type="DocumentIngested",
            fields=INGESTED_FIELDS,
            envelope={
                "revisions": "0",
                "first_seq": "seq",
                "last_seq": "seq",
                "ingested_at": "recorded_at",
                "revised_at": "NULL",
            },
        ),
    ),
    Projection(
        name="feed_state",
        table=feed_state_table,
        handles=frozenset({"FeedPolled", "FeedNotModified", "FeedPollFailed", "FeedHealthChanged"}),
        key=lambda event: str(event.data["feed"]),
        fold=fold_feed,
    ),
    Projection(
        name="rules",
        table=rules_table,
        handles=frozenset({"RuleDefined", "RuleRemoved", "RuleMatched"}),
        key=lambda event: str(event.data["rule"]),
        fold=fold_rule,
    ),
    Projection(
        name="matches",
        table=matches_table,
        handles=frozenset({"RuleMatched"}),
        key=lambda event: match_key(event.data["rule"], event.data["document_id"]),
        fold=fold_match,
    ),
)
