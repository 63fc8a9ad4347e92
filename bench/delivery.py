"""Benchmark: digests assembled and rendered, webhooks delivered, near duplicates grouped.

    .venv/bin/python bench/delivery.py [--matches 10000] [--rules 100] [--webhooks 1000]

1. Assembly and rendering, pure: 10,000 matches across 100 rules (100 each, a
   fifth of them syndicated copies), each rule's digest built (near-duplicate
   grouping, newest first, cap of 50) and rendered for email (text + HTML):
   digests/s. Then the same through the database, as `monitor run --once` does
   it: `assemble()` reads the pending matches, groups, renders and records a
   DigestAssembled per rule, on SQLite.
2. Delivery: 1,000 digests (1,000 rules, one match each) to one webhook
   channel at a local receiver running in another process, signed, every
   attempt recorded: deliveries/s at the channel's concurrency (default 8, and
   the value given with --concurrency).
3. Near-duplicate grouping of 10,000 documents: real feed items from
   ../shared/corpora/real-feeds with syndicated copies (small edits: a byline,
   a changed word, a trimmed ending) mixed in, grouped in one call.

Each figure is the median of --repeat runs. Targets: 1,000 webhook
deliveries in under 10 s; grouping 10,000 documents in under 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the outbox test kit and the webhook receiver

from outboxkit import ManualClock, define_rules, settings_with  # noqa: E402
from webhookreceiver import Respond, WebhookReceiver  # noqa: E402

from alerts.compose import compose  # noqa: E402
from alerts.dedupe import group_near_duplicates  # noqa: E402
from alerts.digest import MatchedDocument, build_digest  # noqa: E402
from alerts.outbox.assembly import assemble  # noqa: E402
from alerts.outbox.delivery import deliver  # noqa: E402
from alerts.rendering import Renderer  # noqa: E402
from monitor.app.wiring import open_log, recorder_for  # noqa: E402
from monitor.documents.normalise import html_to_text  # noqa: E402
from monitor.eventlog.events import DocumentIngested, PublishedDate, RuleMatched  # noqa: E402
from monitor.eventlog.recorder import Recorder  # noqa: E402

REAL_FEEDS = ROOT.parent / "shared" / "corpora" / "real-feeds"
SECRET = "whsec_YmVuY2htYXJrLXNpZ25pbmcta2V5LTAxMjM0NTY3"


def real_items() -> list[tuple[str, str]]:
    """(title, text) of every real feed item with some text."""
    items = []
    for path in sorted(REAL_FEEDS.glob("*.*")):
        if path.suffix not in {".xml", ".rss", ".atom", ".rdf"}:
            continue
        for entry in feedparser.parse(path.read_bytes()).entries:
            summary = entry.get("summary") or ""
            text = html_to_text(summary) if "<" in summary else summary
            if len(text) > 80:
                items.append((str(entry.get("title", "")), text))
    return items


def edit(text: str, rng: random.Random) -> str:
    """A syndicated copy: a byline, a word changed, or the last sentence trimmed."""
    words = text.split()
    change = rng.randrange(3)
    if change == 0:
        words = ["By", "Staff", "Reporter.", *words]
    elif change == 1 and len(words) > 4:
        words[rng.randrange(len(words))] = "reportedly"
    else:
        words = words[: max(3, int(len(words) * 0.85))]
    return " ".join(words)


def corpus(count: int, rng: random.Random) -> tuple[list[tuple[str, str]], list[int]]:
    """``count`` documents and the story each one tells.

    The real items first; then new stories written from the real vocabulary
    (words drawn by their frequency, so shingles behave as in news, and no two
    stories share whole sentences by accident); a fifth of all documents are
    syndicated copies of an earlier one, with small edits.
    """
    items = real_items()
    if not items:
        sys.exit(f"no real feed items under {REAL_FEEDS}")
    frequency = Counter(word for _, text in items for word in text.split())
    words, weights = list(frequency), list(frequency.values())
    docs: list[tuple[str, str]] = []
    story: list[int] = []
    while len(docs) < count:
        if docs and rng.random() < 0.2:
            original = rng.randrange(len(docs))
            title, text = docs[original]
            docs.append((title, edit(text, rng)))
            story.append(story[original])
            continue
        if len(docs) < len(items):
            title, text = items[len(docs)]
        else:
            text = " ".join(rng.choices(words, weights, k=rng.randint(60, 160)))
            title = " ".join(text.split()[:8])
        docs.append((title, text))
        story.append(len(docs))
    return docs, story


def median_of(repeat: int, run: Callable[[], float]) -> float:
    return statistics.median(run() for _ in range(repeat))


def matched(seq: int, doc: str, title: str, text: str, rule: str) -> MatchedDocument:
    return MatchedDocument(
        seq=seq,
        document_id=doc,
        title=title,
        url=f"https://news.example/{doc}",
        source=f"feed-{seq % 37}",
        language="en",
        published=f"2026-11-{1 + seq % 27:02d}T{seq % 24:02d}:00Z",
        snippets=({"field": "body", "text": text[:200], "highlights": [[0, 5]]},),
        text=text,
    )


def bench_pure(docs: list[tuple[str, str]], rules: int, repeat: int) -> None:
    per_rule = len(docs) // rules
    pending = {
        f"rule-{r}": [
            matched(i, f"d{i}", *docs[i], rule=f"rule-{r}")
            for i in range(r * per_rule, (r + 1) * per_rule)
        ]
        for r in range(rules)
    }
    renderer = Renderer()
    settings = settings_with(
        Path(tempfile.gettempdir()),
        [{"name": "mail", "type": "email", "to": ["a@example.test"]}],
    )
    channel = settings.channels[0]
    now = datetime.now(UTC)

    def run() -> float:
        started = time.perf_counter()
        for rule, matches in pending.items():
            digest = build_digest(rule, "mail", matches, cap=50)
            assert digest is not None
            compose(channel, digest, renderer, now)
        return time.perf_counter() - started

    seconds = median_of(repeat, run)
    print(
        f"assemble + render (pure): {len(docs):,} matches, {rules} rules: {seconds:.2f} s, "
        f"{rules / seconds:,.0f} digests/s, {len(docs) / seconds:,.0f} matches/s"
    )


def record(recorder: Recorder, docs: list[tuple[str, str]], rules: int) -> None:
    events: list[Any] = []
    for i, (title, text) in enumerate(docs):
        common = {
            "document_id": f"d{i}",
            "source": f"feed-{i % 37}",
            "url": f"https://news.example/d{i}",
            "title": title,
            "language": "en",
            "published": PublishedDate(value=f"2026-11-{1 + i % 27:02d}", precision="day"),
        }
        events.append(
            DocumentIngested(**common, text=text, content_hash=f"h{i}", identity=f"guid:{i}")
        )
        events.append(
            RuleMatched(
                **common,
                rule=f"rule-{i % rules}",
                rule_version=1,
                snippets=[{"field": "body", "text": text[:200], "highlights": [[0, 5]]}],
                terms=[],
            )
        )
    recorder.append(events)


def bench_assemble_db(docs: list[tuple[str, str]], rules: int, repeat: int) -> None:
    def run() -> float:
        with tempfile.TemporaryDirectory() as folder:
            store = open_log(f"sqlite:///{folder}/bench.db").store
            recorder = recorder_for(store, clock=ManualClock())
            settings = settings_with(
                Path(folder),
                [{"name": "mail", "type": "email", "to": ["a@example.test"]}],
                rules=[
                    {"name": f"rule-{r}", "query": "Armenia", "channels": ["mail"]}
                    for r in range(rules)
                ],
            )
            define_rules(recorder, settings)
            record(recorder, docs, rules)
            started = time.perf_counter()
            made = assemble(recorder, settings)
            seconds = time.perf_counter() - started
            assert len(made) == rules
            store.dispose()
            return seconds

    seconds = median_of(repeat, run)
    print(
        f"assemble + render + record (SQLite): {len(docs):,} matches, {rules} rules: "
        f"{seconds:.2f} s, {rules / seconds:,.0f} digests/s"
    )


def _serve(port_out: Any, stop: Any) -> None:
    with WebhookReceiver(default=Respond(204)) as receiver:
        port_out.put(receiver.port)
        stop.wait(600)


def bench_webhooks(count: int, concurrency: int, repeat: int) -> None:
    context = multiprocessing.get_context("spawn")
    port_queue, stop = context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(port_queue, stop), daemon=True)
    server.start()
    port = port_queue.get(timeout=30)
    docs = [(f"Story {i}", f"Armenia story number {i} " + "word " * 40) for i in range(count)]

    def run() -> float:
        with tempfile.TemporaryDirectory() as folder:
            store = open_log(f"sqlite:///{folder}/bench.db").store
            recorder = recorder_for(store, clock=ManualClock())
            settings = settings_with(
                Path(folder),
                [
                    {
                        "name": "hook",
                        "type": "webhook",
                        "url": f"http://127.0.0.1:{port}/hook",
                        "secret_env": "SECRET",
                        "concurrency": concurrency,
                    }
                ],
                rules=[
                    {"name": f"rule-{r}", "query": "Armenia", "channels": ["hook"]}
                    for r in range(count)
                ],
            )
            define_rules(recorder, settings)
            record(recorder, docs, count)
            assert len(assemble(recorder, settings)) == count
            started = time.perf_counter()
            attempts = asyncio.run(deliver(recorder, settings, env={"SECRET": SECRET}))
            seconds = time.perf_counter() - started
            assert sum(a.outcome.ok for a in attempts) == count, "some deliveries failed"
            store.dispose()
            return seconds

    try:
        seconds = median_of(repeat, run)
    finally:
        stop.set()
        server.join(10)
    print(
        f"webhooks: {count:,} signed deliveries, concurrency {concurrency}, each recorded: "
        f"{seconds:.2f} s, {count / seconds:,.0f} deliveries/s"
    )


def bench_dedupe(docs: list[tuple[str, str]], story: list[int], repeat: int) -> None:
    texts = [(i, f"{title}\n{text}") for i, (title, text) in enumerate(docs)]
    groups: list[list[Any]] = []

    def run() -> float:
        nonlocal groups
        started = time.perf_counter()
        groups = group_near_duplicates(texts)
        return time.perf_counter() - started

    seconds = median_of(repeat, run)
    # Against the generator's truth: a group should hold one story, and a story one group.
    mixed = sum(1 for g in groups if len({story[i] for i in g}) > 1)
    entries_of: dict[int, set[int]] = {}
    for entry, group in enumerate(groups):
        for i in group:
            entries_of.setdefault(story[i], set()).add(entry)
    split = sum(1 for entries in entries_of.values() if len(entries) > 1)
    print(
        f"near-duplicate grouping: {len(docs):,} documents in {seconds:.2f} s "
        f"({len(docs) / seconds:,.0f} documents/s); {len(groups):,} entries for "
        f"{len(set(story)):,} stories; {mixed} entries mix stories, "
        f"{split} stories left in more than one entry"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--matches", type=int, default=10_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--webhooks", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(20261128)
    docs, story = corpus(args.matches, rng)
    bench_pure(docs, args.rules, args.repeat)
    bench_assemble_db(docs, args.rules, args.repeat)
    for concurrency in sorted({8, args.concurrency}):
        bench_webhooks(args.webhooks, concurrency, args.repeat)
    bench_dedupe(docs, story, args.repeat)


if __name__ == "__main__":
    main()
