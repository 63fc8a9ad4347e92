"""When things happen (pure): feed backoff, quiet hours, digest triggers across DST, and
feed-health decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.channels import kind_of
from alerts.health import health_change, health_message
from monitor.app.scheduler import digest_trigger, feed_trigger
from monitor.config.digest_schedules import parse_quiet_hours, parse_schedule
from monitor.config.settings import settings_from_dict
from monitor.feeds.politeness import is_due, next_poll_at, poll_delay
from monitor.readmodels.feeds import FeedState

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def test_a_failing_feed_backs_off_exponentially_to_the_cap_and_is_never_dropped() -> None:
    delays = [poll_delay(900, failures, max_backoff=6 * 3600) for failures in range(8)]
    assert delays == [900, 1800, 3600, 7200, 14400, 21600, 21600, 21600]
    # A cap below the interval never makes a feed poll more often than its interval.
    assert poll_delay(3600, 5, max_backoff=60) == 3600
    assert poll_delay(900, 10_000, max_backoff=21600) == 21600


def test_retry_after_is_honoured_within_the_cap() -> None:
    assert poll_delay(60, 1, max_backoff=3600, retry_after=600) == 600
    assert poll_delay(60, 1, max_backoff=3600, retry_after=5) == 120  # backoff is longer
    assert poll_delay(60, 1, max_backoff=3600, retry_after=86400) == 3600


def test_next_poll_comes_from_the_recorded_state() -> None:
    state = FeedState(feed="a", url="http://a/", last_polled_at=T0, consecutive_failures=2)
    assert next_poll_at(None, 900, max_backoff=3600) is None  # never polled: now
    assert next_poll_at(state, 900, max_backoff=3600, url="http://b/") is None  # new URL: now
    assert next_poll_at(state, 900, max_backoff=3600, url="http://a/") == T0 + timedelta(hours=1)
    assert not is_due(state, 900, T0 + timedelta(minutes=50), max_backoff=3600)
    assert is_due(state, 900, T0 + timedelta(minutes=50), max_backoff=3600, slack=900)


@pytest.mark.parametrize(
    ("moment", "quiet", "ends"),
    [
        ("2026-11-28T20:59:00+00:00", False, "2026-11-29T06:00:00+00:00"),
        ("2026-11-28T21:00:00+00:00", True, "2026-11-29T06:00:00+00:00"),  # 22:00 in Warsaw
        ("2026-11-29T05:59:59+00:00", True, "2026-11-29T06:00:00+00:00"),
        ("2026-11-29T06:00:00+00:00", False, "2026-11-30T06:00:00+00:00"),
        # The night the clocks go forward: 07:00 in Warsaw is 05:00 UTC the next morning.
        ("2026-03-28T23:00:00+00:00", True, "2026-03-29T05:00:00+00:00"),
    ],
)
def test_quiet_hours_across_midnight_and_dst(moment: str, quiet: bool, ends: str) -> None:
    window = parse_quiet_hours("22:00-07:00 Europe/Warsaw")
    at = datetime.fromisoformat(moment)
    assert window.active_at(at) is quiet
    assert window.ends_after(at) == datetime.fromisoformat(ends)


@pytest.mark.parametrize("text", ["22:00", "25:00-07:00", "22:00-22:00", "22:00-07:00 Mars/Base"])
def test_bad_quiet_hours_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_quiet_hours(text)


def test_a_daily_digest_fires_at_its_local_time_across_both_dst_changes() -> None:
    trigger = digest_trigger(parse_schedule("daily 08:00 Europe/Warsaw"))
    assert trigger is not None
    fired, now, previous = [], datetime(2026, 3, 27, 12, 0, tzinfo=UTC), None
    for _ in range(3):
        previous = trigger.get_next_fire_time(previous, now)
        fired.append(previous.astimezone(UTC).isoformat())
        now = previous
    assert fired == [
        "2026-03-28T07:00:00+00:00",  # winter time, UTC+1
        "2026-03-29T06:00:00+00:00",  # summer time from that night, UTC+2
        "2026-03-30T06:00:00+00:00",
    ]
    autumn = trigger.get_next_fire_time(None, datetime(2026, 10, 25, 0, 0, tzinfo=UTC))
    assert autumn.astimezone(UTC).isoformat() == "2026-10-25T07:00:00+00:00"


def test_weekly_hourly_cron_and_immediate_triggers() -> None:
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # a Monday
    weekly = digest_trigger(parse_schedule("weekly fri 17:30 America/New_York"))
    assert weekly is not None
    fire = weekly.get_next_fire_time(None, monday)
    assert fire.astimezone(UTC).isoformat() == "2026-12-04T22:30:00+00:00"
    hourly = digest_trigger(parse_schedule("hourly"))
    assert hourly is not None
    assert hourly.get_next_fire_time(None, monday + timedelta(minutes=1)) == monday + timedelta(
        hours=1
    )
    cron = digest_trigger(parse_schedule("0 */6 * * * Asia/Tokyo"))
    assert cron is not None
    assert cron.get_next_fire_time(None, monday).astimezone(UTC).hour == 3  # 12:00 in Tokyo
    assert digest_trigger(parse_schedule("immediate")) is None


def test_feed_trigger_starts_at_the_due_time_and_repeats_at_the_interval() -> None:
    trigger = feed_trigger(60, 0.0, T0)
    first = trigger.get_next_fire_time(None, T0)
    assert first == T0
    assert trigger.get_next_fire_time(first, first) == T0 + timedelta(seconds=60)


def test_feed_health_alerts_once_when_failing_and_once_on_recovery() -> None:
    row = FeedState(
        feed="tass",
        url="http://t/",
        last_polled_at=T0,
        consecutive_failures=2,
        health="ok",
        last_error_category="http",
        last_error_message="HTTP 503",
    )
    assert health_change(row, "http://t/", 3) is None
    failing = health_change(replace(row, consecutive_failures=3), "http://t/", 3)
    assert failing is not None and failing.state == "failing" and failing.category == "http"
    assert health_change(replace(row, consecutive_failures=9, health="failing"), "x", 3) is None
    recovered = health_change(replace(row, consecutive_failures=0, health="failing"), "x", 3)
    assert recovered is not None and recovered.state == "recovered"


def test_health_messages_suit_each_channel_and_escape_html() -> None:
    settings = settings_from_dict(
        {
            "channels": [
                {"name": "mail", "type": "email", "to": ["a@example.test"]},
                {"name": "hook", "type": "webhook", "url": "http://127.0.0.1/"},
                {"name": "slack", "type": "webhook", "url": "http://127.0.0.1/", "format": "slack"},
            ]
        },
        source="t",
        base_dir=Path(),
    )
    row = FeedState(feed="<b>x</b>", url="http://t/", last_polled_at=T0, consecutive_failures=3,
                    health="ok", last_error_category="http", last_error_message="HTTP 500")  # fmt: skip
    change = health_change(row, "http://t/", 3)
    assert change is not None
    mail, hook, slack = (
        health_message(c.name, kind_of(c).parts(c), change, "id-1", T0) for c in settings.channels
    )
    assert set(mail.parts) == {"text", "html"} and "<b>" not in mail.parts["html"]
    assert (
        '"type": "feed_health"' in hook.parts["body"] and '"state": "failing"' in hook.parts["body"]
    )
    assert slack.parts["body"].startswith('{"text": ')
    assert mail.subject.startswith("feed <b>x</b> is failing: 3 failed polls in a row")
