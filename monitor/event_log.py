"""The append-only event log: one table, written in batches, read in ``seq`` order.

``seq`` is the global order (strictly increasing); ``(stream, version)`` is
unique, so two writers that both believe they are appending version 3 of a
stream cannot both succeed: the second gets :class:`ConcurrencyError`. Rows
are never updated or deleted.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect
from sqlmodel import Field, SQLModel

from monitor.errors import ConcurrencyError
from monitor.events import Event, decode, upcast
from monitor.store import bulk_write, db_datetime, in_chunks

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), not a BIGINT one.
SeqType = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps stored as UTC and read back as aware UTC datetimes on every backend.

    SQLite has no timezone type: ``DateTime(timezone=True)`` silently drops the offset there.
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is required")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


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


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the log; ``data`` is already upcast to the current schema."""

    seq: int
    id: str
    type: str
    stream: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]

    @property
    def event(self) -> Event:
        return decode(self.type, _CURRENT, self.data)

    def envelope(self) -> dict[str, Any]:
        """The JSON shape of ``monitor events --json`` (a contract: see DESIGN.md)."""
        return {
            "seq": self.seq,
            "id": self.id,
            "type": self.type,
            "stream": self.stream,
            "version": self.version,
            "recorded_at": self.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "data": self.data,
        }


# ``StoredEvent.data`` is upcast on read, so decoding it again starts from the current version.
_CURRENT = 1 << 30


class EventLog:
    """Append and read events on a connection whose transaction the caller owns."""

    def __init__(self, *, batch_size: int = 2000) -> None:
        self.batch_size = batch_size

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
        without reading them back (SQLite: the writer holds the lock, so they follow the
        head); an empty list otherwise, and then the caller reads them from the log."""
        if conn.dialect.name != "sqlite":
            self._write(conn, events, expected, now)
            return []
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
