"""One full cycle of the daemon: seeds in, every feed polled once, digests out.

``monitor run --once`` is exactly this. Feed failures and failed deliveries
are events, not errors: the cycle only fails when the program itself cannot
work (the database is unusable).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from alerts.channels import Channels
from alerts.outbox.assembly import record_health
from alerts.outbox.commands import OutboxReport, run_outbox
from monitor.app.wiring import opened_log
from monitor.app.workers import parse_pool
from monitor.config.settings import Settings
from monitor.eventlog.recorder import Clock, utc_now
from monitor.feeds.polling import Poller, PollOutcome
from monitor.rules.matcher import activate
from monitor.rules.rulebook import build_matcher, sync_rules
from monitor.seeds.ingest import SeedReport, ingest_seeds


@dataclass(slots=True)
class CycleReport:
    seeds: SeedReport
    polls: list[PollOutcome] = field(default_factory=list)
    outbox: OutboxReport = field(default_factory=OutboxReport)

    def count(self, outcome: str) -> int:
        return sum(1 for poll in self.polls if poll.outcome == outcome)


def run_once(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    on_poll: Callable[[PollOutcome], None] | None = None,
) -> CycleReport:
    """Record rule changes, ingest the seeds, poll every enabled feed once, send digests.

    Every rule's digest is assembled now, whatever its schedule: this is the one cycle.
    """
    feeds = [feed for feed in settings.feeds if feed.enabled]
    url, wait = settings.store_url, settings.store.busy_timeout
    # Closed before the pool forks: a child must not inherit an open connection.
    with opened_log(url, busy_timeout=wait, clock=clock) as recorder:
        recorder.catch_up()
        versions = sync_rules(recorder, settings.rules)
    activate(build_matcher(settings, versions))
    channels = Channels.of(settings)
    with (
        parse_pool(len(feeds), settings.daemon.parse_workers) as pool,
        opened_log(url, busy_timeout=wait, clock=clock) as recorder,
    ):
        seeds = ingest_seeds(
            recorder,
            [settings.path(p) for p in settings.seeds.paths],
            base=settings.base_dir,
            max_bytes=settings.seeds.max_bytes,
        )
        report = CycleReport(seeds)
        if feeds:
            poller = Poller(recorder, settings.fetch, executor=pool, on_outcome=on_poll)
            report.polls = asyncio.run(poller.poll(feeds))
            polled = [poll.feed for poll in report.polls]
            record_health(recorder, settings.feeds, settings.health, channels, polled)
        report.outbox = run_outbox(recorder, settings.rules, channels)
        return report
