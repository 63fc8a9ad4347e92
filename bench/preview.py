"""Benchmark: the rule editor's live preview over 100,000 stored documents.

    .venv/bin/python bench/preview.py [--documents 100000] [--store sqlite|URL] [--repeat 5]

Documents are built from real feed items of ``../shared/corpora/real-feeds`` (15
languages; the project's labelled sentences when the corpora are absent), about 1.3 KB
each, recorded the way ingestion records them (analysis, search-index tokens, one
transaction per 500). Then, for 20 typical queries (bare concepts, phrases, AND/OR/NOT,
NEAR, ``title:``), the preview's latency as the console asks for it (newest 20 matches,
``CONSOLE_BUDGET`` seconds of exact matching, total estimated past it) and with no budget
(every candidate matched: the exact total), median and 95th percentile over ``--repeat``
rounds. Also the index's build time and size per 10,000 documents, and ingestion with
the index on and off: ``monitor run --once`` over 20 feeds x 500 items with the 20 queries
as rules (bench/ingest.py's feeds), on a fresh store each time, alternated, median of 3.

Targets (issue 13): preview median < 300 ms, p95 < 1 s; the index costs at most 20% of
ingestion time.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from monitor.app.wiring import open_log
from monitor.config.settings import Settings
from monitor.documents.normalise import detect_language
from monitor.documents.recording import record_documents
from monitor.documents.shapes import Document, Published
from monitor.eventlog.log import EventLog
from monitor.eventlog.recorder import Recorder
from monitor.rules.lemmas import warm
from monitor.rules.lexicon_cache import default_lexicon
from monitor.rules.rulebook import lexicon_fingerprint, lexicon_for
from monitor.search import index
from monitor.search.preview import CONSOLE_BUDGET, Searcher

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest as ingest_bench
from matching import passages

QUERIES = [
    "Ukraine",
    "Germany",
    "NATO",
    "Georgia",
    "Kyiv",
    "Zelensky",
    '"European Union"',
    "Trump",
    "Ukraine AND Russia",
    "(Paris OR Berlin) AND election",
    "climate AND NOT football",
    "Putin NEAR/5 Trump",
    "title:Ukraine",
    "inflation",
    "Biden OR Trump",
    "China AND Taiwan",
    "police NEAR/3 protest",
    "Israel AND Gaza",
    "title:election OR title:vote",
    '"prime minister"',
]
FINGERPRINT = "bench"
BATCH = 500


def build(count: int, rng: random.Random) -> list[Document]:
    groups = [(g, detect_language(" ".join(g[:5]))) for g in passages()]
    found = []
    for n in range(count):
        texts, language = groups[n % len(groups)]
        text = ""
        while len(text) < 1300:
            text += rng.choice(texts) + " "
        found.append(
            Document(
                document_id=hashlib.sha256(f"doc{n}".encode()).hexdigest()[:16],
                identity=f"guid:{n}",
                source=f"feed-{n % len(groups)}",
                url=f"https://example.org/{n}",
                title=rng.choice(texts)[:90],
                text=text.strip(),
                language=language,
                published=Published("2024-05-01T10:00:00Z", "second"),
                content_hash=f"h{n}",
            )
        )
    return found


def record(recorder: Recorder, documents: list[Document]) -> None:
    """The documents into the log, as ingestion records them (the index is built after)."""
    for start in range(0, len(documents), BATCH):
        record_documents(recorder, documents[start : start + BATCH])


def fresh_store(kind: str, folder: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / name}.db"
    schema = f"bench_{name}_{os.getpid()}"
    engine = sa.create_engine(kind)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    return f"{kind}?options=-csearch_path%3D{schema}"


def index_size(recorder: Recorder, url: str) -> int:
    """Bytes the index takes: PostgreSQL's relation size; on SQLite, the file's size
    (vacuumed) with the index less without it. Drops the index on SQLite."""
    with recorder.store.reading() as conn:
        if conn.dialect.name == "postgresql":
            query = "SELECT pg_total_relation_size('search_index')"
            return int(conn.exec_driver_sql(query).scalar() or 0)
    path = Path(url.removeprefix("sqlite:///"))
    recorder.store.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM")
    with_index = path.stat().st_size
    with recorder.store.transaction() as conn:
        index.drop(conn)
    recorder.store.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("VACUUM")
    return with_index - path.stat().st_size


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--store", default="sqlite", help="sqlite, or a PostgreSQL URL")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--ingest-feeds", type=int, default=20, help="x 500 items")
    parser.add_argument("--repeat-ingest", type=int, default=3)
    args = parser.parse_args()
    warm()
    rng = random.Random(13)
    documents = build(args.documents, rng)
    languages = len({d.language for d in documents})
    print(f"{len(documents):,} documents in {languages} languages, {args.store.split(':')[0]}")
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_store(args.store, Path(folder), "preview")
        recorder = open_log(url)
        started = time.perf_counter()
        record(recorder, documents)
        print(f"recorded in {time.perf_counter() - started:.0f} s")
        searcher = Searcher(recorder.store, default_lexicon(), FINGERPRINT)
        started = time.perf_counter()
        searcher.rebuild()
        built = time.perf_counter() - started
        per = 10_000 / len(documents)
        print(f"index build: {built * per:.1f} s per 10,000 documents")
        latencies = {"console": [], "exact": []}
        exact_in_budget = 0
        for round_ in range(args.repeat):
            for query in QUERIES:
                # Exact previews of 100,000 documents take seconds each: one round of them.
                modes = (("console", CONSOLE_BUDGET), ("exact", None))[: 2 if round_ == 0 else 1]
                for mode, budget in modes:
                    started = time.perf_counter()
                    result = searcher.preview(query, limit=20, budget=budget)
                    latencies[mode].append(time.perf_counter() - started)
                    if round_ == 0 and mode == "console":
                        exact_in_budget += result.exact
                        print(
                            f"  {query:32s} {result.total:>7,}{'' if result.exact else '~'} "
                            f"of {result.candidates:>7,} candidates"
                        )
        for mode, values in latencies.items():
            print(
                f"preview ({mode}): median {statistics.median(values) * 1000:.0f} ms, "
                f"p95 {percentile(values, 0.95) * 1000:.0f} ms"
            )
        print(f"exact within the console's {CONSOLE_BUDGET} s: {exact_in_budget} of {len(QUERIES)}")
        size = index_size(recorder, url)
        print(f"index size: {size * per / 2**20:.1f} MB per 10,000 documents")
        recorder.store.dispose()
    if args.repeat_ingest:
        ingest_with_and_without(args.ingest_feeds, args.repeat_ingest)


def ingest_with_and_without(feeds: int, repeat: int) -> None:
    """``monitor run --once`` over FEEDS x 500 items with 20 rules, the index on and off."""
    with tempfile.TemporaryDirectory() as folder:
        site = Path(folder) / "site"
        site.mkdir()
        for n in range(feeds):
            (site / f"feed-{n}.xml").write_bytes(ingest_bench.feed_xml(n, 500))
        server, port = ingest_bench.serve(site)
        times: dict[bool, list[float]] = {True: [], False: []}
        try:
            for attempt in range(repeat):
                for on in (False, True):
                    work = Path(folder) / f"run-{attempt}-{int(on)}"
                    work.mkdir()
                    used: list[Settings] = []
                    prepare = functools.partial(prepared, used, index=on)
                    seconds, new = ingest_bench.pipeline(port, feeds, work, QUERIES, prepare)
                    times[on].append(seconds)
                    if on:
                        assert filed(used[0]) == new, "documents recorded but not filed"
        finally:
            server.terminate()
            server.wait(timeout=10)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(
        f"run --once, {feeds * 500:,} items, 20 rules: index off {off:.2f} s, on {on:.2f} s "
        f"({(on / off - 1) * 100:+.0f}%; target <= +20%)"
    )


def prepared(used: list[Settings], settings: Settings, *, index: bool) -> None:
    used.append(settings)
    if index:
        make_index(settings)


def make_index(settings: Settings) -> None:
    """An (empty) index on the new store: from then on, ingestion files what it records."""
    recorder = open_log(settings.store_url)
    try:
        Searcher(recorder.store, lexicon_for(settings), lexicon_fingerprint(settings)).catch_up()
    finally:
        recorder.store.dispose()


def filed(settings: Settings) -> int:
    """How many documents the run filed in the index as it recorded them."""
    recorder = open_log(settings.store_url)
    try:
        with recorder.store.reading() as conn:
            current = index.state(conn)
            head = EventLog().head(conn)
    finally:
        recorder.store.dispose()
    assert current is not None and current.seq == head, "the index fell behind the log"
    return current.documents


if __name__ == "__main__":
    main()
