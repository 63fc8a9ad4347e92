"""The machinery of a projection: a table kept up to date by folding events into rows.

A :class:`Projection` folds each event into the row it concerns (previous
row and event in, next row out). A :class:`RowsProjection` is for events
that each add rows which never change afterwards (the documents a digest
covers). The :class:`Projector` applies both kinds and keeps their
checkpoints, the last ``seq`` each has applied, in the same transaction as
their rows, so a crash can neither apply an event twice nor skip one. Which
projections there are is the caller's to say: the kernel knows none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from monitor.eventlog.events import StoredEvent
from monitor.eventlog.log import EventLog
from monitor.eventlog.store import UTCDateTime, bulk_write, db_datetime, in_chunks

Row = dict[str, Any]


class Applies(Protocol):
    """What the projector needs of a projection."""

    @property
    def name(self) -> str: ...
    @property
    def table(self) -> sa.Table: ...
    @property
    def handles(self) -> frozenset[str]: ...
    @property
    def bulk(self) -> BulkCreate | None: ...
    def apply(self, conn: Connection, events: Sequence[StoredEvent]) -> None: ...


class _Columns:
    """Column order and the columns that need converting on the way into the database."""

    def __init__(self, table: sa.Table) -> None:
        columns = list(table.columns)
        self.names = tuple(c.name for c in columns)
        self.stamps = tuple(i for i, c in enumerate(columns) if isinstance(c.type, UTCDateTime))
        self.blobs = tuple(i for i, c in enumerate(columns) if isinstance(c.type, sa.JSON))

    def values(self, conn: Connection, row: Row) -> tuple[Any, ...]:
        values = [row[c] for c in self.names]
        for index in self.stamps:
            values[index] = db_datetime(conn, values[index])
        for index in self.blobs:
            values[index] = orjson.dumps(values[index]).decode()
        return tuple(values)


@dataclass(frozen=True)
class BulkCreate:
    """How a rebuild inserts the rows that one event type creates, in SQL instead of Python.

    Folding 200,000 events in Python costs several times more than letting the database copy
    them out of the log with its own JSON functions. Only for events that always create a
    new row (the first event of a stream), so order within the type does not matter.
    """

    event_type: str
    fields: dict[str, tuple[str, ...]]
    # Columns filled from the event row itself, as SQL over the events table.
    envelope: dict[str, str]

    def statement(self, conn: Connection, table: sa.Table) -> str:
        sqlite = conn.dialect.name == "sqlite"
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        paths = [
            f"json_extract(data, '$.{'.'.join(p)}')"
            if sqlite
            else f"(data #>> '{{{','.join(p)}}}')"
            for p in self.fields.values()
        ]
        columns = [*self.fields, *self.envelope]
        return (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "
            f"SELECT {', '.join([*paths, *self.envelope.values()])} FROM events "
            f"WHERE type = '{self.event_type}' AND seq > {mark} AND seq <= {mark}"
        )


@dataclass(frozen=True)
class Projection:
    """A table kept up to date by folding the events of ``handles`` into rows keyed by ``key``."""

    name: str
    table: sa.Table
    handles: frozenset[str]
    key: Callable[[StoredEvent], str]
    fold: Callable[[Row | None, StoredEvent], Row | None]
    bulk: BulkCreate | None = None
    _columns: _Columns = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_columns", _Columns(self.table))

    def apply(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        """Fold ``events`` (in ``seq`` order) into the table."""
        mine = [event for event in events if event.type in self.handles]
        if not mine:
            return
        rows = self._load(conn, {self.key(event) for event in mine})
        for event in mine:
            key = self.key(event)
            folded = self.fold(rows.get(key), event)
            if folded is not None:
                rows[key] = folded
        bulk_write(
            conn,
            self.table,
            self._columns.names,
            [self._columns.values(conn, row) for row in rows.values()],
            upsert_key=[c.name for c in self.table.primary_key.columns],
        )

    def _load(self, conn: Connection, keys: set[str]) -> dict[str, Row]:
        pk = self.table.primary_key.columns.values()[0]
        found: dict[str, Row] = {}
        for chunk in in_chunks(keys):
            query = sa.select(self.table).where(pk.in_(chunk))
            for row in conn.execute(query).mappings():
                found[row[pk.name]] = dict(row)
        return found


@dataclass(frozen=True)
class RowsProjection:
    """A table of rows that events add and never change (an event may add many)."""

    name: str
    table: sa.Table
    handles: frozenset[str]
    rows: Callable[[StoredEvent], Iterable[Row]]
    bulk: BulkCreate | None = None
    _columns: _Columns = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_columns", _Columns(self.table))

    def apply(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        values = [
            self._columns.values(conn, row)
            for event in events
            if event.type in self.handles
            for row in self.rows(event)
        ]
        if values:
            key = [c.name for c in self.table.primary_key.columns]
            bulk_write(conn, self.table, self._columns.names, values, upsert_key=key)


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "projection_checkpoints"

    name: str = Field(primary_key=True, max_length=64)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))


checkpoints_table: sa.Table = CheckpointRow.__table__  # type: ignore[attr-defined]


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
        projections: Sequence[Applies],
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
