"""Schema migrations on start: new databases, databases of earlier releases, changed projections.

Every test runs on SQLite and PostgreSQL (``store_url``). The reference for "what the
schema must be" is a database that ``SQLModel.metadata.create_all`` made, as every
release before migrations did, compared through ``sqlalchemy.inspect``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel
from stores import postgres_schema, postgres_url

import monitor.readmodels.tables  # noqa: F401  (every table in the metadata)
from monitor.app.wiring import open_log, recorder_for
from monitor.errors import StoreError
from monitor.eventlog.events import Event, decode
from monitor.eventlog.migrations import (
    INITIAL,
    LOG_TABLES,
    VERSION_TABLE,
    VERSIONS,
    head,
    known,
    revisions,
)
from monitor.eventlog.store import Store, open_store, write_transaction

FIXTURES = Path(__file__).parent / "fixtures" / "events"
# Fixture events in an order a real log could have them (an ingest before its revision).
ORDER = [
    "RuleDefined",
    "DocumentIngested",
    "DocumentRevised",
    "RuleMatched",
    "FeedPolled",
    "FeedNotModified",
    "FeedPollFailed",
    "FeedHealthChanged",
    "DigestAssembled",
    "DeliveryFailed",
    "DeliveryAbandoned",
    "DeliveryRetryRequested",
    "DeliverySucceeded",
    "ChannelDisabled",
    "ChannelEnabled",
    "SeedFileFailed",
    "RuleRemoved",
]
WRITES = ("CREATE", "DROP", "ALTER", "INSERT", "UPDATE", "DELETE")


@pytest.fixture
def reference_url(store_url: str, tmp_path: Path) -> Iterator[str]:
    """A second empty database of the same backend as ``store_url``."""
    if store_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'reference.db'}"
        return
    base = postgres_url()
    assert base is not None
    with postgres_schema(base, "r") as url:
        yield url


def fixture_events() -> list[Event]:
    loaded = [orjson.loads(path.read_bytes()) for path in FIXTURES.glob("*.json")]
    loaded.sort(key=lambda e: ORDER.index(e["type"]) if e["type"] in ORDER else len(ORDER))
    return [decode(e["type"], e["schema_version"], e["data"]) for e in loaded]


def old_release(url: str) -> None:
    """A database as releases before migrations left it: create_all, then some events."""
    store = open_store(url)
    try:
        SQLModel.metadata.create_all(store.engine)
        recorder_for(store).append(fixture_events())
    finally:
        store.dispose()


@contextlib.contextmanager
def opened(url: str) -> Iterator[Store]:
    store = open_log(url).store
    try:
        yield store
    finally:
        store.dispose()


@contextlib.contextmanager
def engine_of(url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextlib.contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine of this process runs meanwhile (from any thread)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    return [s for s in seen if s.lstrip().upper().startswith(WRITES)]


def schema(url: str) -> dict[str, Any]:
    """Tables, columns, keys and indexes as the database reports them (not alembic's own)."""
    with engine_of(url) as engine:
        inspector = sa.inspect(engine)
        found: dict[str, Any] = {}
        for name in sorted(inspector.get_table_names()):
            if name == VERSION_TABLE:
                continue
            found[name] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], c["default"], c.get("autoincrement"))
                    for c in inspector.get_columns(name)
                ],
                "primary_key": inspector.get_pk_constraint(name),
                "unique": sorted(
                    (u["name"], u["column_names"]) for u in inspector.get_unique_constraints(name)
                ),
                "indexes": sorted(
                    (i["name"], i["column_names"], i["unique"]) for i in inspector.get_indexes(name)
                ),
                "foreign_keys": inspector.get_foreign_keys(name),
            }
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:
                # The DDL text itself: SQLite keeps it, and create_all's is the contract.
                ddl = conn.exec_driver_sql(
                    "SELECT name, sql FROM sqlite_master WHERE name NOT LIKE '%alembic%'"
                )
                found["sqlite_master"] = sorted(tuple(row) for row in ddl)
        return found


def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the models, in a stable order."""
    with engine_of(url) as engine, engine.connect() as conn:
        return {
            table.name: sorted((tuple(r) for r in conn.execute(sa.select(table))), key=repr)
            for table in SQLModel.metadata.sorted_tables
        }


def revision_of(url: str) -> list[str]:
    with engine_of(url) as engine, engine.connect() as conn:
        return list(conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars())


def test_a_new_database_gets_the_head_revision_and_the_models_schema(
    store_url: str,
    reference_url: str,
) -> None:
    with opened(store_url):
        pass
    assert revision_of(store_url) == [head()]
    with engine_of(store_url) as engine:
        inspector = sa.inspect(engine)
        assert set(inspector.get_table_names()) == {*SQLModel.metadata.tables, VERSION_TABLE}
        for table in SQLModel.metadata.sorted_tables:
            reflected = inspector.get_columns(table.name)
            assert [c["name"] for c in reflected] == list(table.columns.keys())
            assert [c["nullable"] for c in reflected] == [c.nullable for c in table.columns]
            assert {i["name"] for i in inspector.get_indexes(table.name)} >= {
                i.name for i in table.indexes
            }
    with engine_of(reference_url) as engine:
        SQLModel.metadata.create_all(engine)
    assert schema(store_url) == schema(reference_url)


def test_a_database_made_before_migrations_is_stamped_and_keeps_every_row(
    store_url: str,
) -> None:
    old_release(store_url)
    before = rows(store_url)
    assert len(before["events"]) == len(fixture_events())
    assert before["documents"] and before["deliveries"]
    with statements() as seen, opened(store_url):
        pass
    assert revision_of(store_url) == [head()]
    assert not any(s.lstrip().startswith("CREATE TABLE events") for s in seen)
    if head() == INITIAL:
        # Stamping writes alembic_version only (revisions after 0001 check their own changes).
        assert all(VERSION_TABLE in s for s in writes(seen)), writes(seen)
    assert rows(store_url) == before
    with opened(store_url) as store:
        recorder_for(store).append(fixture_events()[:1])
        with store.reading() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(sa.table("events")))
            assert count.scalar() == len(before["events"]) + 1


@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE feed_state DROP COLUMN retry_after",
        "ALTER TABLE deliveries ADD COLUMN gone_since VARCHAR(32) NOT NULL DEFAULT 'x'",
        "DROP TABLE documents",
        "DROP TABLE projection_checkpoints",
    ],
    ids=["dropped-column", "extra-column", "missing-projection", "missing-checkpoints"],
)
def test_a_changed_projection_is_rebuilt_from_the_log_with_equal_rows(
    store_url: str,
    change: str,
) -> None:
    with opened(store_url) as store:
        recorder_for(store).append(fixture_events())
    before = rows(store_url)
    with engine_of(store_url) as engine, engine.begin() as conn:
        conn.exec_driver_sql(change)
    with opened(store_url):
        pass
    assert rows(store_url) == before
    with engine_of(store_url) as engine:
        inspector = sa.inspect(engine)
        for table in SQLModel.metadata.sorted_tables:
            reflected = [c["name"] for c in inspector.get_columns(table.name)]
            assert reflected == list(table.columns.keys())


def test_a_missing_projection_index_is_created_without_a_rebuild(
    store_url: str,
) -> None:
    with opened(store_url) as store:
        recorder_for(store).append(fixture_events())
    with engine_of(store_url) as engine, engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_documents_source")
    with statements() as seen, opened(store_url):
        pass
    assert [s.split("(")[0].strip() for s in writes(seen)] == [
        "CREATE INDEX ix_documents_source ON documents"
    ]


def test_opening_an_up_to_date_database_writes_nothing(store_url: str) -> None:
    with opened(store_url) as store:
        recorder_for(store).append(fixture_events())
    before = rows(store_url)
    with statements() as seen, opened(store_url):
        pass
    assert writes(seen) == []
    # Nor does it take SQLite's write lock, which would make it wait for a running daemon.
    assert not any("IMMEDIATE" in s for s in seen)
    assert rows(store_url) == before


def test_two_openers_of_a_new_database_run_the_ddl_once(
    store_url: str,
    reference_url: str,
) -> None:
    openers = 4
    barrier = threading.Barrier(openers)
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            barrier.wait()
            with opened(store_url):
                pass
        except BaseException as error:
            errors.append(error)

    with statements() as seen:
        threads = [threading.Thread(target=open_one) for _ in range(openers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert sum(s.lstrip().startswith("CREATE TABLE events") for s in seen) == 1
    assert revision_of(store_url) == [head()]
    with engine_of(reference_url) as engine:
        SQLModel.metadata.create_all(engine)
    assert schema(store_url) == schema(reference_url)


def step_down(url: str, revision: str) -> None:
    """Undo ``revision`` alone, as the migrations run: on a store's engine, in one transaction."""
    script = revisions.scripts().get_revision(revision)
    assert script is not None
    down = script.down_revision
    assert down is None or isinstance(down, str), "the revisions are one line, no merges"
    store = open_store(url)
    try:
        with write_transaction(store.engine) as conn:
            revisions.downgrade(conn, down or "base")
            assert revisions.current(conn) == down
    finally:
        store.dispose()


def test_the_first_revision_downgrades_to_nothing_and_back(store_url: str) -> None:
    with opened(store_url):
        pass
    before = schema(store_url)
    for revision in reversed(known()):
        step_down(store_url, revision)
    with engine_of(store_url) as engine:
        assert not sa.inspect(engine).has_table("events")
    with opened(store_url):
        pass
    assert revision_of(store_url) == [head()]
    assert schema(store_url) == before


def test_every_later_revision_downgrades_and_upgrades_keeping_the_log(store_url: str) -> None:
    """Each revision after 0001 must undo itself and redo itself without losing an event."""
    with opened(store_url) as store:
        recorder_for(store).append(fixture_events())
    before_schema, before_rows = schema(store_url), rows(store_url)
    for revision in reversed(known()[1:]):
        step_down(store_url, revision)
        assert revision_of(store_url) == [revision_before(revision)]
        with opened(store_url):  # upgrades again
            pass
        assert schema(store_url) == before_schema
        assert rows(store_url) == before_rows


def revision_before(revision: str) -> str:
    return known()[known().index(revision) - 1]


def test_a_database_of_a_newer_release_is_refused(store_url: str) -> None:
    with opened(store_url):
        pass
    with engine_of(store_url) as engine, engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(StoreError, match=r"cannot open the database .*revision 9999, newer"):
        open_log(store_url)


def test_revision_files_are_numbered_in_one_line() -> None:
    """The file names say the order (monitor.eventlog.migrations reads the head from them)."""
    scripts = revisions.scripts()
    assert scripts.get_current_head() == head()
    previous = None
    for revision in known():
        script = scripts.get_revision(revision)
        assert script is not None and script.down_revision == previous
        assert Path(script.path).name.startswith(f"{revision}_")
        assert callable(script.module.upgrade) and callable(script.module.downgrade)
        previous = revision
    assert known() == tuple(f"{n:04d}" for n in range(1, len(known()) + 1))
    assert not LOG_TABLES - set(SQLModel.metadata.tables)
    assert sorted(p.name for p in VERSIONS.glob("*.py") if p.name != "__init__.py") == sorted(
        Path(s.path).name for s in scripts.walk_revisions()
    )


def test_a_database_that_cannot_be_opened_says_which(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    with pytest.raises(StoreError, match=r"^cannot open the database sqlite:///.*a-folder\.db: "):
        open_log(f"sqlite:///{folder}")
