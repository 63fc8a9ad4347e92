"""The log under concurrent writers: a tailing reader misses nothing, projections apply once.

Each writer and the reader have an engine of their own, as separate processes would. On
PostgreSQL both fail without the append lock (monitor/event_log.py): a writer that sleeps
between its insert and its commit lets a later seq commit first, and the reader moves past
the earlier one for good. Tried with ``EventLog.lock`` made a no-op: the reader missed 76 to
123 of about 600 events, and concurrent appends to one stream raised ConcurrencyError; with
only the projector's locks removed, 120 polls were counted 131 to 139 times. On SQLite they
pass either way: ``BEGIN IMMEDIATE`` already admits one writer at a time.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from stores import postgres_url

from monitor.app.wiring import PROJECTIONS, open_log, recorder_for
from monitor.documents.plan import Plan
from monitor.documents.recording import record_documents
from monitor.documents.shapes import Document, Published
from monitor.eventlog.events import FeedNotModified, FeedPolled, FeedPollFailed, StoredEvent
from monitor.eventlog.log import EventLog
from monitor.eventlog.projection import Projector, checkpoints_table
from monitor.eventlog.store import Store, open_store
from monitor.readmodels.tables import feed_state_table

WRITERS = 4
TRANSACTIONS = 50  # per writer, each of 1 to 5 events
ROUNDS = 60  # per projecting writer


def failed(feed: str, message: str) -> FeedPollFailed:
    return FeedPollFailed(
        feed=feed, url="http://127.0.0.1/x", status=None, category="dns", message=message, elapsed=0
    )


def append_batches(url: str, writer: int) -> list[str]:
    """Append TRANSACTIONS batches, each held open a little after its insert; their tags."""
    rng = random.Random(writer)
    store = open_store(url)
    log = EventLog()
    written: list[str] = []
    try:
        for n in range(TRANSACTIONS):
            batch = [failed(f"w{writer}", f"{writer}/{n}/{i}") for i in range(rng.randint(1, 5))]
            with store.transaction() as conn:
                log.append(conn, batch)
                # Commit late: without the lock, a writer that inserted after this one (and so
                # holds higher seqs) would often commit first.
                time.sleep(rng.uniform(0, 0.004))
            written.extend(event.message for event in batch)
    finally:
        store.dispose()
    return written


def tail(url: str, writers_done: threading.Event) -> list[StoredEvent]:
    """Follow the log by seq, in short transactions, until the writers are done and it is read."""
    store = open_store(url)
    log = EventLog()
    seen: list[StoredEvent] = []
    try:
        while True:
            # Read the flag before the log: a read that began after the last commit is final.
            finished = writers_done.is_set()
            with store.reading() as conn:
                batch = list(log.read(conn, after=seen[-1].seq if seen else 0))
            seen.extend(batch)
            if finished and not batch:
                return seen
            time.sleep(0.0005)
    finally:
        store.dispose()


def test_a_tailing_reader_sees_every_event_once_in_seq_order(store: Store, store_url: str) -> None:
    writers_done = threading.Event()
    with ThreadPoolExecutor(max_workers=WRITERS + 1) as pool:
        reader = pool.submit(tail, store_url, writers_done)
        writers = [pool.submit(append_batches, store_url, n) for n in range(WRITERS)]
        try:
            written = [tag for future in writers for tag in future.result(timeout=90)]
        finally:
            writers_done.set()
        seen = reader.result(timeout=30)
    assert all(a.seq < b.seq for a, b in pairwise(seen))
    tags = [e.data["message"] for e in seen]
    assert len(tags) == len(set(tags)), "an event was read twice"
    assert sorted(tags) == sorted(written), f"{len(set(written) - set(tags))} event(s) missed"
    versions: dict[str, list[int]] = defaultdict(list)
    for event in seen:
        versions[event.stream].append(event.version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())


def document(writer: int, n: int) -> Document:
    return Document(
        document_id=f"{writer:08x}{n:08x}",
        identity=f"guid:{writer}/{n}",
        source=f"f{n % 3}",
        url=f"https://e.org/{writer}/{n}",
        title=f"Armenia and Azerbaijan {writer}/{n}",
        text=f"Talks in Brussels {writer}/{n}",
        language="en",
        published=Published("2023-10-02T10:00:00Z", "second"),
        content_hash=f"{writer}-{n}",
    )


def polled(feed: str) -> Callable[[Plan], list[FeedPolled]]:
    def summary(plan: Plan) -> list[FeedPolled]:
        return [
            FeedPolled(
                feed=feed,
                url=f"http://127.0.0.1/{feed}",
                status=200,
                final_url=f"http://127.0.0.1/{feed}",
                format="rss20",
                entries=1,
                new=plan.new,
                revised=plan.revised,
                unchanged=plan.unchanged,
                elapsed=0.1,
            )
        ]

    return summary


def record_polls(url: str, writer: int) -> int:
    """Polls of three feeds shared with the other writer, projected as they go; how many."""
    rng = random.Random(100 + writer)
    store = open_store(url)
    recorder = recorder_for(store)
    try:
        for n in range(ROUNDS):
            feed = f"f{rng.randrange(3)}"
            if n % 3 == 0:
                record_documents(recorder, [document(writer, n)], polled(feed))
            elif n % 3 == 1:
                recorder.append([failed(feed, f"{writer}/{n}")])
            else:
                # Appended in one transaction and projected in another (as a crash between the
                # two would leave it): both writers' catch-ups then race for the same events.
                with store.transaction() as conn:
                    recorder.log.append(conn, [FeedNotModified(feed=feed, url="u", elapsed=0)])
                recorder.catch_up()
    finally:
        store.dispose()
    return ROUNDS


def snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    tables = [p.table for p in PROJECTIONS] + [checkpoints_table]
    with store.reading() as conn:
        return {
            t.name: [
                dict(row)
                for row in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()
            ]
            for t in tables
        }


def test_writers_projecting_at_once_leave_what_a_rebuild_makes(
    store: Store, store_url: str
) -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures: list[Future[int]] = [pool.submit(record_polls, store_url, n) for n in range(2)]
        polls = sum(future.result(timeout=90) for future in futures)
    live = snapshot(store)
    assert sum(row["polls"] for row in live[feed_state_table.name]) == polls
    assert len(live["documents"]) == 2 * len(range(0, ROUNDS, 3))
    with store.reading() as conn:
        head = EventLog().head(conn)
    assert {row["seq"] for row in live[checkpoints_table.name]} == {head}
    with store.transaction() as conn:
        Projector(EventLog(), PROJECTIONS).rebuild(conn)
    assert snapshot(store) == live


@contextlib.contextmanager
def second_schema() -> Iterator[Store]:
    """A store in another schema of the test database (stores.py makes the first)."""
    base = postgres_url()
    assert base is not None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in base else "?"
    store = open_log(f"{base}{separator}options={quote(f'-csearch_path={schema}')}").store
    try:
        yield store
    finally:
        store.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def append_within(store: Store, timeout: str) -> None:
    with store.engine.connect() as conn, conn.begin():
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{timeout}'")
        EventLog().append(conn, [failed("f", "m")])


@pytest.mark.parametrize(
    "store_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_lock_holds_appends_to_its_own_log_only(store: Store, store_url: str) -> None:
    with store.transaction() as conn, second_schema() as other:
        EventLog().append(conn, [failed("f", "held")])  # holds the lock until the end
        with pytest.raises(sa.exc.OperationalError, match="lock timeout"):
            append_within(store, "200ms")
        # Another schema of the database is another log: it does not wait for this one.
        append_within(other, "5s")
