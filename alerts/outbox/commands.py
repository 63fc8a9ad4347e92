"""What the application asks of the outbox: one whole pass, and a retry on request.

A pass has three steps: lift a "gone" channel whose destination the user changed,
assemble every digest that has matches (:mod:`alerts.outbox.assembly`), and attempt
everything that is due (:mod:`alerts.outbox.delivery`).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alerts.channels import Channels, fingerprint
from alerts.outbox.assembly import assemble, enable_changed_channels
from alerts.outbox.delivery import Attempted, deliver
from alerts.outbox.folds import DELIVERED
from alerts.outbox.queries import DeliveryRecord, disabled_channels, find_digest
from monitor.config.settings import RuleSettings
from monitor.errors import UsageError
from monitor.eventlog.events import ChannelEnabled, DeliveryRetryRequested, Event
from monitor.eventlog.recorder import Recorder


@dataclass(slots=True)
class OutboxReport:
    assembled: list[str] = field(default_factory=list)
    attempts: list[Attempted] = field(default_factory=list)

    def count(self, event_type: str) -> int:
        return sum(1 for a in self.attempts if event_type in a.events)


def run_outbox(
    recorder: Recorder,
    rules: Sequence[RuleSettings],
    channels: Channels,
    *,
    env: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
) -> OutboxReport:
    """Enable changed channels, assemble every rule's digest, attempt everything due."""
    enable_changed_channels(recorder, channels)
    report = OutboxReport(assembled=assemble(recorder, rules, channels))
    report.attempts = asyncio.run(deliver(recorder, channels, env=env, rng=rng))
    return report


def request_retry(
    recorder: Recorder,
    channels: Channels,
    prefix: str,
    *,
    env: Mapping[str, str] | None = None,
) -> tuple[DeliveryRecord, list[Attempted]]:
    """Make an abandoned (or waiting) digest due now and attempt it; returns it and the attempt."""
    with recorder.store.reading() as conn:
        digest = find_digest(conn, prefix)
        disabled = disabled_channels(conn)
    if digest.state == DELIVERED:
        raise UsageError(
            f"digest {digest.digest_id} was delivered at "
            f"{digest.delivered_at:%Y-%m-%d %H:%M:%S} UTC; nothing to retry"
        )
    channel = channels.named(digest.channel)
    if channel is None:
        raise UsageError(
            f"digest {digest.digest_id} is for channel {digest.channel!r}, "
            "which is no longer configured"
        )
    events: list[Event] = []
    if channel.name in disabled:
        reason = "a retry was requested with 'monitor deliveries retry'"
        events.append(
            ChannelEnabled(channel=channel.name, reason=reason, destination=fingerprint(channel))
        )
    events.append(
        DeliveryRetryRequested(
            digest_id=digest.digest_id,
            rule=digest.rule,
            channel=digest.channel,
            previous_state=digest.state,
        )
    )
    recorder.append(events)
    attempts = asyncio.run(deliver(recorder, channels, env=env, only={digest.digest_id}))
    return digest, attempts
