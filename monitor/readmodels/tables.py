"""Read models folded from the log: documents and feed state.

Each projection is a table plus a pure fold (``fold_document``,
``fold_feed``: previous row and an event in, next row out) and a checkpoint,
the last ``seq`` it has applied. The checkpoint is written in the same
transaction as the rows, so a crash can neither apply an event twice nor
skip one. Every projection can be dropped and rebuilt from the log
(``monitor replay``), which is also how a new projection is first filled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from alerts.outbox.tables import DELIVERY_PROJECTIONS
from monitor.documents.shapes import Document, Published
from monitor.eventlog.log import EventLog, StoredEvent, UTCDateTime, events_table
from monitor.eventlog.projection import Applies, BulkCreate, Projection, Row
from monitor.eventlog.store import bulk_write, in_chunks


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


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "projection_checkpoints"

    name: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


# The documents columns that a document event's payload fills, by path into the payload.
# One table serves both the Python fold and the bulk SQL of a rebuild (BulkCreate), so the
# two cannot drift apart.
DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "document_id": ("document_id",),
    "source": ("source",),
    "url": ("url",),
    "title": ("title",),
    "language": ("language",),
    "published": ("published", "value"),
    "published_precision": ("published", "precision"),
    "published_origin": ("published", "origin"),
    "content_hash": ("content_hash",),
    "author": ("author",),
}
INGESTED_FIELDS = DOCUMENT_FIELDS | {"identity": ("identity",)}


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def fold_document(row: Row | None, event: StoredEvent) -> Row | None:
    """The documents row after ``event``."""
    data = event.data
    if event.type == "DocumentIngested" or row is None:
        values = {column: _dig(data, path) for column, path in INGESTED_FIELDS.items()}
        return values | {
            "revisions": 0,
            "first_seq": event.seq,
            "last_seq": event.seq,
            "ingested_at": event.recorded_at,
            "revised_at": None,
        }
    values = {column: _dig(data, path) for column, path in DOCUMENT_FIELDS.items()}
    return (
        row
        | values
        | {
            "last_seq": event.seq,
            "revisions": row["revisions"] + 1,
            "revised_at": event.recorded_at,
        }
    )


def fold_feed(row: Row | None, event: StoredEvent) -> Row | None:
    """The feed_state row after a poll event."""
    data = event.data
    if event.type == "FeedHealthChanged":
        if row is None:
            return None  # health follows polls; without a poll there is no row to mark
        health = "failing" if data["state"] == "failing" else "ok"
        return row | {"health": health, "last_seq": event.seq}
    previous = row or {
        "feed": data["feed"],
        "health": "ok",
        "etag": None,
        "last_modified": None,
        "last_success_at": None,
        "consecutive_failures": 0,
        "retry_after": None,
        "polls": 0,
        "documents": 0,
    }
    common = {
        "url": data["url"],
        "last_status": data.get("status"),
        "last_polled_at": event.recorded_at,
        "polls": previous["polls"] + 1,
        "last_seq": event.seq,
    }
    if event.type == "FeedPollFailed":
        return (
            previous
            | common
            | {
                "last_outcome": "failed",
                "consecutive_failures": previous["consecutive_failures"] + 1,
                "retry_after": data.get("retry_after"),
                "last_error_category": data["category"],
                "last_error_message": data["message"],
            }
        )
    success = {
        "last_success_at": event.recorded_at,
        "consecutive_failures": 0,
        "retry_after": None,
        "last_error_category": None,
        "last_error_message": None,
    }
    if event.type == "FeedNotModified":
        # A 304 may carry fresh validators; when it does not, the old ones still hold.
        return (
            previous
            | common
            | success
            | {
                "last_outcome": "not_modified",
                "etag": data.get("etag") or previous["etag"],
                "last_modified": data.get("last_modified") or previous["last_modified"],
            }
        )
    return (
        previous
        | common
        | success
        | {
            "last_outcome": "polled",
            "etag": data.get("etag"),
            "last_modified": data.get("last_modified"),
            "documents": previous["documents"] + data["new"],
        }
    )


def fold_rule(row: Row | None, event: StoredEvent) -> Row | None:
    """The rules row after a rule event (definitions, removals and the match count)."""
    data = event.data
    if event.type == "RuleMatched":
        return None if row is None else row | {"matches": row["matches"] + 1}
    if event.type == "RuleRemoved":
        return None if row is None else row | {"removed": True, "last_seq": event.seq}
    since = row["channel_since"] if row and not row["removed"] else {}
    return {
        "rule": data["rule"],
        "version": data["version"],
        "query": data["query"],
        "channels": list(data["channels"]),
        "channel_since": {c: since.get(c, event.seq) for c in data["channels"]},
        "schedule": data["schedule"],
        "enabled": data.get("enabled", True),
        "removed": False,
        "matches": row["matches"] if row else 0,
        "defined_at": event.recorded_at,
        "last_seq": event.seq,
    }


def match_key(rule: str, document_id: str) -> str:
    return f"{rule}/{document_id}"


def fold_match(row: Row | None, event: StoredEvent) -> Row | None:
    data = event.data
    if row is not None:
        return row  # the first match of a (rule, document) pair is the one on record
    return {
        "match_id": match_key(data["rule"], data["document_id"]),
        "rule": data["rule"],
        "document_id": data["document_id"],
        "rule_version": data["rule_version"],
        "backfill": data.get("backfill", False),
        "seq": event.seq,
        "matched_at": event.recorded_at,
    }


documents_table: sa.Table = DocumentRow.__table__  # type: ignore[attr-defined]
rules_table: sa.Table = RuleRow.__table__  # type: ignore[attr-defined]
matches_table: sa.Table = MatchRow.__table__  # type: ignore[attr-defined]
feed_state_table: sa.Table = FeedStateRow.__table__  # type: ignore[attr-defined]
checkpoints_table: sa.Table = CheckpointRow.__table__  # type: ignore[attr-defined]

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
    *DELIVERY_PROJECTIONS,
)


class Projector:
    """Brings every projection up to the head of the log.

    Every entry point takes the log's append lock first (:meth:`EventLog.lock`; a transaction
    that appended already holds it): two writers projecting at once would otherwise both read
    the same checkpoints and apply the same events twice, and a catch-up could record a head
    above an event still in flight, skipping it for good.
    """

    def __init__(
        self,
        log: EventLog,
        projections: Sequence[Applies] = PROJECTIONS,
        *,
        batch_size: int = 5000,
    ) -> None:
        self.log = log
        self.projections = tuple(projections)
        self.batch_size = batch_size

    def catch_up(self, conn: Connection, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event not yet applied; returns how many events were read."""
        self.log.lock(conn)
        checkpoints = self._checkpoints(conn)
        start = min(checkpoints.get(p.name, 0) for p in self.projections)
        head = self.log.head(conn)
        if head <= start:
            return 0
        read = 0
        batch: list[StoredEvent] = []
        # No type filter: the scan follows the primary key, where a filter would make SQLite
        # read the type index and sort; events no projection handles are simply skipped.
        for event in self.log.read(conn, after=start):
            batch.append(event)
            if len(batch) >= self.batch_size:
                read += self._apply(conn, batch, checkpoints, progress)
                batch = []
        read += self._apply(conn, batch, checkpoints, progress)
        self._save_checkpoints(conn, {p.name: head for p in self.projections})
        return read

    def apply_appended(self, conn: Connection, appended: Sequence[StoredEvent]) -> None:
        """Project events just appended in this transaction, without reading them back.

        Only when every projection was at the head just before them; otherwise (or when
        their seqs are unknown: ``appended`` is empty) this catches up from the log.
        """
        self.log.lock(conn)
        checkpoints = self._checkpoints(conn)
        before = appended[0].seq - 1 if appended else -1
        if not appended or any(checkpoints.get(p.name, 0) != before for p in self.projections):
            self.catch_up(conn)
            return
        self._apply(conn, list(appended), checkpoints, None)
        self._save_checkpoints(conn, {p.name: appended[-1].seq for p in self.projections})

    def rebuild(self, conn: Connection, progress: Callable[[int], None] | None = None) -> int:
        """Drop every projection table and fold the whole log into fresh ones.

        Returns the number of events the projections now cover (the log head).
        """
        self.log.lock(conn)
        head = self.log.head(conn)
        for projection in self.projections:
            projection.table.drop(conn, checkfirst=True)
            # Secondary indexes are built once at the end: cheaper than maintaining them per row.
            conn.execute(sa.schema.CreateTable(projection.table))
            self._rebuild_one(conn, projection, head, progress)
            for index in projection.table.indexes:
                index.create(conn)
        self._save_checkpoints(conn, {p.name: head for p in self.projections})
        return head

    def _rebuild_one(
        self,
        conn: Connection,
        projection: Applies,
        head: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        handles = set(projection.handles)
        if projection.bulk is not None:
            statement = projection.bulk.statement(conn, projection.table)
            for low in range(0, head, self.batch_size * 10):
                high = min(low + self.batch_size * 10, head)
                conn.exec_driver_sql(statement, (low, high))
                if progress is not None:
                    progress(high - low)
            handles.discard(projection.bulk.event_type)
        # What the bulk insert did not cover (revisions, feed polls) folds in seq order on top.
        batch: list[StoredEvent] = []
        for event in self.log.read(conn, types=sorted(handles)):
            batch.append(event)
            if len(batch) >= self.batch_size:
                projection.apply(conn, batch)
                batch = []
        projection.apply(conn, batch)

    def _apply(
        self,
        conn: Connection,
        batch: list[StoredEvent],
        checkpoints: dict[str, int],
        progress: Callable[[int], None] | None,
    ) -> int:
        for projection in self.projections:
            done = checkpoints.get(projection.name, 0)
            projection.apply(conn, [e for e in batch if e.seq > done])
        if progress is not None and batch:
            progress(len(batch))
        return len(batch)

    def _checkpoints(self, conn: Connection) -> dict[str, int]:
        rows = conn.execute(sa.select(checkpoints_table.c.name, checkpoints_table.c.seq))
        return {name: seq for name, seq in rows}

    def _save_checkpoints(self, conn: Connection, values: dict[str, int]) -> None:
        rows = list(values.items())
        bulk_write(conn, checkpoints_table, ("name", "seq"), rows, upsert_key=("name",))


def known_documents(conn: Connection, document_ids: Iterable[str]) -> dict[str, str]:
    """``document_id -> content_hash`` for those of ``document_ids`` already stored."""
    found: dict[str, str] = {}
    column = documents_table.c
    for chunk in in_chunks(document_ids):
        query = sa.select(column.document_id, column.content_hash).where(
            column.document_id.in_(chunk)
        )
        found.update({doc_id: digest for doc_id, digest in conn.execute(query)})
    return found


def document_texts(conn: Connection, document_ids: Iterable[str]) -> dict[str, str]:
    """``document_id -> text`` of the current version, read from the event it came from."""
    found: dict[str, str] = {}
    docs, events = documents_table.c, events_table.c
    for chunk in in_chunks(document_ids):
        query = (
            sa.select(docs.document_id, events.data)
            .join(events_table, events.seq == docs.last_seq)
            .where(docs.document_id.in_(chunk))
        )
        for doc_id, data in conn.execute(query):
            found[doc_id] = str(data["text"])
    return found


def stored_documents(
    conn: Connection,
    *,
    since: datetime | None = None,
    ids: Iterable[str] | None = None,
    batch: int = 500,
) -> Iterator[Document]:
    """Every stored document in its current version (text from the log), oldest first."""
    docs, events = documents_table.c, events_table.c
    last = 0
    while True:
        query = (
            sa.select(documents_table, events.data)
            .join(events_table, events.seq == docs.last_seq)
            .where(docs.first_seq > last)
            .order_by(docs.first_seq)
            .limit(batch)
        )
        if since is not None:
            query = query.where(docs.ingested_at >= since)
        if ids is not None:
            query = query.where(docs.document_id.in_(list(ids)))
        rows = conn.execute(query).mappings().all()
        for row in rows:
            yield Document(
                document_id=row["document_id"],
                identity=row["identity"],
                source=row["source"],
                url=row["url"],
                title=row["title"],
                text=str(row["data"]["text"]),
                language=row["language"],
                published=Published(
                    row["published"], row["published_precision"], row["published_origin"]
                ),
                content_hash=row["content_hash"],
                author=row["author"],
            )
        if len(rows) < batch:
            return
        last = rows[-1]["first_seq"]


def count_documents(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(documents_table)).scalar() or 0)


def rule_rows(conn: Connection) -> dict[str, Row]:
    """Every rule ever defined (removed ones too), by name."""
    return {row["rule"]: dict(row) for row in conn.execute(sa.select(rules_table)).mappings()}


def matched_pairs(conn: Connection, document_ids: Iterable[str]) -> set[tuple[str, str]]:
    """The (rule, document_id) pairs already matched among ``document_ids``."""
    found: set[tuple[str, str]] = set()
    column = matches_table.c
    for chunk in in_chunks(document_ids):
        query = sa.select(column.rule, column.document_id).where(column.document_id.in_(chunk))
        found.update((rule, doc) for rule, doc in conn.execute(query))
    return found


def feed_states(conn: Connection, names: Iterable[str] | None = None) -> dict[str, Row]:
    """Feed state rows by feed name: every feed's, or those of ``names``."""
    if names is None:
        rows = conn.execute(sa.select(feed_state_table)).mappings()
        return {row["feed"]: dict(row) for row in rows}
    found: dict[str, Row] = {}
    for chunk in in_chunks(names):
        query = sa.select(feed_state_table).where(feed_state_table.c.feed.in_(chunk))
        found.update({row["feed"]: dict(row) for row in conn.execute(query).mappings()})
    return found
