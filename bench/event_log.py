"""Benchmark: append 200,000 events of about 1 KB in batches, then replay every projection.

    .venv/bin/python bench/event_log.py [--events 200000] [--batch 1000] [--repeat 3]
        [--backends sqlite,postgresql] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

Prints events/s for the append and for the replay (median of --repeat runs) on
each backend, side by side. SQLite runs on a fresh file; PostgreSQL on the
database of --url (default $MONITOR_TEST_POSTGRES_URL), in a schema of its own
that each run creates and drops, so the database is left as it was. Giving
only --url benchmarks PostgreSQL alone. Targets, this 2-core machine: SQLite
append >= 20,000 events/s, PostgreSQL append >= 10,000 events/s, replay >=
50,000 events/s on both.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from monitor.app.wiring import PROJECTIONS, open_log
from monitor.eventlog.events import DocumentIngested, Event, FeedPolled, PublishedDate
from monitor.eventlog.log import EventLog
from monitor.eventlog.projection import Projector

BACKENDS = ("sqlite", "postgresql")
POSTGRES_ENV = "MONITOR_TEST_POSTGRES_URL"
TARGETS = {("sqlite", "append"): 20_000, ("postgresql", "append"): 10_000}
REPLAY_TARGET = 50_000

TEXT = (
    "Przedstawiciele Armenii i Azerbejdżanu spotkali się w Brukseli, aby omówić porozumienie "
    "pokojowe. Rozmowy dotyczyły granic, korytarzy transportowych i wymiany jeńców. "
) * 5


def workload(count: int) -> list[Event]:
    """Mostly documents (about 1 KB each), with one feed poll per 50 documents."""
    events: list[Event] = []
    for n in range(count):
        if n % 50 == 49:
            events.append(
                FeedPolled(
                    feed=f"feed-{n % 200}",
                    url="http://127.0.0.1/feed.xml",
                    status=200,
                    final_url="http://127.0.0.1/feed.xml",
                    format="rss20",
                    entries=50,
                    new=49,
                    revised=0,
                    unchanged=1,
                    elapsed=0.2,
                    etag=f'"{n}"',
                )
            )
            continue
        events.append(
            DocumentIngested(
                document_id=f"{n:016x}",
                source=f"feed-{n % 200}",
                identity=f"guid:{n}",
                url=f"https://news.example.org/{n}",
                title=f"Armenia i Azerbejdżan: rozmowy {n}",
                text=TEXT[: 700 + n % 100],
                language="pl",
                published=PublishedDate(value="2023-10-02T10:00:00Z", precision="second"),
                content_hash=f"{n:064x}",
            )
        )
    return events


def run(url: str, count: int, batch: int) -> tuple[float, float]:
    store = open_log(url).store
    log = EventLog()
    events = workload(count)
    started = time.perf_counter()
    for start in range(0, count, batch):
        with store.transaction() as conn:
            log.append(conn, events[start : start + batch])
    append_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with store.transaction() as conn:
        replayed = Projector(log, PROJECTIONS).rebuild(conn)
    replay_seconds = time.perf_counter() - started
    assert replayed == count, (replayed, count)
    store.dispose()
    return count / append_seconds, count / replay_seconds


@contextlib.contextmanager
def fresh_database(backend: str, postgres: str | None) -> Iterator[str]:
    """The URL of an empty store on ``backend``, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    assert postgres is not None
    # A schema per run, as tests/stores.py does: nothing else in the database is touched.
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres)
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in postgres else "?"
        yield f"{postgres}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def measure(backend: str, postgres: str | None, args: argparse.Namespace) -> tuple[float, float]:
    """Median append and replay rates of ``args.repeat`` runs, each on an empty store."""
    appends, replays = [], []
    for number in range(1, args.repeat + 1):
        with fresh_database(backend, postgres) as url:
            append_rate, replay_rate = run(url, args.events, args.batch)
        appends.append(append_rate)
        replays.append(replay_rate)
        print(
            f"{backend} run {number}: append {append_rate:,.0f} events/s, "
            f"replay {replay_rate:,.0f} events/s",
            flush=True,
        )
    return statistics.median(appends), statistics.median(replays)


def report(results: dict[str, tuple[float, float]]) -> None:
    names = list(results)
    print(f"{'median events/s':<16}" + "".join(f"{name:>22}" for name in names))
    for index, step in enumerate(("append", "replay")):
        cells = []
        for name in names:
            rate = results[name][index]
            target = TARGETS.get((name, step), REPLAY_TARGET)
            verdict = "ok" if rate >= target else "MISS"
            cells.append(f"{rate:>10,.0f} ({verdict} >= {target // 1000}k)")
        print(f"{step:<16}" + "".join(f"{cell:>22}" for cell in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--backends", help="comma-separated, of sqlite and postgresql (default: sqlite)"
    )
    parser.add_argument("--url", help=f"the PostgreSQL database to use (default: ${POSTGRES_ENV})")
    args = parser.parse_args()
    default = "postgresql" if args.url else "sqlite"
    backends = [b.strip() for b in (args.backends or default).split(",") if b.strip()]
    if unknown := [b for b in backends if b not in BACKENDS]:
        parser.error(f"--backends: unknown {', '.join(unknown)} (choose from {BACKENDS})")
    postgres = args.url or os.environ.get(POSTGRES_ENV)
    if postgres is not None and not postgres.startswith("postgresql"):
        parser.error(f"--url: a PostgreSQL URL is expected, not {postgres!r}")
    if "postgresql" in backends and postgres is None:
        parser.error(f"postgresql needs --url or ${POSTGRES_ENV}")
    results = {backend: measure(backend, postgres, args) for backend in backends}
    print(f"{args.events:,} events of ~1 KB in batches of {args.batch}, median of {args.repeat}")
    report(results)


if __name__ == "__main__":
    main()
