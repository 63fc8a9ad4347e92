"""Benchmark: one poll cycle of 3,000 feeds by 1, 2 and 3 workers sharing one PostgreSQL.

    .venv/bin/python bench/workers.py [--feeds 3000] [--items 10] [--delay 0.2]
        [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]

For each worker count, a fresh schema and that many `monitor run` processes
(parse_workers = 0: one process, one core each), all started at once against
the same slow local server (bench/slowserver.py: every answer after 200 ms).
The cycle ends when every feed has been polled; it is timed from the start of
the processes (start-up included, the same for each count). Then the log is
checked: no feed was polled twice. Targets: adding a worker never makes the
cycle slower; no feed polled twice in one interval.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from daemon import SlowServer  # noqa: E402
from daemonkit import Daemon  # noqa: E402


def run(count: int, args: argparse.Namespace, server: SlowServer) -> tuple[float, int, int]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{args.url}?options={quote(f'-csearch_path={schema}')}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            feeds = "".join(
                f'[[feeds]]\nname = "f{i}"\nurl = "{server.url(i)}"\ninterval = "1h"\n'
                for i in range(args.feeds)
            )
            config = Path(folder) / "config.toml"
            config.write_text(
                f'[store]\nurl = "{url}"\n[seeds]\npaths = []\n'
                "[daemon]\nparse_workers = 0\njitter = 0\n"
                "[fetch]\nconcurrency = 200\nper_host = 200\n"
                f"{feeds}"
                '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\n',
                encoding="utf-8",
            )
            # The schema first, so that the workers do not all race to create it.
            from monitor.app.wiring import open_log

            open_log(url).store.dispose()
            started = time.perf_counter()
            workers = [Daemon(config).start() for _ in range(count)]
            try:
                polled = 0
                deadline = time.monotonic() + 900
                while polled < args.feeds and time.monotonic() < deadline:
                    time.sleep(0.25)
                    with admin.connect() as conn:
                        polled = int(
                            conn.exec_driver_sql(
                                f'SELECT count(*) FROM "{schema}".feed_state'
                            ).scalar()
                            or 0
                        )
                seconds = time.perf_counter() - started
                time.sleep(2)
                for worker in workers:
                    worker.stop(timeout=30)
            finally:
                for worker in workers:
                    worker.close()
        with admin.connect() as conn:
            polls = int(
                conn.exec_driver_sql(
                    f'SELECT count(*) FROM "{schema}".events WHERE type IN '
                    "('FeedPolled', 'FeedNotModified', 'FeedPollFailed')"
                ).scalar()
                or 0
            )
        return seconds, polled, polls
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=3000)
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    server = SlowServer(args.feeds, args.items, args.delay)
    try:
        for count in (int(n) for n in args.workers.split(",")):
            seconds, polled, polls = run(count, args, server)
            print(
                f"{count} worker(s): {polled:,} of {args.feeds:,} feeds ({args.items} items each) "
                f"polled in {seconds:.1f} s; {polls:,} polls recorded "
                f"({polls - polled} feed(s) polled twice)",
                flush=True,
            )
    finally:
        server.close()


if __name__ == "__main__":
    main()
