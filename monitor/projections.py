"""Read models folded from the log: documents and feed state.

Each projection is a table plus a pure fold (``fold_document``,
``fold_feed``: previous row and an event in, next row out) and a checkpoint,
the last ``seq`` it has applied. The checkpoint is written in the same
transaction as the rows, so a crash can neither apply an event twice nor
skip one. Every projection can be dropped and rebuilt from the log
(``monitor replay``), which is also how a new projection is first filled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from monitor.event_log import EventLog, StoredEvent, UTCDateTime

Row = dict[str, Any]


class DocumentRow(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (sa.Index("ix_documents_source", "source"),)

    document_id: str = Field(primary_key=True, max_length=32)
    source: str = Field(nullable=False)
    identity: str = Field(nullable=False)
    url: str | None = None
    title: str = Field(nullable=False)
    text: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    language: str = Field(nullable=False, max_length=16)
    published: str = Field(nullable=False, max_length=32)
    published_precision: str = Field(nullable=False, max_length=8)
    published_origin: str = Field(nullable=False, max_length=8)
    content_hash: str = Field(nullable=False, max_length=64)
    author: str | None = None
    revisions: int = Field(default=0, nullable=False)
    first_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False, index=True))
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
    last_error_category: str | None = None
    last_error_message: str | None = None
    polls: int = Field(default=0, nullable=False)
    documents: int = Field(default=0, nullable=False)
    last_seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "projection_checkpoints"

    name: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


def fold_document(row: Row | None, event: StoredEvent) -> Row | None:
    """The documents row after ``event``."""
    data = event.data
    published = data["published"]
    values = {
        "document_id": data["document_id"],
        "source": data["source"],
        "url": data["url"],
        "title": data["title"],
        "text": data["text"],
        "language": data["language"],
        "published": published["value"],
        "published_precision": published["precision"],
        "published_origin": published["origin"],
        "content_hash": data["content_hash"],
        "author": data.get("author"),
        "last_seq": event.seq,
    }
    if event.type == "DocumentIngested" or row is None:
        return values | {
            "identity": data.get("identity", ""),
            "revisions": 0,
            "first_seq": event.seq,
            "ingested_at": event.recorded_at,
            "revised_at": None,
        }
    return row | values | {"revisions": row["revisions"] + 1, "revised_at": event.recorded_at}


def fold_feed(row: Row | None, event: StoredEvent) -> Row | None:
    """The feed_state row after a poll event."""
    data = event.data
    previous = row or {
        "feed": data["feed"],
        "etag": None,
        "last_modified": None,
        "last_success_at": None,
        "consecutive_failures": 0,
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
                "last_error_category": data["category"],
                "last_error_message": data["message"],
            }
        )
    success = {
        "last_success_at": event.recorded_at,
        "consecutive_failures": 0,
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


@dataclass(frozen=True)
class Projection:
    """A table kept up to date by folding the events of ``handles`` into rows keyed by ``key``."""

    name: str
    table: sa.Table
    handles: frozenset[str]
    key: Callable[[StoredEvent], str]
    fold: Callable[[Row | None, StoredEvent], Row | None]
    columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(c.name for c in self.table.columns))

    def apply(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        mine = [event for event in events if event.type in self.handles]
        if not mine:
            return
        rows = self._load(conn, {self.key(event) for event in mine})
        for event in mine:
            key = self.key(event)
            folded = self.fold(rows.get(key), event)
            if folded is not None:
                rows[key] = folded
        _upsert(conn, self.table, [{c: r[c] for c in self.columns} for r in rows.values()])

    def _load(self, conn: Connection, keys: Iterable[str]) -> dict[str, Row]:
        pk = self.table.primary_key.columns.values()[0]
        found: dict[str, Row] = {}
        ordered = sorted(keys)
        for start in range(0, len(ordered), 500):
            query = sa.select(self.table).where(pk.in_(ordered[start : start + 500]))
            for row in conn.execute(query).mappings():
                found[row[pk.name]] = dict(row)
        return found


def _upsert(conn: Connection, table: sa.Table, rows: list[Row]) -> None:
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table)
    keys = [c.name for c in table.primary_key.columns]
    update = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys}
    conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=update), rows)


documents_table: sa.Table = DocumentRow.__table__  # type: ignore[attr-defined]
feed_state_table: sa.Table = FeedStateRow.__table__  # type: ignore[attr-defined]
checkpoints_table: sa.Table = CheckpointRow.__table__  # type: ignore[attr-defined]

PROJECTIONS: tuple[Projection, ...] = (
    Projection(
        name="documents",
        table=documents_table,
        handles=frozenset({"DocumentIngested", "DocumentRevised"}),
        key=lambda event: str(event.data["document_id"]),
        fold=fold_document,
    ),
    Projection(
        name="feed_state",
        table=feed_state_table,
        handles=frozenset({"FeedPolled", "FeedNotModified", "FeedPollFailed"}),
        key=lambda event: str(event.data["feed"]),
        fold=fold_feed,
    ),
)


class Projector:
    """Brings every projection up to the head of the log."""

    def __init__(
        self,
        log: EventLog,
        projections: Sequence[Projection] = PROJECTIONS,
        *,
        batch_size: int = 5000,
    ) -> None:
        self.log = log
        self.projections = tuple(projections)
        self.batch_size = batch_size

    def catch_up(self, conn: Connection, progress: Callable[[int], None] | None = None) -> int:
        """Apply every event not yet applied; returns how many events were read."""
        checkpoints = self._checkpoints(conn)
        start = min(checkpoints.get(p.name, 0) for p in self.projections)
        head = self.log.head(conn)
        if head <= start:
            return 0
        handled = sorted(set().union(*(p.handles for p in self.projections)))
        read = 0
        batch: list[StoredEvent] = []
        for event in self.log.read(conn, after=start, types=handled):
            batch.append(event)
            if len(batch) >= self.batch_size:
                read += self._apply(conn, batch, checkpoints, progress)
                batch = []
        read += self._apply(conn, batch, checkpoints, progress)
        # Later events of other types are covered too: the checkpoint is the log head.
        self._save_checkpoints(conn, {p.name: head for p in self.projections})
        return read

    def rebuild(self, conn: Connection, progress: Callable[[int], None] | None = None) -> int:
        """Drop every projection table and fold the whole log into fresh ones."""
        for projection in self.projections:
            projection.table.drop(conn, checkfirst=True)
            projection.table.create(conn)
        conn.execute(
            sa.delete(checkpoints_table).where(
                checkpoints_table.c.name.in_([p.name for p in self.projections])
            )
        )
        return self.catch_up(conn, progress)

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
        _upsert(conn, checkpoints_table, [{"name": n, "seq": s} for n, s in values.items()])


def known_documents(conn: Connection, document_ids: Iterable[str]) -> dict[str, str]:
    """``document_id -> content_hash`` for those of ``document_ids`` already stored."""
    ids = sorted(set(document_ids))
    found: dict[str, str] = {}
    column = documents_table.c
    for start in range(0, len(ids), 500):
        query = sa.select(column.document_id, column.content_hash).where(
            column.document_id.in_(ids[start : start + 500])
        )
        found.update({doc_id: digest for doc_id, digest in conn.execute(query)})
    return found


def feed_states(conn: Connection) -> dict[str, Row]:
    """Every feed's state row, by feed name."""
    return {row["feed"]: dict(row) for row in conn.execute(sa.select(feed_state_table)).mappings()}
