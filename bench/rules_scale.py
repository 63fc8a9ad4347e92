"""Benchmark: a whole `monitor run --once` with 2,000 rules beside the same run with 10.

    .venv/bin/python bench/rules_scale.py [--feeds 6] [--items 500] [--rules 10,2000] [--repeat 3]

FEEDS x ITEMS items (bench/ingest.py's feeds, six languages) on a loopback server; each
run is a fresh process on a fresh SQLite store, so it pays for everything a first run
pays: recording the rule definitions, compiling them, the rule words' inflections, the
matcher's caches. The rules are bench/matching.py's (names, phrases, AND/OR/NOT, NEAR,
title:, mostly about other things; the first three are about Armenia and Azerbaijan, which
every item is, so both runs record the same 9,000 matches and more). Runs alternate between
the rule counts; medians.
Target (issue 14): 2,000 rules <= 1.3x the time of 10.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest as ingest_bench
from matching import passages
from matching import rules as make_rules


def config(folder: Path, port: int, feeds: int, queries: list[str]) -> Path:
    lines = ['[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n']
    for n in range(feeds):
        lines.append(
            f'[[feeds]]\nname = "feed-{n}"\nurl = "http://127.0.0.1:{port}/feed-{n}.xml"\n'
        )
    for n, query in enumerate(queries):
        lines.append(f'[[rules]]\nname = "rule-{n}"\nquery = {json.dumps(query)}\n')
    path = folder / "config.toml"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=6)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--rules", default="10,2000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.rules.split(",")]
    # As bench/matching.py: words of real news passages, so that most rules are about other
    # things than these documents (a few of their terms do occur), as in a deployment.
    texts = [text for group in passages() for text in group][:200]
    vocabulary = sorted({w for text in texts for w in re.findall(r"[^\W\d_]{6,}", text)})
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        for n in range(args.feeds):
            (site / f"feed-{n}.xml").write_bytes(ingest_bench.feed_xml(n, args.items))
        server, port = ingest_bench.serve(site)
        times: dict[int, list[float]] = {count: [] for count in counts}
        matched: dict[int, int] = {}
        try:
            for attempt in range(args.repeat):
                for count in counts:
                    work = Path(tmp) / f"run-{attempt}-{count}"
                    work.mkdir()
                    queries = make_rules(count, vocabulary, random.Random(count))
                    path = config(work, port, args.feeds, queries)
                    started = time.perf_counter()
                    done = subprocess.run(
                        [sys.executable, "-m", "monitor", "--config", str(path), "run", "--once"],
                        check=True,
                        capture_output=True,
                        text=True,
                    )
                    times[count].append(time.perf_counter() - started)
                    found = re.search(r"([\d,]+) new match", done.stdout)
                    matched[count] = int(found[1].replace(",", "")) if found else 0
        finally:
            server.terminate()
            server.wait(timeout=10)
    base = statistics.median(times[counts[0]])
    print(f"{args.feeds * args.items:,} items, a fresh process and store per run")
    for count in counts:
        median = statistics.median(times[count])
        print(
            f"{count:>6} rules: median {median:.2f} s, {median / base:.2f}x the run with "
            f"{counts[0]}; {matched[count]:,} matches recorded"
        )


if __name__ == "__main__":
    main()
