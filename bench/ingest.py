"""Benchmark: the whole ingest pipeline beside a bare ``feedparser.parse`` on the same bytes.

    .venv/bin/python bench/ingest.py [--feeds 20] [--items 500] [--repeat 3]

Serves FEEDS RSS files of ITEMS items (about 1 KB each, in six languages)
from a separate HTTP server process on 127.0.0.1, then, in the same run:

- bare: ``feedparser.parse(body, response_headers=...)`` over every body, one
  core, no I/O: what a parse costs;
- pipeline: ``monitor run --once`` on a fresh SQLite store: fetch, parse,
  normalise, identify the language, append the events and project them.

Prints the median items/s of each and their ratio. Target: the pipeline
costs at most 2x the bare parse.
"""

from __future__ import annotations

import argparse
import email.utils
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import feedparser

from monitor.app.once import run_once
from monitor.config.settings import Settings, settings_from_dict

SENTENCES = {
    "en": "Armenia and Azerbaijan resumed talks in Brussels on the peace treaty and border demarcation.",
    "pl": "Przedstawiciele Armenii i Azerbejdżanu wznowili w Brukseli rozmowy o traktacie pokojowym.",
    "ru": "Армения и Азербайджан возобновили в Брюсселе переговоры о мирном договоре и границе.",
    "de": "Armenien und Aserbaidschan haben in Brüssel die Gespräche über den Friedensvertrag wieder aufgenommen.",
    "fr": "L'Arménie et l'Azerbaïdjan ont repris à Bruxelles les négociations sur le traité de paix.",
    "tr": "Ermenistan ve Azerbaycan, barış anlaşması ve sınır konusundaki görüşmelere Brüksel'de yeniden başladı.",
}


def feed_xml(feed: int, items: int) -> bytes:
    languages = list(SENTENCES)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
        f"<title>Feed {feed}</title><link>http://127.0.0.1/</link><description>bench</description>",
    ]
    for n in range(items):
        language = languages[(feed + n) % len(languages)]
        body = " ".join([SENTENCES[language]] * 8)
        date = email.utils.formatdate(1_700_000_000 + n * 60, usegmt=True)
        parts.append(
            f"<item><title>{SENTENCES[language][:60]} {feed}-{n}</title>"
            f"<link>http://127.0.0.1/{feed}/{n}?utm_source=rss</link>"
            f"<guid>urn:bench:{feed}:{n}</guid><pubDate>{date}</pubDate>"
            f"<description>&lt;p&gt;{body}&lt;/p&gt;&lt;p&gt;{n}&lt;/p&gt;</description></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/feed-0.xml", timeout=1).read()
            return server, port
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise SystemExit("the feed server did not start")


def bare(bodies: list[bytes]) -> tuple[float, int]:
    started = time.perf_counter()
    entries = 0
    for body in bodies:
        entries += len(
            feedparser.parse(body, response_headers={"content-type": "application/rss+xml"}).entries
        )
    return time.perf_counter() - started, entries


def pipeline(
    port: int,
    feeds: int,
    folder: Path,
    rules: Sequence[str] = (),
    before: Callable[[Settings], object] | None = None,
) -> tuple[float, int]:
    """``monitor run --once`` over the served feeds (with ``rules``, after ``before``)."""
    settings = settings_from_dict(
        {
            "store": {"url": f"sqlite:///{folder / 'bench.db'}"},
            "seeds": {"paths": []},
            "feeds": [
                {"name": f"feed-{n}", "url": f"http://127.0.0.1:{port}/feed-{n}.xml"}
                for n in range(feeds)
            ],
            "rules": [{"name": f"rule-{n}", "query": query} for n, query in enumerate(rules)],
        },
        source="bench",
        base_dir=folder,
    )
    if before is not None:
        before(settings)
    started = time.perf_counter()
    report = run_once(settings)
    elapsed = time.perf_counter() - started
    failed = [p for p in report.polls if p.outcome != "polled"]
    if failed:
        raise SystemExit(f"polls failed: {failed[:3]}")
    return elapsed, sum(p.new for p in report.polls)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        site.mkdir()
        bodies = [feed_xml(n, args.items) for n in range(args.feeds)]
        for n, body in enumerate(bodies):
            (site / f"feed-{n}.xml").write_bytes(body)
        server, port = serve(site)
        try:
            bare_times, pipe_times = [], []
            for run in range(args.repeat):
                seconds, entries = bare(bodies)
                bare_times.append(seconds)
                work = Path(tmp) / f"run-{run}"
                work.mkdir()
                seconds, new = pipeline(port, args.feeds, work)
                pipe_times.append(seconds)
                assert new == entries == args.feeds * args.items, (new, entries)
                print(
                    f"run {run + 1}: bare parse {entries / bare_times[-1]:,.0f} entries/s, "
                    f"pipeline {new / seconds:,.0f} items/s"
                )
        finally:
            server.terminate()
            server.wait(timeout=10)
    total = args.feeds * args.items
    bare_median, pipe_median = statistics.median(bare_times), statistics.median(pipe_times)
    print(
        f"{args.feeds} feeds x {args.items} items = {total:,} items, {sum(map(len, bodies)) / 1e6:.1f} MB"
    )
    print(
        f"bare feedparser.parse (1 core):  median {bare_median:.2f} s, {total / bare_median:,.0f} entries/s"
    )
    print(
        f"whole pipeline (run --once):     median {pipe_median:.2f} s, {total / pipe_median:,.0f} items/s"
    )
    print(f"pipeline / bare parse time: {pipe_median / bare_median:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
