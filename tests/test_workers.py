"""Several `monitor run` workers on one PostgreSQL database share the work: each item is
ingested once, each match recorded once, each document delivered in one digest, no feed is
polled twice in one interval; also when a worker is killed with SIGKILL halfway and another
joins."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemonkit import Daemon, wait_until
from feedserver import FeedServer, Reply, Request
from stores import postgres_schema, postgres_url
from webhookreceiver import WebhookReceiver

from monitor.app.wiring import open_log
from monitor.eventlog.log import EventLog

FEEDS = 300
CYCLES = 10
INTERVAL = 6.0

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(600)]


class Cycles:
    """300 feeds whose items grow by one per feed every cycle (the test moves the cycle)."""

    def __init__(self, server: FeedServer) -> None:
        self.cycle = 0
        self.lock = threading.Lock()
        for n in range(FEEDS):
            server.route(f"/f/{n}.xml", self._respond)
        self.server = server

    def _respond(self, request: Request) -> Reply:
        n = int(request.path.split("/")[-1].removesuffix(".xml"))
        with self.lock:
            cycle = self.cycle
        items = "".join(
            f'<item><guid isPermaLink="false">f{n}-c{c}</guid><title>Feed {n} cycle {c}</title>'
            f"<link>http://127.0.0.1/f{n}/c{c}</link><description>"
            + ("Armenia and Azerbaijan talks resumed." if (n + c) % 3 == 0 else "Weather news.")
            + "</description></item>"
            for c in range(cycle + 1)
        )
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>'
            f"<link>http://127.0.0.1/</link><description>d</description>{items}</channel></rss>"
        ).encode()
        etag = '"' + hashlib.sha1(body).hexdigest()[:12] + '"'
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"})

    def advance(self) -> None:
        with self.lock:
            self.cycle += 1


@pytest.fixture
def database() -> Iterator[str]:
    base = postgres_url()
    if base is None:
        pytest.skip(
            "needs MONITOR_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    with postgres_schema(base, "w") as url:
        yield url


def write_config(folder: Path, url: str, server: FeedServer, hook: str) -> Path:
    feeds = "".join(
        f'[[feeds]]\nname = "f{n}"\nurl = "{server.url(f"/f/{n}.xml")}"\ninterval = "{INTERVAL}s"\n'
        for n in range(FEEDS)
    )
    path = folder / "config.toml"
    path.write_text(
        f'[store]\nurl = "{url}"\n[seeds]\npaths = []\n'
        '[daemon]\ntick = "1s"\nparse_workers = 0\njitter = 0.2\n'
        "[fetch]\nconcurrency = 32\nper_host = 32\n"
        f"{feeds}"
        '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\nchannels = ["hook"]\n'
        f'[[channels]]\nname = "hook"\ntype = "webhook"\nurl = "{hook}"\nretry_backoff = "1s"\n',
        encoding="utf-8",
    )
    return path


def run_cluster(tmp_path: Path, database: str, *, chaos: bool) -> None:
    with FeedServer() as server, WebhookReceiver() as hook:
        cycles = Cycles(server)
        config = write_config(tmp_path, database, server, hook.url)
        workers = [Daemon(config).start() for _ in range(3)]
        try:
            for cycle in range(1, CYCLES + 1):
                time.sleep(INTERVAL)
                cycles.advance()
                if chaos and cycle == CYCLES // 2:
                    workers[0].kill()  # SIGKILL in the middle: its leases must expire
                    workers.append(Daemon(config).start())  # and a worker joins
            expected = {f"f{n}-c{c}" for n in range(FEEDS) for c in range(CYCLES + 1)}
            assert wait_until(lambda: _ingested(database) >= len(expected), 120), workers[1].log()[
                -4000:
            ]
            matching = {g for g in expected if _matches(g)}
            assert wait_until(lambda: _delivered(hook) >= len(matching), 120)
            time.sleep(3)  # a repeat would arrive now
            for worker in workers:
                if worker.alive():
                    assert worker.stop()[0] == 0
        finally:
            for worker in workers:
                worker.close()
        _check(database, hook, expected, matching)


def _matches(guid: str) -> bool:
    n, c = guid.removeprefix("f").split("-c")
    return (int(n) + int(c)) % 3 == 0


def _events(database: str) -> list[object]:
    store = open_log(database).store
    try:
        with store.reading() as conn:
            return list(EventLog().read(conn))
    finally:
        store.dispose()


def _ingested(database: str) -> int:
    store = open_log(database).store
    try:
        with store.reading() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM documents").scalar() or 0)
    finally:
        store.dispose()


def _documents(body: bytes) -> list[str]:
    """Every document a digest carries: each entry's lead and its near-duplicate copies."""
    entries = json.loads(body)["entries"]
    return [e["document_id"] for e in entries] + [
        c["document_id"] for e in entries for c in e["copies"]
    ]


def _delivered(hook: WebhookReceiver) -> int:
    return len({d for r in hook.requests for d in _documents(r.body)})


def _check(database: str, hook: WebhookReceiver, expected: set[str], matching: set[str]) -> None:
    events = _events(database)
    ingested = Counter(e.data["document_id"] for e in events if e.type == "DocumentIngested")
    assert len(ingested) == len(expected) and set(ingested.values()) == {1}
    guid_of = {
        e.data["document_id"]: e.data["identity"].removeprefix("guid:")
        for e in events
        if e.type == "DocumentIngested"
    }
    assert set(guid_of.values()) == expected
    matched = Counter(e.data["document_id"] for e in events if e.type == "RuleMatched")
    assert {guid_of[d] for d in matched} == matching and set(matched.values()) == {1}
    owners: dict[str, set[str]] = defaultdict(set)
    for request in hook.requests:
        for document in _documents(request.body):
            owners[document].add(request.headers["webhook-id"])
    assert {guid_of[d] for d in owners} == matching
    assert all(len(ids) == 1 for ids in owners.values())  # one digest per document
    starts: dict[str, list[float]] = defaultdict(list)
    for e in events:
        if e.type in {"FeedPolled", "FeedNotModified", "FeedPollFailed"}:
            starts[e.data["feed"]].append(e.recorded_at.timestamp() - e.data["elapsed"])
    gaps = [b - a for s in starts.values() for a, b in zip(sorted(s), sorted(s)[1:], strict=False)]
    assert gaps and min(gaps) >= INTERVAL - 1.0, sorted(gaps)[:5]  # never twice in an interval


def test_three_workers_share_the_work(tmp_path: Path, database: str) -> None:
    run_cluster(tmp_path, database, chaos=False)


def test_a_worker_killed_and_a_worker_added_halfway(tmp_path: Path, database: str) -> None:
    run_cluster(tmp_path, database, chaos=True)
