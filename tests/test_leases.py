"""Leases on a real database (both backends): one holder at a time, taken over after expiry,
renewed while held, released when done; concurrent claims never share a lease."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

from monitor.eventlog.leases import Leases, heartbeat, leave, workers
from monitor.eventlog.store import Store

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_one_holder_until_release_or_expiry(store: Store) -> None:
    clock = Clock()
    a = Leases(store, "a", ttl=30, clock=clock)
    b = Leases(store, "b", ttl=30, clock=clock)
    assert a.claim(["feed:x", "feed:y"]) == {"feed:x", "feed:y"}
    assert b.claim(["feed:x", "feed:z"]) == {"feed:z"}
    a.release(["feed:x"])
    assert b.claim(["feed:x"]) == {"feed:x"}
    clock.now += timedelta(seconds=20)
    assert a.renew() == set()  # feed:y renewed until T0+50
    clock.now += timedelta(seconds=25)
    assert b.claim(["feed:y"]) == set()  # still a's
    clock.now += timedelta(seconds=10)  # a stopped renewing (killed): expired at T0+50
    assert b.claim(["feed:y"]) == {"feed:y"}
    assert a.renew() == {"feed:y"}  # a learns it lost it
    assert a.held == frozenset()


def test_concurrent_claims_never_share_a_lease(store: Store) -> None:
    names = [f"feed:{i}" for i in range(200)]
    won: dict[str, set[str]] = {}

    def grab(owner: str) -> None:
        leases = Leases(store, owner, ttl=60)
        got: set[str] = set()
        for start in range(0, 200, 20):
            got |= leases.claim(names[start : start + 20])
        won[owner] = got

    threads = [threading.Thread(target=grab, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    taken = [name for got in won.values() for name in got]
    assert len(taken) == len(set(taken)) == 200


def test_workers_are_listed_with_their_leases_and_leave_cleanly(store: Store) -> None:
    now = datetime.now(UTC)
    heartbeat(store, "w1", now, now)
    heartbeat(store, "w2", now, now + timedelta(seconds=1))
    Leases(store, "w1", ttl=60).claim(["feed:a", "digest:1"])
    listed = {w.worker_id: w for w in workers(store)}
    assert set(listed) == {"w1", "w2"}
    assert listed["w1"].leases == ("digest:1", "feed:a") and listed["w2"].leases == ()
    leave(store, "w1")
    assert [w.worker_id for w in workers(store)] == ["w2"]
    assert Leases(store, "w2", ttl=60).claim(["feed:a"]) == {"feed:a"}


def test_monitor_status_shows_the_workers_and_what_each_holds(
    store: Store, tmp_path: object
) -> None:
    from pathlib import Path

    from monitor.app.status_view import status_command_output
    from monitor.config.settings import settings_from_dict

    now = datetime.now(UTC)
    heartbeat(store, "host-a-101-abc", now, now)
    Leases(store, "host-a-101-abc", ttl=60).claim(["feed:bbc", "digest:42"])
    settings = settings_from_dict({}, source="t", base_dir=Path(str(tmp_path)))
    text = status_command_output(store, settings, now, as_json=False, terminal=False)
    assert "workers: 1" in text and "host-a-101-abc" in text and "digest:42, feed:bbc" in text
    report = json.loads(status_command_output(store, settings, now, as_json=True))
    [worker] = report["workers"]
    assert worker["worker_id"] == "host-a-101-abc" and worker["leases"] == ["digest:42", "feed:bbc"]
