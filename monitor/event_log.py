"""The append-only event log: one table, written in batches, read in ``seq`` order.

``seq`` is the global order (strictly increasing); ``(stream, version)`` is
unique, so two writers that both believe they are appending version 3 of a
stream cannot both succeed: the second gets :class:`ConcurrencyError`. Rows
are never updated or deleted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect
from sqlmodel import Field, SQLModel

from monitor.errors import ConcurrencyError
from monitor.events import Event, decode, upcast

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
    id: str = Field(sa_column=sa.Column(sa.String(36), nullable=False, unique=True))
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
        if not events:
            return 0
        recorded_at = now or datetime.now(UTC)
        versions = self.stream_versions(conn, {event.stream for event in events})
        for stream, version in (expected or {}).items():
            if versions.get(stream, 0) != version:
                raise ConcurrencyError(stream, versions.get(stream, 0))
        rows = []
        for event in events:
            version = versions.get(event.stream, 0) + 1
            versions[event.stream] = version
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "type": event.type_name,
                    "stream": event.stream,
                    "version": version,
                    "recorded_at": recorded_at,
                    "schema_version": event.schema_version,
                    "data": event.payload(),
                }
            )
        try:
            conn.execute(sa.insert(events_table), rows)
        except sa.exc.IntegrityError as error:
            raise ConcurrencyError(*_conflict(rows)) from error
        return len(rows)

    def stream_versions(self, conn: Connection, streams: Iterable[str]) -> dict[str, int]:
        """The current version of each of ``streams`` (absent streams are left out)."""
        found: dict[str, int] = {}
        names = sorted(set(streams))
        column = events_table.c
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
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
        column = events_table.c
        remaining = limit
        while remaining is None or remaining > 0:
            size = self.batch_size if remaining is None else min(self.batch_size, remaining)
            query = sa.select(events_table).where(column.seq > after).order_by(column.seq)
            if types:
                query = query.where(column.type.in_(list(types)))
            if stream is not None:
                query = query.where(column.stream == stream)
            batch = conn.execute(query.limit(size)).all()
            for row in batch:
                yield StoredEvent(
                    seq=row.seq,
                    id=row.id,
                    type=row.type,
                    stream=row.stream,
                    version=row.version,
                    recorded_at=row.recorded_at,
                    data=upcast(row.type, row.schema_version, row.data),
                )
            if len(batch) < size:
                return
            after = batch[-1].seq
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


def _conflict(rows: list[dict[str, Any]]) -> tuple[str, int]:
    first = rows[0]
    return str(first["stream"]), int(first["version"]) - 1
