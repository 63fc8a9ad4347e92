"""What one delivery attempt adds to the log (pure: an outcome in, events out)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from alerts.message import Message, Outcome
from alerts.retry import RetryPolicy
from monitor.eventlog.events import (
    ChannelDisabled,
    DeliveryAbandoned,
    DeliveryFailed,
    DeliverySucceeded,
    Event,
)

# Failures that say the whole channel is unreachable: the rest of its due digests wait for
# the next pass instead of each spending an attempt (and a timeout) on the same outage.
UNREACHABLE = frozenset({"connect", "timeout", "tls", "gone", "auth", "config"})


@dataclass(frozen=True, slots=True)
class Due:
    """A pending digest whose next attempt is due."""

    digest_id: str
    rule: str
    channel: str
    attempts: int  # made so far (since assembly or the last retry request)
    message: Message


def attempt_events(
    due: Due,
    outcome: Outcome,
    *,
    policy: RetryPolicy,
    now: datetime,
    elapsed: float,
    rng: random.Random,
    destination: str,
) -> list[Event]:
    attempt = due.attempts + 1
    common = {"digest_id": due.digest_id, "rule": due.rule, "channel": due.channel}
    if outcome.ok:
        return [
            DeliverySucceeded(
                **common,
                attempt=attempt,
                status=outcome.status,
                detail=outcome.detail,
                elapsed=round(elapsed, 4),
            )
        ]
    # A disabled channel holds its digests without spending their attempts: they go out
    # when it is enabled again.
    retry_at = (
        None if outcome.disable else policy.next_attempt(attempt, now, rng, outcome.retry_after)
    )
    events: list[Event] = [
        DeliveryFailed(
            **common,
            attempt=attempt,
            category=outcome.category,
            message=outcome.message,
            status=outcome.status,
            elapsed=round(elapsed, 4),
            retry_at=_iso(retry_at),
            retry_after=outcome.retry_after,
        )
    ]
    if outcome.disable:
        events.append(
            ChannelDisabled(
                channel=due.channel,
                reason=outcome.message,
                digest_id=due.digest_id,
                destination=destination,
            )
        )
    elif retry_at is None:
        events.append(
            DeliveryAbandoned(
                **common,
                attempts=attempt,
                reason=f"{outcome.category}: {outcome.message}",
            )
        )
    return events


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()
