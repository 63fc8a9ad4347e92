"""The daemon's digest jobs: scheduled rules on their schedule, immediate ones soon after a match.

A job per rule whose schedule is hourly, daily, weekly or a cron line, in the rule's
timezone. Immediate rules are assembled :data:`IMMEDIATE_DEBOUNCE` seconds after the
polls that matched them, so a burst of polls makes one digest. Every pass then attempts
what is due (retries included); ``claimed`` keeps two overlapping passes of this
process from sending one digest twice, leases do the same across workers.
"""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime

from alerts.outbox.assembly import assemble
from alerts.outbox.delivery import deliver
from alerts.outbox.queries import published_times
from monitor.app.daemon.runtime import Runtime
from monitor.app.scheduler import digest_trigger
from monitor.config.digest_schedules import parse_schedule

# Polls finishing within this many seconds of each other share one immediate digest.
IMMEDIATE_DEBOUNCE = 0.5


class DigestJobs:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._claimed: set[str] = set()  # digests an attempt of this process has in hand
        self._flush_pending = False

    def schedule(self) -> None:
        """A job per enabled rule that has channels and a schedule other than immediate."""
        runtime = self.runtime
        for rule in runtime.settings.rules:
            trigger = digest_trigger(parse_schedule(rule.schedule))
            if rule.enabled and trigger is not None and rule.channels:
                runtime.scheduler.add_job(
                    runtime.tasks.job(functools.partial(self.send, {rule.name})),
                    trigger,
                    id=f"rule:{rule.name}",
                    name=f"digest {rule.name}",
                )

    def flush_soon(self) -> None:
        """Assemble immediate digests shortly: polls finishing together share one digest."""
        if self._flush_pending:
            return
        self._flush_pending = True

        async def flush() -> None:
            await asyncio.sleep(IMMEDIATE_DEBOUNCE)
            self._flush_pending = False
            await self.send(self.immediate_rules())

        self.runtime.tasks.spawn(flush())

    def immediate_rules(self) -> set[str]:
        rules = self.runtime.settings.rules
        return {r.name for r in rules if r.enabled and r.schedule == "immediate"}

    async def send(self, rules: set[str]) -> None:
        """Assemble the digests of ``rules`` that have matches, then attempt what is due."""
        runtime = self.runtime
        channels = runtime.channels
        if rules:
            assemble(runtime.recorder, runtime.settings.rules, channels, only=rules)
        attempts = await deliver(
            runtime.recorder, channels, claimed=self._claimed, leases=runtime.leases
        )
        for attempt in attempts:
            outcome = (
                "succeeded"
                if attempt.outcome.ok
                else ("abandoned" if "DeliveryAbandoned" in attempt.events else "failed")
            )
            runtime.metrics.delivery(attempt.channel, outcome)
        self._observe_lag([a.digest_id for a in attempts if a.outcome.ok])

    def _observe_lag(self, digests: list[str]) -> None:
        """Publication to delivery, for each delivered story whose time of day is known."""
        if not digests:
            return
        with self.runtime.recorder.store.reading() as conn:
            times = published_times(conn, digests)
        now = self.runtime.clock()
        for value in times:
            published = _published(value)
            if published is not None:
                self.runtime.metrics.lag((now - published).total_seconds())


def _published(value: str) -> datetime | None:
    """A publication time with a time of day (a bare date says too little for a lag)."""
    if len(value) <= 10:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)
