"""The real daemon (`monitor run`) as a subprocess against a local feed server and webhook
receiver: latency from a new item to its webhook, conditional GET, backoff and health
alerts, SIGHUP reloads (and a broken config kept out), SIGTERM, and SIGKILL at random
points over many runs with nothing lost or repeated."""

from __future__ import annotations

import itertools
import json
import random
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from daemonkit import Daemon, LiveFeed, wait_until
from feedserver import FeedServer
from webhookreceiver import Received, WebhookReceiver

from alerts.signing import secret_bytes
from monitor.app.wiring import open_log
from monitor.eventlog.log import EventLog

SECRET = "whsec_ZGFlbW9uLXRlc3Qtc2lnbmluZy1rZXktMDEyMzQ1"
ENV = {"HOOK_SECRET": SECRET}
AA = "Armenia and Azerbaijan {} talks in Brussels, ministers said on {}."

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def config(
    folder: Path,
    feed_url: str,
    hook_url: str,
    *,
    interval: str = "1s",
    rules: str = "",
    extra: str = "",
) -> Path:
    rules = rules or (
        '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\nchannels = ["hook"]\n'
    )
    path = folder / "config.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n'
        '[daemon]\ntick = "0.5s"\n'
        f'[[feeds]]\nname = "live"\nurl = "{feed_url}"\ninterval = "{interval}"\n'
        f"{rules}"
        f'[[channels]]\nname = "hook"\ntype = "webhook"\nurl = "{hook_url}"\n'
        'secret_env = "HOOK_SECRET"\nretry_backoff = "1s"\ntimeout = "5s"\n'
        f"{extra}",
        encoding="utf-8",
    )
    return path


def bodies(requests: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in requests]


def docs_in(body: dict[str, Any]) -> list[str]:
    return [e["document_id"] for e in body.get("entries", [])] + [
        c["document_id"] for e in body.get("entries", []) for c in e.get("copies", [])
    ]


def titles_in(body: dict[str, Any]) -> list[str]:
    return [e["title"] for e in body.get("entries", [])]


def test_a_new_item_reaches_the_webhook_within_the_interval_and_polls_are_conditional(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = LiveFeed(feed_server)
    feed.add("a1", "Talks resume", AA.format("resumed", "Monday"))
    with WebhookReceiver(secret=secret_bytes(SECRET)) as hook:
        daemon = Daemon(config(tmp_path, feed.url, hook.url, interval="2s"), ENV).start()
        try:
            [first] = hook.wait_for(1, timeout=60)
            assert titles_in(json.loads(first.body)) == ["Talks resume"]
            assert wait_until(lambda: any(status == 304 for _, _, status in feed.hits), 10)
            appeared = time.time()
            feed.add("a2", "Talks stall", AA.format("stalled", "Friday"))
            second = hook.wait_for(2, timeout=20)[1]
            assert second.at - appeared <= 2 + 2 + 1  # interval + 2 s, and a second of slack
            assert titles_in(json.loads(second.body)) == ["Talks stall"]
            assert all(r.verified for r in hook.requests)
            code, took = daemon.stop()
        finally:
            daemon.close()
    assert code == 0 and took < 10
    conditional = [r for _, r, status in feed.hits if status == 304]
    assert conditional and all("if-none-match" in r.headers for r in conditional)


def test_a_failing_feed_backs_off_alerts_after_n_failures_and_recovers(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = LiveFeed(feed_server)
    feed.status = 500
    extra = '[health]\nchannels = ["hook"]\nfailures = 2\n[fetch]\nmax_backoff = "4s"\n'
    with WebhookReceiver() as hook:
        daemon = Daemon(config(tmp_path, feed.url, hook.url, extra=extra), ENV).start()
        try:
            [alert] = hook.wait_for(1, timeout=60)
            failing = json.loads(alert.body)
            assert (failing["type"], failing["state"], failing["feed"]) == (
                "feed_health",
                "failing",
                "live",
            )
            assert failing["failures"] == 2 and failing["category"] == "http"
            assert wait_until(lambda: len(feed.hits) >= 5, 30)
            times = [t for t, _, _ in feed.hits]
            gaps = [b - a for a, b in itertools.pairwise(times)]
            # 1 s interval doubling per failure: about 2, 4, then capped at 4 (+ scheduling).
            assert gaps[0] >= 1.4 and all(gap <= 5.5 for gap in gaps)
            assert max(gaps) >= 3.4  # it did back off
            feed.status = 200
            feed.add("ok1", "Back", "The feed works again.")
            recovered = hook.wait_for(2, timeout=15)[1]
            assert json.loads(recovered.body)["state"] == "recovered"
            assert daemon.stop()[0] == 0
        finally:
            daemon.close()
    assert len(hook.requests) == 2  # one alert each way, not one per failed poll


def test_sighup_applies_a_new_rule_and_a_broken_config_keeps_the_running_one(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = LiveFeed(feed_server)
    with WebhookReceiver() as hook:
        path = config(tmp_path, feed.url, hook.url)
        daemon = Daemon(path, ENV).start()
        try:
            assert wait_until(lambda: len(feed.hits) >= 2, 60)
            georgia = '[[rules]]\nname = "ge"\nquery = "Georgia"\nchannels = ["hook"]\n'
            config(tmp_path, feed.url, hook.url, rules=georgia)
            daemon.signal(signal.SIGHUP)
            assert wait_until(lambda: "daemon: reloaded" in daemon.log(), 15), daemon.log()
            feed.add("g1", "Tbilisi votes", "Georgia held elections on Saturday.")
            [first] = hook.wait_for(1, timeout=15)
            assert json.loads(first.body)["rule"] == "ge"

            path.write_text(path.read_text() + "\n[[feeds]]\nnmae = 'typo'\n")
            daemon.signal(signal.SIGHUP)
            assert wait_until(lambda: "not reloaded" in daemon.log(), 15), daemon.log()
            assert "nmae" in daemon.log() and daemon.alive()
            feed.add("g2", "Georgia again", "Georgia counted the votes on Sunday.")
            second = hook.wait_for(2, timeout=15)[1]
            assert titles_in(json.loads(second.body)) == ["Georgia again"]

            # A corrected config.toml is picked up on the next tick, without a signal.
            france = '[[rules]]\nname = "fr"\nquery = "France"\nchannels = ["hook"]\n'
            config(tmp_path, feed.url, hook.url, rules=georgia + france)
            assert wait_until(lambda: daemon.log().count("daemon: reloaded") >= 2, 15), daemon.log()
            feed.add("f1", "Paris", "France and its neighbours met in Paris.")
            third = hook.wait_for(3, timeout=15)[2]
            assert json.loads(third.body)["rule"] == "fr"
            assert daemon.stop()[0] == 0
        finally:
            daemon.close()


def test_sigterm_exits_0_within_10_seconds_with_a_poll_in_flight(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.hang("/slow.xml")
    with WebhookReceiver() as hook:
        daemon = Daemon(config(tmp_path, feed_server.url("/slow.xml"), hook.url), ENV).start()
        try:
            assert wait_until(lambda: bool(feed_server.requests_for("/slow.xml")), 60)
            code, took = daemon.stop()
        finally:
            daemon.close()
    assert code == 0 and took < 10, daemon.log()


def catches(pid: int, sig: signal.Signals) -> bool:
    """Whether the process has a handler for ``sig`` (the kernel's SigCgt mask)."""
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(
        next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16
    )
    return bool(mask & (1 << (sig - 1)))


def held_while_starting(daemon: Daemon, sig: signal.Signals) -> None:
    """Wait until the daemon handles ``sig``, and check that it did so before it started."""
    assert daemon.process is not None
    pid = daemon.process.pid
    assert wait_until(lambda: catches(pid, sig), 30)
    assert "monitor started" not in daemon.log()  # handled from the start, not once running


@pytest.mark.parametrize(
    ("sig", "delay"),
    [
        (signal.SIGTERM, 0.0),
        (signal.SIGINT, 0.4),
        (signal.SIGTERM, 1.2),
        (signal.SIGINT, 2.5),
    ],
)
def test_a_stop_during_start_up_is_a_clean_exit(
    tmp_path: Path, feed_server: FeedServer, sig: signal.Signals, delay: float
) -> None:
    """From the first statement on (not during the interpreter's own start, which no program
    can guard), SIGTERM or SIGINT ends the daemon with 0 and a log line, whatever start-up is
    doing."""
    feed = LiveFeed(feed_server)
    with WebhookReceiver() as hook:
        daemon = Daemon(config(tmp_path, feed.url, hook.url), ENV).start()
        try:
            held_while_starting(daemon, sig)
            time.sleep(delay)
            code, took = stop_with(daemon, sig)
        finally:
            daemon.close()
    assert code == 0 and took < 10, daemon.log()
    assert sig.name in daemon.log()


def stop_with(daemon: Daemon, sig: signal.Signals) -> tuple[int, float]:
    assert daemon.process is not None
    started = time.monotonic()
    daemon.signal(sig)
    return daemon.process.wait(timeout=15), time.monotonic() - started


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_during_the_first_lemma_dictionary_build(
    tmp_path: Path, feed_server: FeedServer, sig: signal.Signals
) -> None:
    """The first start builds the lemma dictionaries (seconds): a stop ends the build at once
    with exit 0, a reload is applied once the daemon runs, and the cache is whole after."""
    feed = LiveFeed(feed_server)
    feed.add("b1", "Talks resume", AA.format("resumed", "Monday"))
    env = {**ENV, "MONITOR_LEMMA_CACHE": str(tmp_path / "lemmas")}
    with WebhookReceiver() as hook:
        daemon = Daemon(config(tmp_path, feed.url, hook.url), env).start()
        try:
            assert wait_until(lambda: "building lemma dictionaries" in daemon.log(), 60), (
                daemon.log()
            )
            if sig == signal.SIGHUP:
                daemon.signal(sig)
                assert wait_until(lambda: "daemon: reloaded" in daemon.log(), 60), daemon.log()
                assert daemon.alive() and "monitor started" in daemon.log()
                assert daemon.stop()[0] == 0
            else:
                code, took = stop_with(daemon, sig)
                assert code == 0 and took < 10, daemon.log()
                assert f"{sig.name} during start-up" in daemon.log()
                assert "monitor started" not in daemon.log()
            # Whatever the build was doing, the next start finds a usable cache (or builds
            # what was left unbuilt) and works.
            daemon.start()
            assert wait_until(lambda: "monitor started" in daemon.latest_log(), 60)
            assert wait_until(lambda: len(hook.requests) >= 1, 60), daemon.log()[-3000:]
            assert daemon.stop()[0] == 0
        finally:
            daemon.close()


def test_a_reload_during_start_up_does_not_stop_the_daemon(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = LiveFeed(feed_server)
    with WebhookReceiver() as hook:
        daemon = Daemon(config(tmp_path, feed.url, hook.url), ENV).start()
        try:
            held_while_starting(daemon, signal.SIGHUP)
            daemon.signal(signal.SIGHUP)
            assert wait_until(lambda: "daemon: reloaded" in daemon.log(), 30), daemon.log()
            assert daemon.alive() and wait_until(lambda: len(feed.hits) >= 1, 30)
            assert daemon.stop()[0] == 0
        finally:
            daemon.close()


def test_sigkill_at_random_points_loses_and_repeats_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed = LiveFeed(feed_server)
    rng = random.Random(20261128)
    stop = threading.Event()

    def publish() -> None:  # a new story every 0.3 s, 40 in all
        for n in range(40):
            if stop.wait(0.3):
                return
            feed.add(f"s{n}", f"Story {n}", AA.format(f"story-{n} resumed", f"day {n}"))

    publisher = threading.Thread(target=publish, daemon=True)
    with WebhookReceiver() as hook:
        daemon = Daemon(config(tmp_path, feed.url, hook.url), ENV)
        publisher.start()
        try:
            for _ in range(8):
                daemon.start()
                time.sleep(rng.uniform(0.5, 4.0))
                daemon.kill()
            publisher.join(30)
            daemon.start()
            assert wait_until(lambda: _delivered(hook) >= 40, 90), daemon.log()[-3000:]
            time.sleep(2)  # anything repeated would arrive now
            assert daemon.stop()[0] == 0
        finally:
            stop.set()
            daemon.close()

    store = open_log(f"sqlite:///{tmp_path / 'monitor.db'}").store
    try:
        with store.reading() as conn:
            events = list(EventLog().read(conn))
    finally:
        store.dispose()
    ingested = Counter(e.data["document_id"] for e in events if e.type == "DocumentIngested")
    matched = Counter(e.data["document_id"] for e in events if e.type == "RuleMatched")
    assert len(ingested) == 40 and set(ingested.values()) == {1}
    assert set(matched) == set(ingested) and set(matched.values()) == {1}
    by_id: dict[str, set[str]] = defaultdict(set)
    for request in hook.requests:
        by_id[request.headers["webhook-id"]].update(docs_in(json.loads(request.body)))
    owners = Counter(doc for docs in by_id.values() for doc in docs)
    assert set(owners) == set(ingested)  # every document delivered
    assert set(owners.values()) == {1}  # in exactly one digest (a resend keeps its id)


def _delivered(hook: WebhookReceiver) -> int:
    return len({d for r in hook.requests for d in docs_in(json.loads(r.body))})


@pytest.mark.parametrize(
    ("args", "daemon"),
    [
        (["run"], True),
        (["--config", "run", "-v", "run"], True),
        (["-vv", "run", "--log-format", "json"], True),
        (["run", "--once"], False),
        (["run", "--help"], False),
        (["--config", "run", "status"], False),
        (["events", "--type", "run"], False),
        ([], False),
    ],
)
def test_only_the_daemon_holds_signals_from_its_first_statement(
    args: list[str], daemon: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the command line is even imported, `monitor run` holds stop and reload signals;
    every other command keeps the default (a stop ends it at once)."""
    import monitor.__main__ as entry
    import monitor.cli
    from monitor.app import signals

    seen: list[object] = []
    monkeypatch.setattr(sys, "argv", ["monitor", *args])
    monkeypatch.setattr(monitor.cli, "main", lambda: seen.append(signal.getsignal(signal.SIGTERM)))
    saved = {sig: signal.getsignal(sig) for sig in signals.HELD}
    try:
        entry.main()
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert seen == [signals._note if daemon else saved[signal.SIGTERM]]
