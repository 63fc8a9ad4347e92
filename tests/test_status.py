"""``monitor status`` on a real store: feed health, backoff and next poll, removed feeds,
the outbox backlog, JSON and text output."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from outboxkit import ManualClock

from monitor.app.status import StatusReport, gather_status, load_heartbeat
from monitor.app.status_view import render_status, status_command_output, status_json
from monitor.app.wiring import recorder_for
from monitor.config.settings import Settings, settings_from_dict
from monitor.eventlog.events import (
    DeliveryAbandoned,
    DeliveryFailed,
    DeliverySucceeded,
    DigestAssembled,
    Event,
    FeedPolled,
    FeedPollFailed,
)
from monitor.eventlog.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "events"
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)
PENDING_ID = "11111111-aaaa-5aaa-8aaa-000000000001"
ABANDONED_ID = "22222222-bbbb-5bbb-8bbb-000000000002"
DELIVERED_ID = "33333333-cccc-5ccc-8ccc-000000000003"


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.v1.json").read_text())["data"]
    return data | changes


def url(name: str) -> str:
    return f"https://{name}.example/rss.xml"


def polled(feed: str, feed_url: str | None = None) -> FeedPolled:
    return FeedPolled(**fixture("FeedPolled", feed=feed, url=feed_url or url(feed)))


def failed(feed: str, **changes: Any) -> FeedPollFailed:
    return FeedPollFailed(**fixture("FeedPollFailed", feed=feed, url=url(feed), **changes))


def settings(tmp_path: Path) -> Settings:
    feeds = [
        {"name": "bbc", "url": url("bbc"), "interval": "15m"},
        {"name": "dw", "url": url("dw"), "interval": "15m"},
        {"name": "tass", "url": url("tass"), "interval": "30m"},
        {"name": "moved", "url": url("moved-here"), "interval": "1h"},
        {"name": "fresh", "url": url("fresh")},
        {"name": "off", "url": url("off"), "enabled": False},
    ]
    raw = {"feeds": feeds, "fetch": {"max_backoff": "6h"}, "health": {"failures": 3}}
    return settings_from_dict(raw, source="test.toml", base_dir=tmp_path)


def digest(digest_id: str) -> DigestAssembled:
    return DigestAssembled(**fixture("DigestAssembled", digest_id=digest_id))


def delivery_failed(digest_id: str, attempt: int, retry_at: str | None) -> DeliveryFailed:
    return DeliveryFailed(
        **fixture("DeliveryFailed", digest_id=digest_id, attempt=attempt, retry_at=retry_at)
    )


@pytest.fixture
def recorded(store: Store) -> Store:
    """Three failures in a row for bbc, one (with Retry-After) for tass, a success for dw,
    a feed polled at a URL since changed, a feed no longer configured, and one digest
    in each delivery state."""
    clock = ManualClock(T0)
    recorder = recorder_for(store, clock=clock)
    steps: list[list[Event]] = [
        [polled("dw"), failed("bbc"), polled("gone"), polled("moved")],
        [failed("bbc"), failed("tass", status=503, category="http", retry_after=3600.0)],
        [failed("bbc"), digest(PENDING_ID), digest(ABANDONED_ID), digest(DELIVERED_ID)],
        [
            delivery_failed(PENDING_ID, 1, "2026-11-28T08:12:00+00:00"),
            delivery_failed(ABANDONED_ID, 8, None),
            DeliveryAbandoned(**fixture("DeliveryAbandoned", digest_id=ABANDONED_ID)),
            DeliverySucceeded(**fixture("DeliverySucceeded", digest_id=DELIVERED_ID)),
        ],
    ]
    for events in steps:
        recorder.append(events)
        clock.advance(60)
    return store


def report(store: Store, tmp_path: Path, **kwargs: Any) -> StatusReport:
    return gather_status(store, settings(tmp_path), NOW, **kwargs)


def test_failing_feed_backs_off_and_is_flagged(recorded: Store, tmp_path: Path) -> None:
    feeds = {feed.name: feed for feed in report(recorded, tmp_path).feeds}
    bbc = feeds["bbc"]
    assert bbc.consecutive_failures == 3
    assert bbc.failing and bbc.health == "failing"
    assert (bbc.last_error_category, bbc.last_error_message) == (
        "dns",
        "cannot resolve feeds.bbci.co.uk",
    )
    assert bbc.last_success_at is None
    # 15m doubled per failure: 15m * 2**3 = 2h after the last failed poll (08:02).
    assert bbc.backoff == 7200
    assert bbc.next_poll_at == T0 + timedelta(minutes=2, hours=2)

    tass = feeds["tass"]
    assert not tass.failing and tass.health == "retrying"
    # One failure would wait 1h; the server's Retry-After of 1h is honoured as well.
    assert tass.backoff == 3600
    assert tass.next_poll_at == T0 + timedelta(minutes=1, hours=1)


def test_healthy_new_moved_and_disabled_feeds(recorded: Store, tmp_path: Path) -> None:
    feeds = {feed.name: feed for feed in report(recorded, tmp_path).feeds}
    assert list(feeds) == ["bbc", "dw", "tass", "moved", "fresh", "off"]  # config order

    dw = feeds["dw"]
    assert dw.health == "ok" and not dw.failing
    assert dw.last_outcome == "polled" and dw.last_status == 200
    assert dw.last_polled_at == dw.last_success_at == T0
    assert dw.backoff == 900 and dw.next_poll_at == T0 + timedelta(minutes=15)
    assert dw.documents == 3

    fresh = feeds["fresh"]
    assert fresh.health == "never polled"
    assert fresh.last_polled_at is None and fresh.next_poll_at is None  # due now

    moved = feeds["moved"]
    assert moved.url_changed and moved.next_poll_at is None  # the new URL is polled now

    assert feeds["off"].health == "disabled"


def test_feeds_no_longer_configured_are_listed_as_removed(recorded: Store, tmp_path: Path) -> None:
    status = report(recorded, tmp_path)
    assert [feed.name for feed in status.removed_feeds] == ["gone"]
    assert status.removed_feeds[0].last_outcome == "polled"
    assert "gone" not in {feed.name for feed in status.feeds}


def test_deliveries_counted_and_backlog_listed(recorded: Store, tmp_path: Path) -> None:
    status = report(recorded, tmp_path)
    assert status.delivery_counts == {"pending": 1, "delivered": 1, "abandoned": 1}
    (pending,) = status.pending
    assert pending.digest_id == PENDING_ID
    assert pending.attempts == 1 and not pending.held
    assert pending.next_attempt_at == T0 + timedelta(minutes=12)
    assert (pending.last_category, pending.last_error) == ("http", "HTTP 500: boom")
    (abandoned,) = status.abandoned
    assert abandoned.digest_id == ABANDONED_ID
    assert abandoned.next_attempt_at is None and abandoned.rule == "armenia-azerbaijan"


def test_lists_are_capped_but_counts_are_not(recorded: Store, tmp_path: Path) -> None:
    recorder = recorder_for(recorded, clock=lambda: T0)
    recorder.append([digest(f"44444444-dddd-5ddd-8ddd-00000000000{n}") for n in range(3)])
    status = report(recorded, tmp_path, limit=2)
    assert status.delivery_counts["pending"] == 4
    assert len(status.pending) == 2
    assert "4, 2 shown" in _text(status)


def test_json_output(recorded: Store, tmp_path: Path) -> None:
    out = status_command_output(
        recorded, settings(tmp_path), NOW, as_json=True, heartbeat={"pid": 4242}
    )
    data = json.loads(out)
    assert data["generated_at"] == "2026-11-28T08:05:00Z"
    feeds = {feed["name"]: feed for feed in data["feeds"]}
    assert feeds["bbc"]["failing"] is True
    assert feeds["bbc"]["backoff"] == 7200
    assert feeds["bbc"]["next_poll_at"] == "2026-11-28T10:02:00Z"
    assert feeds["bbc"]["last_error_category"] == "dns"
    assert feeds["bbc"]["last_error_message"] == "cannot resolve feeds.bbci.co.uk"
    assert feeds["bbc"]["health"] == "failing"
    assert feeds["bbc"]["due_now"] is False
    assert feeds["fresh"]["next_poll_at"] is None and feeds["fresh"]["due_now"] is True
    assert feeds["off"]["due_now"] is False
    assert [feed["name"] for feed in data["removed_feeds"]] == ["gone"]
    deliveries = data["deliveries"]
    assert deliveries["counts"] == {"pending": 1, "delivered": 1, "abandoned": 1}
    assert deliveries["pending"][0]["next_attempt_at"] == "2026-11-28T08:12:00Z"
    assert deliveries["pending"][0]["held"] is False
    assert deliveries["pending"][0]["last_error"] == "HTTP 500: boom"
    assert deliveries["abandoned"][0]["digest_id"] == ABANDONED_ID
    assert data["daemon"] == {"pid": 4242}
    assert status_json(report(recorded, tmp_path))["daemon"] is None


def test_text_output_names_every_feed_and_the_backlog(recorded: Store, tmp_path: Path) -> None:
    out = status_command_output(recorded, settings(tmp_path), NOW, as_json=False, terminal=False)
    assert "\x1b[" not in out  # no colour codes when not at a terminal
    for name in ("bbc", "dw", "tass", "moved", "fresh", "off", "gone"):
        assert name in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "failing" in lines["bbc"]
    assert "in 1h 57m" in lines["bbc"]
    assert "2h (backoff)" in lines["bbc"]
    assert "dns: cannot resolve feeds.bbci.co.uk" in lines["bbc"]
    assert "5m ago" in lines["dw"] and "in 10m" in lines["dw"]
    assert " now" in lines["fresh"]
    assert "now (URL changed)" in lines["moved"]
    assert "removed from the configuration" in out
    assert "1 pending, 1 delivered, 1 abandoned" in out
    assert PENDING_ID[:8] in lines and ABANDONED_ID[:8] in lines
    assert DELIVERED_ID[:8] not in out
    assert "no heartbeat" in out


def test_terminal_output_keeps_the_names(recorded: Store, tmp_path: Path) -> None:
    out = status_command_output(recorded, settings(tmp_path), NOW, as_json=False, terminal=True)
    for name in ("bbc", "dw", "fresh", "gone", PENDING_ID[:8]):
        assert name in out


def test_heartbeat_shown_with_ages(recorded: Store, tmp_path: Path) -> None:
    heartbeat = {"pid": 4242, "updated_at": "2026-11-28T08:04:30Z", "version": "2026.11"}
    out = _text(report(recorded, tmp_path, heartbeat=heartbeat))
    assert "4242" in out
    assert "08:04 (30s ago)" in out
    assert "2026.11" in out


def test_load_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    assert load_heartbeat(path) is None
    path.write_text('{"pid": 1}')
    assert load_heartbeat(path) == {"pid": 1}
    path.write_text('{"pid": ')  # caught mid-write
    assert load_heartbeat(path) is None


def test_empty_store(store: Store, tmp_path: Path) -> None:
    status = gather_status(store, settings_from_dict({}, source="t", base_dir=tmp_path), NOW)
    assert status.feeds == [] and status.pending == [] and status.abandoned == []
    assert status.delivery_counts == {"pending": 0, "delivered": 0, "abandoned": 0}
    assert "no feeds in the configuration" in _text(status)


def _text(status: StatusReport) -> str:
    from rich.console import Console

    console = Console(width=160, record=True, file=None, color_system=None)
    with console.capture() as capture:
        for part in render_status(status):
            console.print(part)
    return capture.get()
