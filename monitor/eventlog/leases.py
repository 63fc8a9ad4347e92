"""Who does what when several workers share one PostgreSQL database: leases and workers.

A lease names one piece of work (``feed:bbc-world``, ``digest:<id>``,
``seeds``) and is held by one worker until it expires. A worker claims
leases with ``SELECT … FOR UPDATE SKIP LOCKED`` (so workers never wait on
each other: a lease another worker is claiming at that moment is simply not
offered), renews what it holds while it works, and releases it when done. A
worker killed with SIGKILL renews nothing: its leases expire after ``ttl``
and the others take the work over. Every worker also keeps a row in
``workers`` (host, pid, last seen) for `monitor status`.

The lease only says who may *start* a piece of work; the event log still says
whether it is needed (a feed's last poll, a digest's state), so a lease that
expires in the middle of slow work can at worst repeat an attempt, with the
same ids, never lose one.

SQLite is one process by design (DESIGN, "Scale"), so the daemon uses leases
only on PostgreSQL; the code works on both, which the tests use.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Field, SQLModel

from monitor.eventlog.store import Store, UTCDateTime, in_chunks

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LeaseRow(SQLModel, table=True):
    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=200)
    owner: str | None = Field(default=None, max_length=64)
    expires_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    acquired_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime()))


class WorkerRow(SQLModel, table=True):
    __tablename__ = "workers"

    worker_id: str = Field(primary_key=True, max_length=64)
    host: str = Field(nullable=False, max_length=255)
    pid: int = Field(nullable=False)
    started_at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    last_seen: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))


leases_table: sa.Table = LeaseRow.__table__  # type: ignore[attr-defined]
workers_table: sa.Table = WorkerRow.__table__  # type: ignore[attr-defined]


def new_worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class Leases:
    """The leases one worker holds on one store."""

    def __init__(
        self,
        store: Store,
        owner: str,
        *,
        ttl: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.owner = owner
        self.ttl = ttl
        self.clock = clock
        self._held: set[str] = set()

    @property
    def held(self) -> frozenset[str]:
        return frozenset(self._held)

    def claim(self, names: Collection[str]) -> set[str]:
        """Take every lease of ``names`` that is free, expired or already ours; return those."""
        if not names:
            return set()
        now = self.clock()
        got: set[str] = set()
        lease = leases_table.c
        with self.store.transaction() as conn:
            for chunk in in_chunks(names):
                _ensure_rows(conn, chunk)
                query = (
                    sa.select(lease.name)
                    .where(
                        lease.name.in_(chunk),
                        sa.or_(
                            lease.owner.is_(None),
                            lease.owner == self.owner,
                            lease.expires_at < now,
                        ),
                    )
                    .with_for_update(skip_locked=True)
                )
                free = [name for (name,) in conn.execute(query)]
                if free:
                    conn.execute(
                        sa.update(leases_table)
                        .where(lease.name.in_(free))
                        .values(
                            owner=self.owner,
                            expires_at=now + timedelta(seconds=self.ttl),
                            acquired_at=now,
                        )
                    )
                got.update(free)
        self._held |= got
        return got

    def renew(self) -> set[str]:
        """Extend what we hold; returns what we lost (expired and taken by another worker)."""
        if not self._held:
            return set()
        now = self.clock()
        lease = leases_table.c
        with self.store.transaction() as conn:
            kept: set[str] = set()
            for chunk in in_chunks(self._held):
                result = conn.execute(
                    sa.update(leases_table)
                    .where(lease.name.in_(chunk), lease.owner == self.owner)
                    .values(expires_at=now + timedelta(seconds=self.ttl))
                    .returning(lease.name)
                )
                kept.update(name for (name,) in result)
        lost = self._held - kept
        self._held = kept
        return lost

    def release(self, names: Collection[str]) -> None:
        mine = set(names) & self._held
        if not mine:
            return
        lease = leases_table.c
        with self.store.transaction() as conn:
            for chunk in in_chunks(mine):
                conn.execute(
                    sa.update(leases_table)
                    .where(lease.name.in_(chunk), lease.owner == self.owner)
                    .values(owner=None, expires_at=EPOCH)
                )
        self._held -= mine

    def release_all(self) -> None:
        self.release(set(self._held))


def _ensure_rows(conn: sa.Connection, names: list[str]) -> None:
    lease = leases_table.c
    present = {name for (name,) in conn.execute(sa.select(lease.name).where(lease.name.in_(names)))}
    missing = [
        {"name": name, "owner": None, "expires_at": EPOCH} for name in names if name not in present
    ]
    if not missing:
        return
    insert = (
        postgresql.insert(leases_table)
        if conn.dialect.name == "postgresql"
        else sqlite.insert(leases_table)
    )
    conn.execute(insert.on_conflict_do_nothing(index_elements=["name"]), missing)


def heartbeat(store: Store, worker_id: str, started_at: datetime, now: datetime) -> None:
    """Say this worker is alive (insert or refresh its row)."""
    values = {
        "worker_id": worker_id,
        "host": socket.gethostname()[:255],
        "pid": os.getpid(),
        "started_at": started_at,
        "last_seen": now,
    }
    with store.transaction() as conn:
        insert = (
            postgresql.insert(workers_table)
            if conn.dialect.name == "postgresql"
            else sqlite.insert(workers_table)
        )
        conn.execute(
            insert.values(values).on_conflict_do_update(
                index_elements=["worker_id"], set_={"last_seen": now}
            )
        )


def leave(store: Store, worker_id: str) -> None:
    """This worker stops: its row goes, and so does every lease it holds."""
    with store.transaction() as conn:
        conn.execute(sa.delete(workers_table).where(workers_table.c.worker_id == worker_id))
        conn.execute(
            sa.update(leases_table)
            .where(leases_table.c.owner == worker_id)
            .values(owner=None, expires_at=EPOCH)
        )


@dataclass(frozen=True, slots=True)
class Worker:
    """A worker that has said it is alive, and the leases it holds now."""

    worker_id: str
    host: str
    pid: int
    started_at: datetime
    last_seen: datetime
    leases: tuple[str, ...]


def workers(store: Store) -> list[Worker]:
    """Every worker that has said it is alive, the longest running first."""
    with store.reading() as conn:
        rows = conn.execute(sa.select(workers_table)).mappings().all()
        now = datetime.now(UTC)
        held: dict[str, list[str]] = {}
        query = sa.select(leases_table.c.owner, leases_table.c.name).where(
            leases_table.c.owner.is_not(None), leases_table.c.expires_at >= now
        )
        for owner, name in conn.execute(query):
            held.setdefault(owner, []).append(name)
    found = [
        Worker(
            worker_id=row["worker_id"],
            host=row["host"],
            pid=row["pid"],
            started_at=row["started_at"],
            last_seen=row["last_seen"],
            leases=tuple(sorted(held.get(row["worker_id"], []))),
        )
        for row in rows
    ]
    return sorted(found, key=lambda worker: str(worker.started_at))
