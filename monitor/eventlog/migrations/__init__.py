"""Schema migrations: :func:`migrate` brings a store's tables up to date with this release.

The application calls it every time it opens the log (``monitor.app.wiring.open_log``),
with the projections it keeps, so there is no separate init or upgrade step.

Two kinds of tables, two policies:

- The event log (``events``) holds the only data that cannot be rebuilt. Its shape
  changes only through numbered Alembic revisions in ``versions/`` (driven by
  :mod:`monitor.eventlog.migrations.revisions`); ``alembic_version`` says which ones ran.
  ``0001`` is the table as releases before migrations made it with ``create_all``, so a
  database from one of them (an ``events`` table, no ``alembic_version``) is stamped
  ``0001`` without being touched, then upgraded like any other.
- Every other table is derived: the tables of the projections the caller hands in, the
  projection checkpoints, and the workers' leases. Missing ones are created from the
  current models, and a table whose columns differ from its model is dropped and made
  again. When that touches a projection, every projection is rebuilt from the log.
  Derived tables need no revisions.

Order and locking: first a read-only look, with no lock and without importing Alembic,
so that opening an up-to-date database (every start but the first after an upgrade)
costs a few catalogue queries and never waits for a writer. When something is to be
done, one transaction takes the write lock (SQLite: ``BEGIN IMMEDIATE``; PostgreSQL:
``pg_advisory_xact_lock``), looks again (another process may have migrated meanwhile),
stamps, upgrades the log, then fixes the derived tables. Both backends have
transactional DDL, so a failure leaves the database as it was, and two processes that
open a new database at once run the DDL once.

Revision files are named ``NNNN_slug.py`` with revision id ``NNNN`` and
``down_revision`` the number before: the newest file is the head, which this module
reads from the file names (tests/test_migrations.py checks that Alembic agrees).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.errors import StoreError
from monitor.eventlog.leases import leases_table, workers_table
from monitor.eventlog.log import EventLog
from monitor.eventlog.projection import Applies, Projector, checkpoints_table
from monitor.eventlog.store import Store, serialise, write_transaction

log = logging.getLogger("monitor.migrations")

LOG_TABLES = frozenset({"events"})
INITIAL = "0001"  # the log as create_all made it before there were migrations
VERSION_TABLE = "alembic_version"
VERSIONS = Path(__file__).parent / "versions"
# Derived tables of the kernel itself, beside the projections' own.
KERNEL_TABLES = (checkpoints_table, leases_table, workers_table)


@functools.cache
def known() -> tuple[str, ...]:
    """The event log's revisions this release has, oldest first."""
    return tuple(sorted(p.name.partition("_")[0] for p in VERSIONS.glob("[0-9]*_*.py")))


def head() -> str:
    """The newest revision of the event log this release knows."""
    return known()[-1]


def migrate(store: Store, projections: Sequence[Applies]) -> None:
    """Bring the database of ``store`` up to date: the log's revisions, then the derived
    tables (``projections``' and the kernel's). Raises :class:`StoreError` saying why not."""
    try:
        _migrate(store, _Derived.of(projections))
    except sa.exc.DBAPIError as error:  # "file is not a database", "database is locked", ...
        raise StoreError(str(error.orig)) from error


def _migrate(store: Store, derived: _Derived) -> None:
    with store.engine.connect() as conn:
        plan = _look(conn, derived)
    if plan.settled:
        return
    # Only now: importing Alembic takes longer (~80 ms) than checking a settled database.
    from monitor.eventlog.migrations import revisions

    with write_transaction(store.engine) as conn:
        serialise(conn, "monitor.migrations")
        plan = _look(conn, derived)
        current = plan.revision
        if current is None and "events" in plan.tables:
            log.info("event log made before migrations: stamping it at revision %s", INITIAL)
            revisions.stamp(conn, INITIAL)
            current = INITIAL
        if current != head():
            log.info("event log schema: %s -> %s", current or "new", head())
            revisions.upgrade(conn)
        _fix_derived(conn, plan, derived)


@dataclass(frozen=True)
class _Derived:
    """The derived tables of a release, and which of them are folded from the log."""

    projections: tuple[Applies, ...]
    tables: tuple[sa.Table, ...]  # none refers to another (no foreign keys): any order works
    folded: frozenset[str]  # a change to any of these means a rebuild

    @classmethod
    def of(cls, projections: Sequence[Applies]) -> _Derived:
        tables = {t.name: t for t in (*(p.table for p in projections), *KERNEL_TABLES)}
        folded = frozenset({p.table.name for p in projections} | {checkpoints_table.name})
        return cls(tuple(projections), tuple(tables.values()), folded)


@dataclass(frozen=True)
class _Plan:
    tables: frozenset[str]
    revision: str | None
    missing: tuple[sa.Table, ...]  # derived tables to create
    outdated: tuple[sa.Table, ...]  # derived tables whose columns differ from the model
    indexes: tuple[sa.Index, ...]  # indexes missing from derived tables kept as they are
    rebuild: bool

    @property
    def settled(self) -> bool:
        return self.revision == head() and not (self.missing or self.outdated or self.indexes)


def _look(conn: Connection, derived: _Derived) -> _Plan:
    """What this database needs, found without writing anything."""
    inspector = sa.inspect(conn)
    tables = frozenset(inspector.get_table_names())
    revision = (
        conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar()
        if VERSION_TABLE in tables
        else None
    )
    if revision is not None and revision not in known():
        raise StoreError(
            f"its event log is at schema revision {revision}, newer than this release of "
            f"news-monitor knows (up to {head()}): upgrade news-monitor"
        )
    present = [t for t in derived.tables if t.name in tables]
    columns = _reflected(inspector.get_multi_columns, present)
    indexes = _reflected(inspector.get_multi_indexes, present)
    outdated = tuple(
        t for t in present if {c["name"] for c in columns[t.name]} != set(t.columns.keys())
    )
    missing = tuple(t for t in derived.tables if t.name not in tables)
    return _Plan(
        tables=tables,
        revision=revision,
        missing=missing,
        outdated=outdated,
        indexes=tuple(
            index
            for t in present
            if t not in outdated
            for index in t.indexes
            if index.name not in {i["name"] for i in indexes[t.name]}
        ),
        # A projection created empty beside a log that has events (one new in this
        # release, or one dropped by hand) would miss what the log says: fold it all again.
        rebuild=any(t.name in derived.folded for t in outdated)
        or (any(t.name in derived.folded for t in missing) and _has_events(conn, tables)),
    )


def _reflected(get_multi: Callable[..., Any], tables: Sequence[sa.Table]) -> dict[str, Any]:
    """Reflect every table in one catalogue query, not one per table (PostgreSQL)."""
    if not tables:
        return {}
    found = get_multi(filter_names=[t.name for t in tables])
    return {name: value for (_schema, name), value in found.items()}


def _has_events(conn: Connection, tables: frozenset[str]) -> bool:
    if "events" not in tables:
        return False
    return conn.exec_driver_sql("SELECT 1 FROM events LIMIT 1").first() is not None


def _fix_derived(conn: Connection, plan: _Plan, derived: _Derived) -> None:
    """Create the derived tables that are missing, remake those that changed shape."""
    if plan.outdated:
        log.warning("tables %s changed shape: remaking them", [t.name for t in plan.outdated])
    for table in reversed(plan.outdated):
        table.drop(conn)
    for table in (*plan.missing, *plan.outdated):
        table.create(conn)
    for index in plan.indexes:
        index.create(conn)
    if plan.rebuild:
        log.warning("rebuilding the projections from the log")
        Projector(EventLog(), derived.projections).rebuild(conn)
