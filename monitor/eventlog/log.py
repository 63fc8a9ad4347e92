"""The append-only event log: one table, written in batches, read in ``seq`` order.

``seq`` is the global order (strictly increasing); ``(stream, version)`` is
unique, so two writers that both believe they are appending version 3 of a
stream cannot both succeed: the second gets :class:`ConcurrencyError`. Rows
are never updated or deleted.

Concurrency. A reader that follows the log (``read(conn, after=last)``, then
``last`` = the highest ``seq`` it saw) must see every event exactly once, in
order. On PostgreSQL ``seq`` comes from a sequence when a row is inserted, but
transactions commit in any order: were seq 11 committed and visible while seq
10 is still in flight, the reader would move past 10 for good. So every append
first takes one transaction-scoped advisory lock (:meth:`EventLog.lock`, one
per events table: see :func:`monitor.eventlog.store.serialise`) before it reads stream
versions and inserts. Appending transactions then run one at a time from that
point to their commit, so seqs are handed out in commit order; PostgreSQL
releases the lock only once the commit is visible, so any snapshot that sees an
event sees every event before it. The projector takes the same lock (a
transaction that holds it already gets it again at once), which also keeps
two writers from folding the same events from the same checkpoint. On SQLite
``BEGIN IMMEDIATE`` (see :class:`monitor.eventlog.store.Store`) already admits one
writer at a time, and the lock is a no-op.

The alternative keeps appends concurrent and makes readers stop below a safe
horizon instead: the lowest ``seq`` that a transaction still in flight may
commit (from ``pg_snapshot_xmin`` and a transaction id stored on each row, or
a wait-and-recheck on every gap). That puts a cost on every read, needs a
column more and is easy to get subtly wrong. The lock costs a few round
trips per transaction and serialises only a transaction's append, projection
and commit (what a writer reads to plan its events comes before); writers
append in batches (one transaction per poll), so it is not a bottleneck here.
A transaction that needs another advisory lock as well takes that one first
(as ``alerts/outbox/assembly.py`` does), so no two can wait on each other in a cycle.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from monitor.errors import ConcurrencyError
from monitor.eventlog.events import Event, StoredEvent, upcast
from monitor.eventlog.store import UTCDateTime, bulk_write, db_datetime, in_chunks, serialise

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")

# Held by every transaction that appends or projects, until it ends (see the module docstring).
APPEND_LOCK = "monitor.event_log:append"
_LOG_SCHEMA = "monitor.event_log:schema"  # a connection's cache of its events table's schema


class EventRecord(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("stream", "version", name="uq_events_stream_version"),
        sa.Index("ix_events_type_seq", "type", "seq"),
    )

    seq: int | None = Field(
        default=None, sa_column=sa.Column(SeqType, primary_key=True, autoincrement=True)
    )
    # Random UUIDs: a unique index on them would cost a random B-tree insert per event for a
    # guarantee that uuid4 already gives; seq is the key.
    id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False))
    type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    stream: str = Field(sa_column=sa.Column(sa.String(512), nullable=False))
    version: int = Field(nullable=False)
    recorded_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    schema_version: int = Field(nullable=False)
    data: dict[str, Any] = Field(sa_column=sa.Column(JsonType, nullable=False))


events_table: sa.Table = EventRecord.__table__  # type: ignore[attr-defined]


class EventLog:
    """Append and read events on a connection whose transaction the caller owns."""

    def __init__(self, *, batch_size: int = 2000) -> None:
        self.batch_size = batch_size

    def lock(self, conn: Connection) -> None:
        """Take the log's append lock until the transaction ends (the module docstring says why).

        Anything that must see the log stand still while it writes (appends, projections)
        takes it first; readers never do.
        """
        if conn.dialect.name != "postgresql":
            serialise(conn, APPEND_LOCK)
            return
        # Advisory locks belong to the database, not a schema: stores that share a database
        # a schema each (as the tests do) would otherwise queue behind each other's appends.
        schema = conn.info.get(_LOG_SCHEMA)
        if schema is None:
            schema = conn.info[_LOG_SCHEMA] = conn.exec_driver_sql(_PG_LOG_SCHEMA).scalar_one()
        serialise(conn, f"{APPEND_LOCK}:{schema}")

    def append(
        self,
        conn: Connection,
        events: Sequence[Event],
        *,
        expected: Mapping[str, int] | None = None,
        now: datetime | None = None,
    ) -> int:
        """Append ``events`` in order; returns how many were written.

        ``expected`` maps a stream to the version it must be at before this append
        (0 for "must not exist yet"); a mismatch raises :class:`ConcurrencyError`.
        """
        return len(self._write(conn, events, expected, now)[0])

    def append_stored(
        self,
        conn: Connection,
        events: Sequence[Event],
        *,
        expected: Mapping[str, int] | None = None,
        now: datetime | None = None,
    ) -> list[StoredEvent]:
        """Append ``events`` and return them as stored, when their ``seq`` can be known
        without reading them back; an empty list otherwise, and then the caller reads them
        from the log.

        The writer holds the append lock, so nobody else appends until it commits: the new
        rows follow the head unless the sequence skipped values (PostgreSQL, after a rolled
        back append), which the head afterwards shows.
        """
        if not events:
            return []
        self.lock(conn)
        head = self.head(conn)
        rows, payloads, recorded_at = self._write(conn, events, expected, now)
        if not rows or self.head(conn) != head + len(rows):
            return []
        return [
            StoredEvent(
                seq=head + index,
                id=row[0],
                type=row[1],
                stream=row[2],
                version=row[3],
                recorded_at=recorded_at.astimezone(UTC),
                data=data,
            )
            for index, (row, data) in enumerate(zip(rows, payloads, strict=True), start=1)
        ]

    def _write(
        self,
        conn: Connection,
        events: Sequence[Event],
        expected: Mapping[str, int] | None,
        now: datetime | None,
    ) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]], datetime]:
        recorded_at = now or datetime.now(UTC)
        if not events:
            return [], [], recorded_at
        # Before reading versions: they must not change until this transaction commits.
        self.lock(conn)
        versions = self.stream_versions(conn, {event.stream for event in events})
        for stream, version in (expected or {}).items():
            if versions.get(stream, 0) != version:
                raise ConcurrencyError(stream, versions.get(stream, 0))
        stamp = db_datetime(conn, recorded_at)
        rows = []
        payloads = []
        for event, event_id in zip(events, _uuid4s(len(events)), strict=True):
            version = versions.get(event.stream, 0) + 1
            versions[event.stream] = version
            data = event.payload()
            payloads.append(data)
            payload = orjson.dumps(data).decode()
            rows.append(
                (
                    event_id,
                    event.type_name,
                    event.stream,
                    version,
                    stamp,
                    event.schema_version,
                    payload,
                )
            )
        try:
            bulk_write(conn, events_table, _COLUMNS, rows)
        except sa.exc.IntegrityError as error:
            raise ConcurrencyError(*_conflict(rows)) from error
        return rows, payloads, recorded_at

    def stream_versions(self, conn: Connection, streams: Iterable[str]) -> dict[str, int]:
        """The current version of each of ``streams`` (absent streams are left out)."""
        found: dict[str, int] = {}
        if conn.dialect.name == "postgresql":
            # One max() per stream, which PostgreSQL answers from the (stream, version) index
            # whatever its statistics say: a GROUP BY over IN (...) scans the whole table when
            # they are stale, as after a bulk load (8x slower in bench/event_log.py).
            rows = _fetch(conn, _PG_STREAM_VERSIONS, (sorted(set(streams)),))
            return {stream: version for stream, version in rows if version is not None}
        column = events_table.c
        for chunk in in_chunks(streams):
            query = (
                sa.select(column.stream, sa.func.max(column.version))
                .where(column.stream.in_(chunk))
                .group_by(column.stream)
            )
            found.update({stream: version for stream, version in conn.execute(query)})
        return found

    def read(
        self,
        conn: Connection,
        *,
        after: int = 0,
        types: Sequence[str] | None = None,
        stream: str | None = None,
        limit: int | None = None,
    ) -> Iterator[StoredEvent]:
        """Events with ``seq > after`` in ``seq`` order, fetched in bounded batches."""
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        where: list[str] = [f"seq > {mark}"]
        params: list[Any] = [after]
        if types:
            where.append(f"type IN ({', '.join(mark for _ in types)})")
            params.extend(types)
        if stream is not None:
            where.append(f"stream = {mark}")
            params.append(stream)
        sql = (
            f"SELECT seq, id, type, stream, version, recorded_at, schema_version, data "
            f"FROM events WHERE {' AND '.join(where)} ORDER BY seq LIMIT {mark}"
        )
        remaining = limit
        while remaining is None or remaining > 0:
            size = self.batch_size if remaining is None else min(self.batch_size, remaining)
            params[0] = after
            batch = _fetch(conn, sql, (*params, size))
            for row in batch:
                yield _stored(row)
            if len(batch) < size:
                return
            after = batch[-1][0]
            if remaining is not None:
                remaining -= len(batch)

    def last_in_stream(self, conn: Connection, stream: str) -> StoredEvent | None:
        column = events_table.c
        query = (
            sa.select(column.seq)
            .where(column.stream == stream)
            .order_by(column.version.desc())
            .limit(1)
        )
        seq = conn.execute(query).scalar()
        if seq is None:
            return None
        return next(self.read(conn, after=seq - 1, limit=1))

    def head(self, conn: Connection) -> int:
        """The highest ``seq`` written so far (0 for an empty log)."""
        return int(conn.execute(sa.select(sa.func.max(events_table.c.seq))).scalar() or 0)


_COLUMNS = ("id", "type", "stream", "version", "recorded_at", "schema_version", "data")
# The schema of the events table that an unqualified ``events`` names on this connection.
_PG_LOG_SCHEMA = (
    "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = 'events'::regclass"
)
_PG_STREAM_VERSIONS = (
    "SELECT s, (SELECT max(version) FROM events WHERE stream = s) FROM unnest(%s::text[]) AS s"
)


def _fetch(conn: Connection, sql: str, params: tuple[Any, ...]) -> list[Any]:
    # The driver's own cursor, inside the caller's transaction: SQLAlchemy's Row objects cost
    # more than the query when a replay reads hundreds of thousands of events.
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@functools.lru_cache(maxsize=256)
def _recorded_at(value: str | datetime) -> datetime:
    # Every event of one append shares its timestamp, so this cache hits almost always.
    if isinstance(value, str):  # SQLite hands back the text it stored
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def _stored(row: Sequence[Any]) -> StoredEvent:
    seq, event_id, type_name, stream, version, recorded_at, schema_version, data = row
    if isinstance(data, str | bytes):  # SQLite again; psycopg decodes JSONB itself
        data = orjson.loads(data)
    return StoredEvent(
        seq=seq,
        id=event_id,
        type=type_name,
        stream=stream,
        version=version,
        recorded_at=_recorded_at(recorded_at),
        data=upcast(type_name, schema_version, data),
    )


def _uuid4s(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs, several times faster than calling uuid4() each time."""
    raw = bytearray(os.urandom(16 * count))
    ids = []
    for start in range(0, 16 * count, 16):
        raw[start + 6] = (raw[start + 6] & 0x0F) | 0x40
        raw[start + 8] = (raw[start + 8] & 0x3F) | 0x80
        h = raw[start : start + 16].hex()
        ids.append(f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}")
    return ids


def _conflict(rows: list[tuple[Any, ...]]) -> tuple[str, int]:
    _id, _type, stream, version, *_ = rows[0]
    return str(stream), int(version) - 1
