"""The database edge: one engine per process, created on first use.

SQLite is the embedded default (WAL so readers never block the writer, a
busy timeout so a second process waits rather than fails); PostgreSQL runs
the same code through psycopg 3. Opening a store only connects: bringing its schema up
to date is :mod:`monitor.eventlog.migrations`' job, which the application does on every
start (``monitor.app.wiring.open_log``), so there is no separate init or upgrade step.
"""

from __future__ import annotations

import contextlib
import functools
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine

from monitor.errors import StoreError


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


def _dumps(value: Any) -> str:
    # orjson keeps non-ASCII as UTF-8 (SQLAlchemy's default json.dumps escapes it, doubling
    # the size of Polish or Russian text) and is several times faster.
    return orjson.dumps(value).decode()


class Store:
    """An engine plus the transaction boundary every writer uses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def url(self) -> str:
        """The database's URL with its password hidden, fit for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One atomic unit: the events of a poll and the projection rows they produce."""
        try:
            with write_transaction(self.engine) as conn:
                yield conn
        except sa.exc.OperationalError as error:
            raise StoreError(f"database error: {error.orig}") from error

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that holds SQLite's write lock from its first statement.

    SQLite: take the write lock now, not at the first write; two processes that both read
    and then write would otherwise fail on the lock upgrade. Only engines made by
    :func:`open_store` know the ``immediate`` flag (see ``_sqlite_begin``).
    """
    with engine.connect() as conn:
        conn.info["immediate"] = True
        with conn.begin():
            yield conn


IN_LIMIT = 500  # keys per IN (...) list: well under every backend's parameter limit


def in_chunks(keys: Iterable[str]) -> Iterator[list[str]]:
    """The distinct ``keys``, sorted, in lists short enough for one ``IN (...)`` each."""
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), IN_LIMIT):
        yield ordered[start : start + IN_LIMIT]


def bulk_write(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    upsert_key: Sequence[str] = (),
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in one executemany; upsert on ``upsert_key``.

    This bypasses SQLAlchemy's per-row parameter processing, which costs more than the
    database itself for batches of small rows (see bench/event_log.py). Values must be
    ready for the driver: JSON as text, datetimes from :func:`db_datetime`.
    """
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)})"
    )
    if upsert_key:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in upsert_key)
        sql += f" ON CONFLICT ({', '.join(upsert_key)}) DO UPDATE SET {updates}"
    conn.exec_driver_sql(sql, list(rows))


def serialise(conn: Connection, key: str) -> None:
    """Hold a lock named ``key`` until the transaction ends, so that read-then-write on it is
    atomic across processes. SQLite's ``BEGIN IMMEDIATE`` already serialises every writer."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))


def db_datetime(conn: Connection, value: datetime | None) -> Any:
    """A UTC datetime as the driver stores it in a column of :class:`UTCDateTime`."""
    if value is None:
        return None
    naive = value.astimezone(UTC).replace(tzinfo=None)
    # SQLAlchemy's SQLite DateTime format, so rows written either way read back the same.
    return (
        naive.isoformat(sep=" ", timespec="microseconds")
        if conn.dialect.name == "sqlite"
        else naive
    )


def open_store(url: str, *, busy_timeout: float = 30.0) -> Store:
    """Connect to ``url`` (nothing is read or written until it is used).

    Its schema is not brought up to date here: :func:`monitor.eventlog.migrations.migrate`
    does that, with the projections its caller names (``monitor.app.wiring.open_log``).
    """
    return Store(_engine(url, busy_timeout))


def _engine(url: str, busy_timeout: float) -> Engine:
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path != ":memory:":
            _refuse_an_empty_file(Path(path.partition("?")[0]))
            folder = Path(path).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the database folder {folder}: {error}") from error
        engine = sa.create_engine(
            url,
            json_serializer=_dumps,
            json_deserializer=orjson.loads,
            connect_args={"timeout": busy_timeout, "isolation_level": None},
        )
        sa.event.listen(engine, "connect", functools.partial(_sqlite_pragmas, busy_timeout))
        # With isolation_level None the driver no longer opens transactions itself; emit BEGIN.
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    return sa.create_engine(
        url,
        json_serializer=_dumps,
        json_deserializer=orjson.loads,
        pool_pre_ping=True,
    )


EMPTY_GRACE = 10.0  # seconds a new database file may stay empty while its creator writes it


def _refuse_an_empty_file(path: Path) -> None:
    """An empty file where the database should be is refused, not made a new database.

    SQLite takes an empty file for a new database and would initialise it: a truncated or
    wrongly restored log would silently start again from nothing. A file that another
    process has just created (it writes the first page within milliseconds) is left alone.
    """
    try:
        stat = path.stat()
    except OSError:
        return  # none yet: a new database
    if stat.st_size or time.time() - stat.st_mtime < EMPTY_GRACE:
        return
    if any(path.with_name(path.name + s).exists() for s in ("-wal", "-journal")):
        return
    raise StoreError(
        f"{path} is an empty file, not a database: restore it from a backup, or remove it "
        "to start a new one"
    )


def _sqlite_pragmas(busy_timeout: float, dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        _switch_to_wal(cursor, busy_timeout)
    # NORMAL is durable across application crashes in WAL mode (only an OS crash can lose the
    # last commits), and it is many times faster than FULL.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # 64 MiB of page cache: index maintenance during replays and large polls stays in memory.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _switch_to_wal(cursor: Any, busy_timeout: float) -> None:
    """Put a new database in WAL mode (it stays so: the mode is kept in the file).

    The switch needs the database to itself, and SQLite refuses it at once, without waiting
    for the busy timeout, while another connection is in a transaction: two processes that
    open a new database together (a `monitor status` while the daemon starts) would see
    "database is locked". So this connection waits for its turn, as long as the busy
    timeout says a writer waits for the lock.
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.pop("immediate", False) else "BEGIN")
