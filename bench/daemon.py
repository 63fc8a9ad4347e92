"""Benchmark: the daemon's poll cycle, its latency, and its memory over time.

    .venv/bin/python bench/daemon.py cycle   [--feeds 1000] [--items 50] [--delay 0.2] [--publishers N]
    .venv/bin/python bench/daemon.py latency [--trials 8] [--interval 5]
    .venv/bin/python bench/daemon.py memory  [--documents 100000] [--minutes 30] [--parse-workers N]

cycle: a local server (bench/slowserver.py, another process) answers every
request after 200 ms, as a distant server does, with real news items. One
full poll cycle of 1,000 feeds of 50 items as the daemon runs it (rules
compiled and parse workers started beforehand: fetch, parse, normalise,
match, record), then a second cycle where every feed answers 304, then
`monitor run --once` on fresh URLs from a cold start (start-up included);
beside them, rss2email's way: a sequential loop of fetch + feedparser.parse
over a sample of the same URLs (100 by default; 1,000 x 200 ms would take
minutes), scaled to the same count. Fetch concurrency 200 and per_host 200:
the one local host stands in for 1,000 distant ones. With --publishers N the feeds
are spread over N loopback addresses (127.0.0.2 ...), a few feeds each, and the default
fetch limits apply, as on the web.

latency: the real daemon (a subprocess) polling a feed every --interval
seconds with an immediate rule and a webhook channel; items appear at random
moments and the time until their webhook arrives is measured.

memory: the daemon on a database of --documents documents (plus 200 feeds
polled every 30 s from the slow server), its resident memory sampled every
30 s for --minutes minutes (the main process, and its parse workers).

Targets: first cycle >= 8x faster than the sequential loop and under 30 s;
the 304 cycle under 5 s; latency <= interval + 2 s; memory < 300 MB and flat.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import feedparser
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from daemonkit import Daemon, LiveFeed, wait_until  # noqa: E402
from feedserver import FeedServer  # noqa: E402
from webhookreceiver import WebhookReceiver  # noqa: E402

from monitor.app.once import run_once  # noqa: E402
from monitor.app.wiring import open_log, recorder_for  # noqa: E402
from monitor.app.workers import parse_pool  # noqa: E402
from monitor.config.settings import settings_from_dict  # noqa: E402
from monitor.feeds.polling import Poller  # noqa: E402
from monitor.rules.matcher import activate  # noqa: E402
from monitor.rules.rulebook import build_matcher, sync_rules  # noqa: E402


class SlowServer:
    def __init__(self, feeds: int, items: int, delay: float, publishers: int = 0) -> None:
        command = [
            sys.executable, str(ROOT / "bench" / "slowserver.py"),
            "--feeds", str(feeds), "--items", str(items), "--delay", str(delay),
            "--publishers", str(publishers),
        ]  # fmt: skip
        self.publishers = publishers
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def url(self, feed: int, generation: int = 0) -> str:
        query = f"?gen={generation}" if generation else ""
        # With publishers, feed i lives on 127.0.0.(2 + i % publishers): many hosts, each
        # with a few feeds, as on the web.
        host = f"127.0.0.{2 + feed % self.publishers}" if self.publishers else "127.0.0.1"
        return f"http://{host}:{self.port}/feed/{feed}.xml{query}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def cycle(args: argparse.Namespace) -> None:
    server = SlowServer(args.feeds, args.items, args.delay, args.publishers)
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = bench_settings(server, args.feeds, Path(folder))
            fetch = settings.fetch
            # As the daemon runs a cycle: rules compiled, parse workers forked, one client.
            store = open_log(settings.store_url).store
            recorder = recorder_for(store)
            activate(build_matcher(settings, sync_rules(recorder, settings.rules)))
            with parse_pool(args.feeds) as pool:
                # A poller per event loop (its limits are asyncio semaphores).
                first, first_seconds = timed_poll(
                    Poller(recorder, settings.fetch, executor=pool), settings
                )
                second, second_seconds = timed_poll(
                    Poller(recorder, settings.fetch, executor=pool), settings
                )
            store.dispose()
        with tempfile.TemporaryDirectory() as folder:
            # And `monitor run --once` from a cold process's point of view: start-up included.
            settings = bench_settings(server, args.feeds, Path(folder), generation=2)
            started = time.perf_counter()
            once = run_once(settings)
            once_seconds = time.perf_counter() - started
        sample = min(args.sequential_sample, args.feeds)
        started = time.perf_counter()
        entries = 0
        with httpx.Client() as client:
            for i in range(sample):
                entries += len(feedparser.parse(client.get(server.url(i, 1)).content).entries)
        sequential = (time.perf_counter() - started) * args.feeds / sample
    finally:
        server.close()
    new = sum(p.new for p in first)
    print(
        f"first cycle: {args.feeds} feeds x {args.items} items, {args.delay * 1000:.0f} ms each, "
        f"{args.publishers or 1} publisher(s), concurrency {fetch.concurrency}, "
        f"per_host {fetch.per_host}: {first_seconds:.1f} s "
        f"({sum(p.outcome == 'polled' for p in first)} polled, {new:,} new documents)"
    )
    print(
        f"304 cycle: {second_seconds:.1f} s "
        f"({sum(p.outcome == 'not_modified' for p in second)} not modified)"
    )
    print(
        f"run --once from a cold start (imports, models, workers, then the same cycle): "
        f"{once_seconds:.1f} s ({once.count('polled')} polled)"
    )
    print(
        f"sequential fetch + feedparser.parse (rss2email's way): {sequential:.1f} s for "
        f"{args.feeds} feeds (measured on {sample}, {entries:,} entries, scaled); the cycle "
        f"is {sequential / first_seconds:.1f}x faster, run --once {sequential / once_seconds:.1f}x"
    )


def bench_settings(server: SlowServer, feeds: int, folder: Path, generation: int = 0) -> Any:
    return settings_from_dict(
        {
            "store": {"url": "sqlite:///monitor.db"},
            "seeds": {"paths": []},
            # With one local host standing in for a thousand distant ones, the limits are
            # raised; with publishers (one address each) the defaults apply.
            "fetch": {} if server.publishers else {"concurrency": 200, "per_host": 200},
            "feeds": [
                {"name": f"f{i}", "url": server.url(i, generation), "interval": "15m"}
                for i in range(feeds)
            ],
            "rules": [{"name": "aa", "query": "Armenia AND Azerbaijan"}],
        },
        source="bench",
        base_dir=folder,
    )


def timed_poll(poller: Poller, settings: Any) -> tuple[list[Any], float]:
    started = time.perf_counter()
    outcomes = asyncio.run(poller.poll(settings.feeds))
    return outcomes, time.perf_counter() - started


def latency(args: argparse.Namespace) -> None:
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as folder, FeedServer() as server:
        feed = LiveFeed(server)
        with WebhookReceiver() as hook:
            config = Path(folder) / "config.toml"
            config.write_text(
                '[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n[daemon]\ntick = "1s"\n'
                f'[[feeds]]\nname = "live"\nurl = "{feed.url}"\ninterval = "{args.interval}s"\n'
                '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\nchannels = ["hook"]\n'
                f'[[channels]]\nname = "hook"\ntype = "webhook"\nurl = "{hook.url}"\n',
                encoding="utf-8",
            )
            daemon = Daemon(config).start()
            try:
                assert wait_until(lambda: len(feed.hits) >= 1, 60), daemon.log()
                waits = []
                for trial in range(args.trials):
                    time.sleep(rng.uniform(0, args.interval))
                    appeared = time.time()
                    feed.add(
                        f"t{trial}", f"Talks {trial}", f"Armenia and Azerbaijan, round {trial}."
                    )
                    hook.wait_for(trial + 1, timeout=args.interval * 3 + 10)
                    waits.append(hook.requests[trial].at - appeared)
                daemon.stop()
            finally:
                daemon.close()
    print(
        f"latency from an item's appearance to its webhook, interval {args.interval} s, "
        f"{args.trials} items: median {statistics.median(waits):.2f} s, "
        f"max {max(waits):.2f} s (target <= {args.interval + 2} s)"
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: pages shared with forked workers counted once between them."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def fill(folder: Path, documents: int) -> None:
    from monitor.app.wiring import recorder_for
    from monitor.eventlog.events import DocumentIngested, PublishedDate

    store = open_log(f"sqlite:///{folder / 'monitor.db'}").store
    recorder = recorder_for(store)
    rng = random.Random(5)
    words = [
        "minister",
        "border",
        "talks",
        "energy",
        "court",
        "market",
        "storm",
        "budget",
        "school",
        "bridge",
    ]
    for start in range(0, documents, 5000):
        batch = []
        for i in range(start, min(start + 5000, documents)):
            text = " ".join(rng.choice(words) for _ in range(150))
            batch.append(
                DocumentIngested(
                    document_id=f"{i:016x}", source="bench", url=f"http://127.0.0.1/d{i}",
                    title=f"Document {i}", text=text, language="en",
                    published=PublishedDate(value="2026-11-01", precision="day"),
                    content_hash=f"{i:x}", identity=f"guid:{i}",
                )
            )  # fmt: skip
        recorder.append(batch)
    store.dispose()


def memory(args: argparse.Namespace) -> None:
    server = SlowServer(200, 50, 0.2)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        started = time.perf_counter()
        fill(folder, args.documents)
        print(f"stored {args.documents:,} documents in {time.perf_counter() - started:.0f} s")
        feeds = "".join(
            f'[[feeds]]\nname = "f{i}"\nurl = "{server.url(i)}"\ninterval = "30s"\n'
            for i in range(200)
        )
        config = folder / "config.toml"
        config.write_text(
            '[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n'
            "[fetch]\nconcurrency = 50\nper_host = 50\n"
            + (
                ""
                if args.parse_workers is None
                else f"[daemon]\nparse_workers = {args.parse_workers}\n"
            )
            + f"{feeds}"
            # Rules of every kind, so that every morphology is loaded: concepts, and words
            # that name none (Polish and Russian inflections, Snowball stems, name keys).
            '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\nchannels = ["files"]\n'
            '[[rules]]\nname = "words"\nquery = "Orlen OR wybory OR выборы OR Wahlen OR '
            'Ukraine OR NATO"\nchannels = ["files"]\n'
            '[[channels]]\nname = "files"\ntype = "file"\npath = "digests"\n',
            encoding="utf-8",
        )
        daemon = Daemon(config).start()
        assert daemon.process is not None
        pid = daemon.process.pid
        samples: list[tuple[float, float, float, float]] = []
        try:
            end = time.monotonic() + args.minutes * 60
            while time.monotonic() < end and daemon.alive():
                time.sleep(30)
                workers = sum(rss_mb(child) for child in children(pid))
                total = pss_mb(pid) + sum(pss_mb(child) for child in children(pid))
                samples.append((time.monotonic(), rss_mb(pid), workers, total))
                print(f"  {len(samples) * 0.5:5.1f} min: main {samples[-1][1]:.0f} MB, "
                      f"workers {workers:.0f} MB, all together (PSS) {total:.0f} MB",
                      flush=True)  # fmt: skip
            daemon.stop()
        finally:
            daemon.close()
            server.close()
    mains = [m for _, m, _, _ in samples]
    settled = mains[2:] or mains
    print(
        f"resident memory with {args.documents:,} documents over {args.minutes} min: main "
        f"process {settled[0]:.0f} MB after 1 min, {settled[-1]:.0f} MB at the end, max "
        f"{max(mains):.0f} MB; parse workers {samples[-1][2]:.0f} MB together (shared pages "
        f"counted in each); main and workers {samples[-1][3]:.0f} MB proportional set size "
        f"(shared pages counted once), max {max(t for *_, t in samples):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("cycle")
    one.add_argument("--feeds", type=int, default=1000)
    one.add_argument("--items", type=int, default=50)
    one.add_argument("--delay", type=float, default=0.2)
    one.add_argument("--sequential-sample", type=int, default=100)
    one.add_argument(
        "--publishers",
        type=int,
        default=0,
        help="feeds spread over N loopback addresses 127.0.0.2...; the default fetch limits",
    )
    two = sub.add_parser("latency")
    two.add_argument("--trials", type=int, default=8)
    two.add_argument("--interval", type=float, default=5)
    three = sub.add_parser("memory")
    three.add_argument("--documents", type=int, default=100_000)
    three.add_argument("--minutes", type=float, default=30)
    three.add_argument(
        "--parse-workers", type=int, default=None, help="[daemon] parse_workers (default: per core)"
    )
    args = parser.parse_args()
    {"cycle": cycle, "latency": latency, "memory": memory}[args.what](args)


if __name__ == "__main__":
    main()
