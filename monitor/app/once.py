"""One full cycle of the daemon: seeds in, every feed polled once, digests out.

``monitor run --once`` is exactly this. Feed failures and failed deliveries
are events, not errors: the cycle only fails when the program itself cannot
work (the database is unusable).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field

from alerts.outbox.service import OutboxReport, check_channels, record_health, run_outbox
from alerts.signing import secret_problem
from monitor.config.secrets import missing
from monitor.config.settings import Settings
from monitor.documents.recording import Clock, Recorder, utc_now
from monitor.errors import ConfigError
from monitor.eventlog.store import open_store
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


def preflight(settings: Settings, source: str) -> None:
    """What must hold before a cycle starts: secrets set, templates that render (else exit 2)."""
    problems = missing(settings, os.environ, source)
    for index, channel in enumerate(settings.channels):
        variable: str | None = getattr(channel, "secret_env", None)
        secret = os.environ.get(variable) if variable else None
        problem = secret_problem(secret) if secret else None
        if problem:
            problems.append(f"{source}: channels[{index}].secret_env: {variable} {problem}")
    try:
        check_channels(settings, source)
    except ConfigError as error:
        problems.extend(error.problems)
    if problems:
        raise ConfigError(problems)


def _warm() -> None:
    """Load what workers need before forking them, so each does not pay for it again."""
    from monitor.documents.normalise import detect_language
    from monitor.rules.lemmas import warm
    from monitor.rules.matcher import active

    detect_language("Warm-up sentence for the language model, long enough to classify.")
    matcher = active()
    if matcher is not None and matcher.ruleset.rules:
        warm()  # lemma dictionaries, only when there are rules to match
    # What is loaded now (models, lexicon, compiled rules) lives as long as the process: keep
    # it out of every garbage collection, and out of the pages a forked worker would copy.
    gc.collect()
    gc.freeze()


def _started(_: int) -> int:
    return os.getpid()


def start_pool(feeds: int, workers: int | None = None) -> ProcessPoolExecutor | None:
    """A process pool for parsing when there is more than one feed and more than one core.

    ``workers`` caps the pool (None: one per core; 0 or 1: parse in this process, which
    saves each worker's private memory at the cost of using one core).

    Call it before any thread starts (or while none holds a lock): workers are forked, and
    they inherit what is loaded now (models, lexicon, the active matcher).
    """
    workers = min(os.cpu_count() or 1, feeds, workers if workers is not None else feeds)
    if workers < 2:
        return None
    _warm()
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    # Start every worker now, before the event loop starts any thread.
    list(pool.map(_started, range(workers)))
    return pool


@contextlib.contextmanager
def parse_pool(feeds: int, workers: int | None = None) -> Iterator[Executor | None]:
    pool = start_pool(feeds, workers)
    try:
        yield pool
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


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
    store = open_store(settings.store_url, busy_timeout=settings.store.busy_timeout)
    try:
        recorder = Recorder(store, clock=clock)
        recorder.catch_up()
        versions = sync_rules(recorder, settings.rules)
    finally:
        # Closed before the pool forks: a child must not inherit an open connection.
        store.dispose()
    activate(build_matcher(settings, versions))
    with parse_pool(len(feeds), settings.daemon.parse_workers) as pool:
        store = open_store(settings.store_url, busy_timeout=settings.store.busy_timeout)
        try:
            recorder = Recorder(store, clock=clock)
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
                record_health(recorder, settings, [poll.feed for poll in report.polls])
            report.outbox = run_outbox(recorder, settings)
            return report
        finally:
            store.dispose()
