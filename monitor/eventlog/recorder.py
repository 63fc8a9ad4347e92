"""Appending to the log and projecting what was appended, in one transaction.

Every writer goes through a :class:`Recorder`: the events it appends and the projection
rows they produce commit together or not at all. The projections it keeps up to date
are handed in by whoever builds it (``monitor.app.wiring``), so the kernel needs to know
none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from monitor.eventlog.events import Event, StoredEvent
from monitor.eventlog.log import EventLog
from monitor.eventlog.projection import Applies, Projector
from monitor.eventlog.store import Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Recorder:
    """Appends events to one store and projects them into ``projections``."""

    def __init__(
        self, store: Store, projections: Sequence[Applies], *, clock: Clock = utc_now
    ) -> None:
        self.store = store
        self.log = EventLog()
        self.projector = Projector(self.log, projections)
        self.clock = clock

    def append(self, events: Sequence[Event]) -> None:
        """Append ``events`` and project them, in a transaction of their own."""
        with self.store.transaction() as conn:
            self.append_in(conn, events)

    def append_in(
        self,
        conn: Connection,
        events: Sequence[Event],
        *,
        expected: Mapping[str, int] | None = None,
    ) -> list[StoredEvent]:
        """Append and project ``events`` in the caller's transaction (which read what
        decided them, so the decision and its record commit together); returns them as
        stored."""
        stored = self.log.append_stored(conn, events, expected=expected, now=self.clock())
        self.projector.apply_appended(conn, stored)
        return stored

    def catch_up(self) -> int:
        """Apply what the projections have not applied yet; returns how many events were read."""
        with self.store.transaction() as conn:
            return self.projector.catch_up(conn)
