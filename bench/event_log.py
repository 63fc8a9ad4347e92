"""Benchmark: append 200,000 events of about 1 KB in batches, then replay every projection.

    .venv/bin/python bench/event_log.py [--events 200000] [--batch 1000] [--url URL]

Prints events/s for the append and for the replay (median of --repeat runs),
on SQLite by default or on any store URL (PostgreSQL: a database that may be
emptied). Targets on SQLite, this 2-core machine: append >= 20,000 events/s,
replay >= 50,000 events/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import SQLModel

from monitor.event_log import EventLog
from monitor.events import DocumentIngested, Event, FeedPolled, PublishedDate
from monitor.projections import Projector
from monitor.store import open_store

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
    store = open_store(url)
    log = EventLog()
    events = workload(count)
    started = time.perf_counter()
    for start in range(0, count, batch):
        with store.transaction() as conn:
            log.append(conn, events[start : start + batch])
    append_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with store.transaction() as conn:
        replayed = Projector(log).rebuild(conn)
    replay_seconds = time.perf_counter() - started
    assert replayed == count, (replayed, count)
    store.dispose()
    return count / append_seconds, count / replay_seconds


def reset(url: str) -> None:
    if url.startswith("sqlite"):
        return
    engine = sa.create_engine(url)
    SQLModel.metadata.drop_all(engine)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="store URL (default: a fresh SQLite file per run)")
    args = parser.parse_args()
    appends, replays = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            url = args.url or f"sqlite:///{Path(folder) / 'bench.db'}"
            reset(url)
            append_rate, replay_rate = run(url, args.events, args.batch)
            reset(url)
        appends.append(append_rate)
        replays.append(replay_rate)
        print(f"run: append {append_rate:,.0f} events/s, replay {replay_rate:,.0f} events/s")
    backend = (args.url or "sqlite").split(":")[0]
    print(f"{backend}: {args.events:,} events of ~1 KB in batches of {args.batch}")
    print(f"append: median {statistics.median(appends):,.0f} events/s (target >= 20,000)")
    print(f"replay: median {statistics.median(replays):,.0f} events/s (target >= 50,000)")


if __name__ == "__main__":
    main()
