"""Retry policy and attempt events (pure): backoff doubles from retry_backoff with jitter,
is capped, honours Retry-After, stops after max_attempts; a 410 holds instead of spending."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from alerts.attempts import Due, attempt_events
from alerts.message import Message, Outcome
from alerts.retry import JITTER, RetryPolicy

NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
DUE = Due("d-1", "aa", "ops", 0, Message("d-1", "aa", "ops", "aa: 1 new match", 1, {"body": "{}"}))


def test_backoff_doubles_from_the_base_with_bounded_jitter_and_a_cap() -> None:
    policy = RetryPolicy(max_attempts=20, backoff=30, max_backoff=600)
    rng = random.Random(1)
    for attempt, nominal in [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 600), (12, 600)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert min(delays) >= nominal
        assert max(delays) <= nominal * (1 + JITTER)
        assert max(delays) - min(delays) > nominal * JITTER / 2  # jitter is really there


def test_no_attempt_after_the_last_and_retry_after_wins() -> None:
    policy = RetryPolicy(max_attempts=3, backoff=30, max_backoff=3600)
    rng = random.Random(2)
    assert policy.next_attempt(3, NOW, rng) is None
    assert policy.next_attempt(1, NOW, rng, retry_after=120) == NOW + timedelta(seconds=120)
    # A peer asking for a week gets a day; a negative value means now.
    assert policy.next_attempt(1, NOW, rng, retry_after=7 * 86400) == NOW + timedelta(days=1)
    assert policy.next_attempt(1, NOW, rng, retry_after=-5) == NOW


def events_for(outcome: Outcome, attempts: int = 0, max_attempts: int = 8) -> list[dict]:
    due = Due(DUE.digest_id, DUE.rule, DUE.channel, attempts, DUE.message)
    events = attempt_events(
        due,
        outcome,
        policy=RetryPolicy(max_attempts, 30, 3600),
        now=NOW,
        elapsed=0.01,
        rng=random.Random(3),
        destination="abc",
    )
    return [{"type": e.type_name, **e.payload()} for e in events]


def test_success_is_one_event_with_the_attempt_number() -> None:
    [event] = events_for(Outcome.success("200 OK", status=200), attempts=2)
    assert event["type"] == "DeliverySucceeded"
    assert (event["attempt"], event["status"], event["digest_id"]) == (3, 200, "d-1")


def test_failure_schedules_the_next_attempt_until_the_last_which_abandons() -> None:
    [failed] = events_for(Outcome.failure("http", "HTTP 500", status=500))
    retry_at = datetime.fromisoformat(failed["retry_at"])
    assert NOW + timedelta(seconds=30) <= retry_at <= NOW + timedelta(seconds=30 * (1 + JITTER))
    last = events_for(Outcome.failure("timeout", "no answer in 10s"), attempts=7, max_attempts=8)
    assert [e["type"] for e in last] == ["DeliveryFailed", "DeliveryAbandoned"]
    assert last[0]["retry_at"] is None and last[1]["attempts"] == 8
    assert last[1]["reason"] == "timeout: no answer in 10s"


@pytest.mark.parametrize("attempts", [0, 7])
def test_gone_disables_the_channel_and_holds_the_digest_without_abandoning(attempts: int) -> None:
    outcome = Outcome.failure("gone", "HTTP 410 Gone", status=410, disable=True)
    events = events_for(outcome, attempts=attempts, max_attempts=8)
    assert [e["type"] for e in events] == ["DeliveryFailed", "ChannelDisabled"]
    assert events[0]["retry_at"] is None
    assert events[1]["channel"] == "ops" and events[1]["destination"] == "abc"
