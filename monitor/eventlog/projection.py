"""The machinery of a projection: a table kept up to date by folding events into rows.

A :class:`Projection` folds each event into the row it concerns (previous
row and event in, next row out). A :class:`RowsProjection` is for events
that each add rows which never change afterwards (the documents a digest
covers). The :class:`~monitor.readmodels.tables.Projector` applies both kinds and
keeps their checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.eventlog.log import StoredEvent, UTCDateTime
from monitor.eventlog.store import bulk_write, db_datetime, in_chunks

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
