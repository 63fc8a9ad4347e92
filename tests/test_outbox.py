"""The outbox against a real database and a real webhook receiver: digests recorded before
they are sent, every attempt recorded, retries on the backoff schedule with one id and one
body, abandoned after the last attempt, retried on request, 410 holds the channel."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from outboxkit import ManualClock, define_rules, record_matches, settings_with
from webhookreceiver import Hang, Respond, WebhookReceiver

from alerts.channels import Channels
from alerts.outbox.assembly import assemble, enable_changed_channels
from alerts.outbox.commands import request_retry, run_outbox
from alerts.outbox.delivery import deliver
from alerts.outbox.queries import list_deliveries
from alerts.retry import JITTER
from monitor.app.wiring import PROJECTIONS, recorder_for
from monitor.config.settings import Settings
from monitor.eventlog.log import EventLog
from monitor.eventlog.projection import Projector
from monitor.eventlog.recorder import Recorder
from monitor.eventlog.store import Store

SECRET = "whsec_" + "c2VjcmV0LXNpZ25pbmcta2V5LWZvci10ZXN0cw=="
ENV = {"HOOK_SECRET": SECRET}


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": "ops",
        "type": "webhook",
        "url": url,
        "secret_env": "HOOK_SECRET",
        "timeout": "1s",
        "retry_backoff": "30s",
        **extra,
    }


def docs(*ids: str) -> list[tuple[str, str, str]]:
    """Distinct stories (no two are near duplicates, so each is an entry of its own)."""
    return [
        (i, f"Talks, day {i}", "Armenia " + " ".join(f"{i}w{k}" for k in range(12))) for i in ids
    ]


def events_of(store: Store, *types: str) -> list[dict[str, Any]]:
    with store.reading() as conn:
        return [
            {"type": e.type, "stream": e.stream, **e.data}
            for e in EventLog().read(conn, types=list(types))
        ]


def state(store: Store) -> list[dict[str, Any]]:
    with store.reading() as conn:
        return [asdict(record) for record in list_deliveries(conn)]


def once(recorder: Recorder, settings: Settings, rng: random.Random | None = None) -> Any:
    return run_outbox(
        recorder, settings.rules, Channels.of(settings), env=ENV, rng=rng or random.Random(7)
    )


def test_matches_go_out_once_per_channel_in_one_digest(store: Store, tmp_path: Path) -> None:
    clock = ManualClock()
    recorder = recorder_for(store, clock=clock)
    with WebhookReceiver(secret=_key()) as receiver:
        settings = settings_with(
            tmp_path,
            [webhook(receiver.url), {"name": "files", "type": "file", "path": "out"}],
        )
        define_rules(recorder, settings)
        record_matches(recorder, "aa", docs("a1", "a2"))
        report = once(recorder, settings)
        assert len(report.assembled) == 2
        assert report.count("DeliverySucceeded") == 2
        [request] = receiver.wait_for(1)
        body = json.loads(request.body)
        assert {e["document_id"] for e in body["entries"]} == {"a1", "a2"}
        assert request.verified and request.headers["webhook-id"] == body["id"]
        [written] = list((tmp_path / "out").iterdir())
        assert "Talks, day a1" in written.read_text(encoding="utf-8")

        # Nothing new: nothing assembled, nothing sent.
        report = once(recorder, settings)
        assert report.assembled == [] and report.attempts == []
        # One new match: a digest with only that one.
        record_matches(recorder, "aa", docs("a3"))
        once(recorder, settings)
        second = receiver.wait_for(2)[1]
        assert [e["document_id"] for e in json.loads(second.body)["entries"]] == ["a3"]
    assert [r["state"] for r in state(store)] == ["delivered"] * 4
    assert len(events_of(store, "DigestAssembled")) == 4


def test_a_channel_added_later_gets_news_from_then_on_and_backfill_only_when_asked(
    store: Store, tmp_path: Path
) -> None:
    recorder = recorder_for(store, clock=ManualClock())
    first = settings_with(tmp_path, [{"name": "files", "type": "file", "path": "out"}])
    define_rules(recorder, first)
    record_matches(recorder, "aa", docs("old"))
    record_matches(recorder, "aa", docs("past"), backfill=True)
    once(recorder, first)
    later = settings_with(
        tmp_path,
        [
            {"name": "files", "type": "file", "path": "out"},
            {"name": "more", "type": "file", "path": "more", "include_backfill": True},
        ],
    )
    define_rules(recorder, later)
    record_matches(recorder, "aa", docs("new"))
    record_matches(recorder, "aa", docs("dug-up"), backfill=True)
    once(recorder, later)
    digests = {
        (e["channel"], tuple(sorted(e["documents"]))) for e in events_of(store, "DigestAssembled")
    }
    assert digests == {
        ("files", ("old",)),
        ("files", ("new",)),
        ("more", ("dug-up", "new")),
    }


def test_retries_follow_the_backoff_with_one_id_and_one_body_then_succeed(
    store: Store, tmp_path: Path
) -> None:
    clock = ManualClock()
    recorder = recorder_for(store, clock=clock)
    script = [Respond(500, b"boom"), Hang(3)]
    with WebhookReceiver(script, default=Respond(204), secret=_key()) as receiver:
        settings = settings_with(tmp_path, [webhook(receiver.url)])
        define_rules(recorder, settings)
        record_matches(recorder, "aa", docs("b1"))

        once(recorder, settings)  # 500
        [row] = state(store)
        assert (row["state"], row["attempts"], row["last_status"]) == ("pending", 1, 500)
        assert _waited(row, clock.now, 30)

        once(recorder, settings)  # not due yet: no request
        assert len(receiver.requests) == 1

        clock.to(row["next_attempt_at"])
        once(recorder, settings)  # timeout
        [row] = state(store)
        assert (row["attempts"], row["last_category"]) == (2, "timeout")
        assert _waited(row, clock.now, 60)

        clock.to(row["next_attempt_at"])
        once(recorder, settings)  # accepted
        requests = receiver.wait_for(3)
    [row] = state(store)
    assert (row["state"], row["total_attempts"], row["last_status"]) == ("delivered", 3, 204)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert len({r.body for r in requests}) == 1
    assert all(r.verified for r in requests)
    # Signed with the real time (receivers check it against theirs), not the test's clock.
    assert all(abs(int(r.headers["webhook-timestamp"]) - r.at) < 5 for r in requests)
    kinds = [e["type"] for e in events_of(store, "DeliveryFailed", "DeliverySucceeded")]
    assert kinds == ["DeliveryFailed", "DeliveryFailed", "DeliverySucceeded"]


def test_abandoned_after_the_last_attempt_then_retried_on_request(
    store: Store, tmp_path: Path
) -> None:
    clock = ManualClock()
    recorder = recorder_for(store, clock=clock)
    script = [Respond(500)] * 3
    with WebhookReceiver(script, default=Respond(200), secret=_key()) as receiver:
        settings = settings_with(tmp_path, [webhook(receiver.url, max_attempts=3)])
        define_rules(recorder, settings)
        record_matches(recorder, "aa", docs("c1"))
        for _ in range(3):
            once(recorder, settings)
            [row] = state(store)
            if row["next_attempt_at"] is not None:
                clock.to(row["next_attempt_at"])
        assert row["state"] == "abandoned" and row["attempts"] == 3
        [abandoned] = events_of(store, "DeliveryAbandoned")
        assert abandoned["attempts"] == 3 and "HTTP 500" in abandoned["reason"]
        clock.advance(86400)
        once(recorder, settings)
        assert len(receiver.requests) == 3  # abandoned means no more attempts

        _, attempts = request_retry(recorder, Channels.of(settings), row["digest_id"][:8], env=ENV)
        assert attempts[0].outcome.ok
        requests = receiver.wait_for(4)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    [row] = state(store)
    assert (row["state"], row["total_attempts"]) == ("delivered", 4)


def test_gone_disables_the_channel_and_a_new_url_delivers_what_waited(
    store: Store, tmp_path: Path
) -> None:
    recorder = recorder_for(store, clock=ManualClock())
    with WebhookReceiver([Respond(410)]) as gone, WebhookReceiver(secret=_key()) as moved:
        settings = settings_with(tmp_path, [webhook(gone.url)])
        define_rules(recorder, settings)
        record_matches(recorder, "aa", docs("g1"))
        once(recorder, settings)
        [disabled] = events_of(store, "ChannelDisabled")
        assert disabled["channel"] == "ops" and "410" in disabled["reason"]
        record_matches(recorder, "aa", docs("g2"))
        report = once(recorder, settings)
        assert report.assembled == [] and report.attempts == []  # held, not lost
        assert len(gone.requests) == 1

        settings = settings_with(tmp_path, [webhook(moved.url)])
        assert enable_changed_channels(recorder, Channels.of(settings)) == ["ops"]
        once(recorder, settings)
        received = moved.wait_for(2)
    ids = sorted(
        d for r in received for d in (e["document_id"] for e in json.loads(r.body)["entries"])
    )
    assert ids == ["g1", "g2"]
    assert {r["state"] for r in state(store)} == {"delivered"}


def test_retry_after_is_honoured(store: Store, tmp_path: Path) -> None:
    clock = ManualClock()
    recorder = recorder_for(store, clock=clock)
    with WebhookReceiver([Respond(503, headers={"Retry-After": "120"})]) as receiver:
        settings = settings_with(tmp_path, [webhook(receiver.url)])
        define_rules(recorder, settings)
        record_matches(recorder, "aa", docs("r1"))
        once(recorder, settings)
    [row] = state(store)
    assert (row["next_attempt_at"] - clock.now).total_seconds() == 120
    [failed] = events_of(store, "DeliveryFailed")
    assert failed["retry_after"] == 120 and failed["status"] == 503


def test_a_hanging_channel_does_not_delay_another(store: Store, tmp_path: Path) -> None:
    recorder = recorder_for(store, clock=ManualClock())
    with WebhookReceiver(default=Hang(5)) as slow, WebhookReceiver() as fast:
        settings = settings_with(
            tmp_path,
            [
                webhook(slow.url, name="slow", timeout="2s"),
                webhook(fast.url, name="fast"),
            ],
        )
        define_rules(recorder, settings)
        record_matches(recorder, "aa", docs("h1"))
        loop_started = _now()
        report = once(recorder, settings)
        [arrived] = fast.wait_for(1)
    assert arrived.at - loop_started < 1.5
    outcomes = {a.channel: a.outcome for a in report.attempts}
    assert outcomes["fast"].ok and outcomes["slow"].category == "timeout"


def test_an_unreachable_channel_stops_its_pass_without_spending_every_digest(
    store: Store, tmp_path: Path
) -> None:
    recorder = recorder_for(store, clock=ManualClock())
    settings = settings_with(
        tmp_path,
        [webhook("http://127.0.0.1:9/hook")],
        rules=[{"name": f"r{i}", "query": "Armenia", "channels": ["ops"]} for i in range(4)],
    )
    define_rules(recorder, settings)
    for i in range(4):
        record_matches(recorder, f"r{i}", docs(f"u{i}"))
    report = once(recorder, settings)
    assert len(report.assembled) == 4
    assert len(report.attempts) == 1 and report.attempts[0].outcome.category == "connect"
    assert sorted(r["attempts"] for r in state(store)) == [0, 0, 0, 1]


def test_replay_rebuilds_the_delivery_state(store: Store, tmp_path: Path) -> None:
    clock = ManualClock()
    recorder = recorder_for(store, clock=clock)
    with WebhookReceiver([Respond(500), Respond(410)]) as receiver:
        settings = settings_with(tmp_path, [webhook(receiver.url, max_attempts=2)])
        define_rules(recorder, settings)
        record_matches(recorder, "aa", docs("p1", "p2"))
        once(recorder, settings)
        clock.advance(3600)
        once(recorder, settings)
    tables = ("deliveries", "digest_items", "channel_state")
    live = _dump(store, tables)
    with store.transaction() as conn:
        Projector(EventLog(), PROJECTIONS).rebuild(conn)
    assert _dump(store, tables) == live
    assert live["channel_state"] and live["digest_items"]


def test_assembling_twice_at_once_never_puts_a_match_in_two_digests(
    store: Store, tmp_path: Path
) -> None:
    recorder = recorder_for(store, clock=ManualClock())
    settings = settings_with(tmp_path, [{"name": "files", "type": "file", "path": "out"}])
    define_rules(recorder, settings)
    record_matches(recorder, "aa", docs(*(f"x{i}" for i in range(20))))
    channels = Channels.of(settings)

    async def both() -> list[list[str]]:
        return await asyncio.gather(
            asyncio.to_thread(assemble, recorder, settings.rules, channels),
            asyncio.to_thread(
                assemble, recorder_for(store, clock=ManualClock()), settings.rules, channels
            ),
        )

    made = asyncio.run(both())
    assert sorted(len(m) for m in made) == [0, 1]
    asyncio.run(deliver(recorder, channels, env={}))
    [event] = events_of(store, "DigestAssembled")
    assert len(event["documents"]) == 20


def _dump(store: Store, tables: tuple[str, ...]) -> dict[str, list[tuple[Any, ...]]]:
    with store.reading() as conn:
        return {
            t: sorted(tuple(r) for r in conn.execute(sa.text(f"SELECT * FROM {t}"))) for t in tables
        }


def _key() -> bytes:
    from alerts.signing import secret_bytes

    return secret_bytes(SECRET)


def _waited(row: dict[str, Any], now: datetime, nominal: float) -> bool:
    wait = (row["next_attempt_at"] - now).total_seconds()
    return nominal <= wait <= nominal * (1 + JITTER)


def _now() -> float:
    import time

    return time.time()


pytestmark = pytest.mark.timeout(60)


def test_quiet_hours_hold_immediate_digests_and_release_them_together(
    store: Store, tmp_path: Path
) -> None:
    # 21:30 UTC is 22:30 in Warsaw: inside "22:00-07:00 Europe/Warsaw".
    clock = ManualClock(datetime(2026, 11, 28, 21, 30, tzinfo=UTC))
    recorder = recorder_for(store, clock=clock)
    quiet = {
        "name": "files",
        "type": "file",
        "path": "out",
        "quiet_hours": "22:00-07:00 Europe/Warsaw",
    }
    settings = settings_with(
        tmp_path,
        [quiet],
        rules=[{"name": "aa", "query": "Armenia", "channels": ["files"], "schedule": "immediate"}],
    )
    define_rules(recorder, settings)
    record_matches(recorder, "aa", docs("n1"))
    assert once(recorder, settings).assembled == []
    clock.advance(3 * 3600)
    record_matches(recorder, "aa", docs("n2"))
    assert once(recorder, settings).assembled == []  # 01:30 in Warsaw: still quiet
    clock.to(datetime(2026, 11, 29, 6, 0, tzinfo=UTC))  # 07:00 in Warsaw
    report = once(recorder, settings)
    assert len(report.assembled) == 1 and report.count("DeliverySucceeded") == 1
    [digest] = events_of(store, "DigestAssembled")
    assert sorted(digest["documents"]) == ["n1", "n2"]  # one digest with all that waited
