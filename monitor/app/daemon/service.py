"""`monitor run`: the long-running service.

One asyncio loop drives everything; APScheduler (``monitor/scheduling.py``)
only says when. Jobs:

- a poll job per feed at its interval (with jitter); the job first asks the
  log whether the feed is due (a failing feed backs off), so a restart or a
  reload never polls early and never forgets a feed;
- a digest job per scheduled rule, in the rule's timezone;
- immediate rules are assembled shortly after the polls that matched them (a
  burst of polls makes one digest), and whenever quiet hours end;
- a tick every ``[daemon] tick``: due delivery retries, quiet hours,
  config.toml changes (reloaded like SIGHUP), the heartbeat;
- the seed folders are read at start and every ``seeds_interval``.

Every piece of work is a transaction on the log, so SIGKILL at any moment
loses nothing: what was not committed is done again, and a delivery that was
sent but not recorded is resent with the same ids. SIGTERM/SIGINT stop new
work and give work in flight ``shutdown_grace`` seconds before cancelling it.
SIGHUP reloads the configuration; an invalid one is reported and the running
one kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import random
import signal
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.jobstores.base import JobLookupError

from alerts.outbox.service import (
    assemble,
    deliver,
    digest_entries,
    enable_changed_channels,
    record_health,
)
from monitor.app.metrics import Metrics
from monitor.app.once import preflight, start_pool
from monitor.app.ops_http import Health, OpsServer
from monitor.app.scheduler import digest_trigger, feed_trigger, make_scheduler
from monitor.config.schedules import parse_schedule
from monitor.config.settings import FeedSettings, Settings, load_settings
from monitor.documents.recording import Clock, Recorder, utc_now
from monitor.errors import ConfigError
from monitor.eventlog.leases import Leases, heartbeat, leave, new_worker_id
from monitor.eventlog.store import Store, open_store
from monitor.feeds.fetch import make_client
from monitor.feeds.politeness import next_poll_at
from monitor.feeds.polling import Poller, PollOutcome, fetch_limits
from monitor.readmodels.tables import feed_states
from monitor.rules.matcher import activate
from monitor.rules.rulebook import build_matcher, sync_rules
from monitor.seeds.ingest import ingest_seeds

log = logging.getLogger("monitor.daemon")

# Polls finishing within this many seconds of each other share one immediate digest.
IMMEDIATE_DEBOUNCE = 0.5


class Daemon:
    def __init__(self, config_file: Path, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.config_file = config_file
        self.settings = settings
        self.clock = clock
        self.metrics = Metrics()
        self.started = time.time()
        self.last_tick: float | None = None
        self.ready = False
        self._config_mtime = _mtime(config_file)
        self._inflight: set[asyncio.Task[Any]] = set()
        self._claimed: set[str] = set()
        self._polling: set[str] = set()  # feeds with a poll in flight
        self._flush_pending = False
        self._stopping: asyncio.Event | None = None
        self._reload_requested = False
        self.pool: ProcessPoolExecutor | None = None
        self.store: Store | None = None

    # -- life cycle -------------------------------------------------------------------------

    def run(self) -> None:
        """Run until SIGTERM or SIGINT; returns after a clean shutdown."""
        self.store = open_store(
            self.settings.store_url, busy_timeout=self.settings.store.busy_timeout
        )
        self.recorder = Recorder(self.store, clock=self.clock)
        self.recorder.catch_up()
        self.worker_id = new_worker_id()
        # Several workers may share a PostgreSQL database: who polls a feed or sends a
        # digest is then decided by leases. SQLite is one process (DESIGN, "Scale").
        self.leases: Leases | None = None
        if self.store.dialect == "postgresql":
            ttl = max(30.0, 6 * self.settings.daemon.tick)
            self.leases = Leases(self.store, self.worker_id, ttl=ttl, clock=self.clock)
        heartbeat(self.store, self.worker_id, self._started_at(), self.clock())
        self._activate_rules(self.settings)
        # Forked before the loop starts any thread (see monitor.app.once.start_pool).
        self.pool = start_pool(len(self._feeds(self.settings)), self.settings.daemon.parse_workers)
        try:
            asyncio.run(self._main())
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)
            self.store.dispose()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)
        self.client = make_client(fetch_limits(self.settings.fetch))
        self.poller = self._poller(self.settings)
        self.metrics.watch(self._store())
        ops = self._start_ops(self.settings)
        self.scheduler = make_scheduler(self.settings.daemon.misfire_grace)
        self._schedule(self.settings)
        self.scheduler.start()
        log.info(
            "monitor started: %d feed(s), %d rule(s)",
            len(self.settings.feeds),
            len(self.settings.rules),
        )
        self._spawn(self._seeds())
        self.ready = True
        await self._stopping.wait()
        await self._shutdown(ops)

    def _stop(self, sig: signal.Signals) -> None:
        log.info(
            "%s: stopping (work in flight gets %gs)", sig.name, self.settings.daemon.shutdown_grace
        )
        assert self._stopping is not None
        self._stopping.set()

    async def _shutdown(self, ops: OpsServer | None) -> None:
        self.ready = False
        self.scheduler.shutdown(wait=False)
        pending = {task for task in self._inflight if not task.done()}
        if pending:
            _, still = await asyncio.wait(pending, timeout=self.settings.daemon.shutdown_grace)
            for task in still:
                task.cancel()  # its transaction never commits: redone at the next start
            if still:
                await asyncio.wait(still, timeout=2)
                log.warning(
                    "abandoned %d job(s) in flight at shutdown; they run again at start", len(still)
                )
        await self.client.aclose()
        if ops is not None:
            ops.close()
        leave(self._store(), self.worker_id)
        self._heartbeat(stopped=True)
        log.info("monitor stopped")

    def _store(self) -> Store:
        assert self.store is not None
        return self.store

    # -- jobs -------------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task the shutdown waits for; its failure is logged, not fatal."""
        task = asyncio.get_running_loop().create_task(work)
        self._inflight.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("job failed", exc_info=task.exception())

    def _job(
        self, make: Callable[[], Coroutine[Any, Any, None]]
    ) -> Callable[[], Coroutine[Any, Any, None]]:
        """An APScheduler job that runs ``make()`` as a tracked task (so shutdown can wait)."""

        async def job() -> None:
            if self._stopping is not None and self._stopping.is_set():
                return
            task = asyncio.get_running_loop().create_task(make())
            self._inflight.add(task)
            task.add_done_callback(self._finished)
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)

        return job

    def _schedule(self, settings: Settings) -> None:
        self.scheduler.remove_all_jobs()
        now = self.clock()
        with self._store().reading() as conn:
            states = feed_states(conn)
        for feed in self._feeds(settings):
            due = next_poll_at(
                states.get(feed.name),
                feed.interval,
                max_backoff=settings.fetch.max_backoff,
                url=feed.url,
            )
            first = max(due or now, now)
            self.scheduler.add_job(
                self._job(functools.partial(self._poll, feed.name)),
                feed_trigger(feed.interval, settings.daemon.jitter, first),
                id=f"feed:{feed.name}",
                name=f"poll {feed.name}",
                next_run_time=first,
            )
        for rule in settings.rules:
            trigger = digest_trigger(parse_schedule(rule.schedule))
            if rule.enabled and trigger is not None and rule.channels:
                self.scheduler.add_job(
                    self._job(functools.partial(self._digest, rule.name)),
                    trigger,
                    id=f"rule:{rule.name}",
                    name=f"digest {rule.name}",
                )
        self.scheduler.add_job(
            self._job(self._tick),
            "interval",
            seconds=settings.daemon.tick,
            id="tick",
            name="tick",
            next_run_time=now + timedelta(seconds=1),
        )
        self.scheduler.add_job(
            self._job(self._seeds),
            "interval",
            seconds=settings.daemon.seeds_interval,
            id="seeds",
            name="seeds",
        )

    async def _poll(self, name: str) -> None:
        feed = self._feed_index.get(name)
        # A reload reschedules every feed; one still polling is not polled twice at once.
        if feed is None or name in self._polling:
            return
        self._polling.add(name)
        try:
            await self._poll_feed(feed)
        finally:
            self._polling.discard(name)

    async def _poll_feed(self, feed: FeedSettings) -> None:
        lease = [f"feed:{feed.name}"]
        if self.leases is not None and not self.leases.claim(lease):
            return  # another worker has it
        try:
            due = self._due(feed)
            # The poll before ended at its record time, so this one may come a moment early.
            if due is None or due - timedelta(seconds=1) <= self.clock():
                [outcome] = await self.poller.poll([feed], client=self.client)
                record_health(self.recorder, self.settings, [feed.name])
                if outcome.matched:
                    self._flush_soon()
                due = self._due(feed)
        finally:
            if self.leases is not None:
                self.leases.release(lease)
        self._reanchor(feed, due)

    def _due(self, feed: FeedSettings) -> datetime | None:
        with self._store().reading() as conn:
            state = feed_states(conn, [feed.name]).get(feed.name)
        return next_poll_at(
            state, feed.interval, max_backoff=self.settings.fetch.max_backoff, url=feed.url
        )

    def _reanchor(self, feed: FeedSettings, due: datetime | None) -> None:
        """Move the feed's next run to when it is due (a failing feed backs off; a poll
        that ended late, or another worker's poll, moves the whole cadence with it)."""
        if due is None:
            return
        spread = feed.interval * self.settings.daemon.jitter
        when = max(due, self.clock()) + timedelta(seconds=random.uniform(0, spread))
        with contextlib.suppress(JobLookupError):
            self.scheduler.modify_job(f"feed:{feed.name}", next_run_time=when)

    def _on_poll(self, outcome: PollOutcome) -> None:
        self.metrics.poll(outcome.feed, outcome.outcome, outcome.elapsed)
        if outcome.new or outcome.revised:
            self.metrics.documents(outcome.new, outcome.revised)
        for rule, count in outcome.by_rule:
            self.metrics.matches(rule, count)

    def _flush_soon(self) -> None:
        """Assemble immediate digests shortly: polls finishing together share one digest."""
        if self._flush_pending:
            return
        self._flush_pending = True

        async def flush() -> None:
            await asyncio.sleep(IMMEDIATE_DEBOUNCE)
            self._flush_pending = False
            await self._send(self._immediate_rules())

        self._spawn(flush())

    async def _digest(self, rule: str) -> None:
        await self._send({rule})

    async def _send(self, rules: set[str]) -> None:
        """Assemble the digests of ``rules`` that have matches, then attempt what is due."""
        if rules:
            assemble(self.recorder, self.settings, rules=rules)
        attempts = await deliver(
            self.recorder, self.settings, claimed=self._claimed, leases=self.leases
        )
        for attempt in attempts:
            outcome = (
                "succeeded"
                if attempt.outcome.ok
                else ("abandoned" if "DeliveryAbandoned" in attempt.events else "failed")
            )
            self.metrics.delivery(attempt.channel, outcome)
        self._observe_lag([a.digest_id for a in attempts if a.outcome.ok])

    def _observe_lag(self, digests: list[str]) -> None:
        """Publication to delivery, for each delivered story whose time of day is known."""
        if not digests:
            return
        with self._store().reading() as conn:
            entries = digest_entries(conn, digests)
        now = self.clock()
        for entry in entries:
            published = _published(str(entry.get("published") or ""))
            if published is not None:
                self.metrics.lag((now - published).total_seconds())

    async def _tick(self) -> None:
        self.last_tick = time.time()
        self.metrics.cycle(self.last_tick)
        self._heartbeat()
        heartbeat(self._store(), self.worker_id, self._started_at(), self.clock())
        if self.leases is not None:
            lost = self.leases.renew()
            if lost:
                log.warning("leases lost to other workers (we were too slow): %s", sorted(lost))
        if self._reload_requested or _mtime(self.config_file) != self._config_mtime:
            self._reload_requested = False
            await self._reload()
        enable_changed_channels(self.recorder, self.settings)
        # Immediate digests held by quiet hours go out when they end; retries that fell due.
        await self._send(self._immediate_rules())

    async def _seeds(self) -> None:
        settings = self.settings
        if self.leases is not None and not self.leases.claim(["seeds"]):
            return
        try:
            report = ingest_seeds(
                self.recorder,
                [settings.path(p) for p in settings.seeds.paths],
                base=settings.base_dir,
                max_bytes=settings.seeds.max_bytes,
            )
        finally:
            if self.leases is not None:
                self.leases.release(["seeds"])
        if report.matched:
            self._flush_soon()

    # -- reload -----------------------------------------------------------------------------

    def _request_reload(self) -> None:
        log.info("SIGHUP: reloading %s", self.config_file)
        self._reload_requested = True
        if self._stopping is not None and not self._stopping.is_set():
            self._spawn(self._reload_now())

    async def _reload_now(self) -> None:
        if self._reload_requested:
            self._reload_requested = False
            await self._reload()

    async def _reload(self) -> None:
        self._config_mtime = _mtime(self.config_file)
        try:
            new = load_settings(self.config_file)
            preflight(new, str(self.config_file))
        except ConfigError as error:
            for line in error.problems:
                log.error("not reloaded, the running configuration stays: %s", line)
            return
        old = self.settings
        matching = (old.rules, old.aliases, old.matching)
        if (new.rules, new.aliases, new.matching) != matching:
            self._activate_rules(new)
            self._restart_pool(new)
        if new.fetch != old.fetch:
            await self.client.aclose()
            self.client = make_client(fetch_limits(new.fetch))
        self.poller = self._poller(new)
        self.settings = new
        self._schedule(new)
        log.info(
            "reloaded %s: %d feed(s), %d rule(s)", self.config_file, len(new.feeds), len(new.rules)
        )

    def _activate_rules(self, settings: Settings) -> None:
        versions = sync_rules(self.recorder, settings.rules)
        activate(build_matcher(settings, versions))

    def _restart_pool(self, settings: Settings) -> None:
        # Workers hold the matcher they were forked with: new rules need new workers. The old
        # pool finishes what it has in hand.
        old = self.pool
        self.pool = start_pool(len(self._feeds(settings)), settings.daemon.parse_workers)
        if old is not None:
            old.shutdown(wait=False)

    # -- helpers ----------------------------------------------------------------------------

    def _poller(self, settings: Settings) -> Poller:
        return Poller(self.recorder, settings.fetch, executor=self.pool, on_outcome=self._on_poll)

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        # Every poll looks its feed up by name: a dict, not a scan of thousands of feeds.
        self._settings = value
        self._feed_index = {feed.name: feed for feed in self._feeds(value)}

    @staticmethod
    def _feeds(settings: Settings) -> list[FeedSettings]:
        return [feed for feed in settings.feeds if feed.enabled]

    def _immediate_rules(self) -> set[str]:
        return {r.name for r in self.settings.rules if r.enabled and r.schedule == "immediate"}

    def _start_ops(self, settings: Settings) -> OpsServer | None:
        if settings.http.listen is None:
            return None
        server = OpsServer(settings.http.listen, self.metrics, self.health)
        server.start()
        return server

    def _started_at(self) -> datetime:
        return datetime.fromtimestamp(self.started, UTC)

    def _heartbeat(self, *, stopped: bool = False) -> None:
        """What `monitor status` shows of this process; written whole or not at all."""
        path = self.settings.path(self.settings.daemon.heartbeat)
        beat = {
            "pid": os.getpid(),
            "started_at": _iso(self.started),
            "last_tick_at": _iso(self.last_tick),
            "stopped_at": _iso(time.time()) if stopped else None,
            "feeds": len(self._feeds(self.settings)),
            "rules": len(self.settings.rules),
            "config": str(self.config_file),
            "worker_id": self.worker_id,
        }
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(beat), encoding="utf-8")
            temporary.replace(path)
        except OSError as error:
            log.warning("cannot write the heartbeat %s: %s", path, error)

    def health(self) -> Health:
        tick = self.settings.daemon.tick
        recent = self.last_tick is not None and time.time() - self.last_tick < 3 * tick + 30
        starting = self.last_tick is None and time.time() - self.started < 3 * tick + 30
        running = bool(getattr(self, "scheduler", None) and self.scheduler.running)
        detail = {
            "scheduler_running": running,
            "last_tick": _iso(self.last_tick),
            "started": _iso(self.started),
            "pid": os.getpid(),
        }
        return Health(
            alive=running and (recent or starting), ready=self.ready and running, detail=detail
        )


def _published(value: str) -> datetime | None:
    """A publication time with a time of day (a bare date says too little for a lag)."""
    if len(value) <= 10:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def _iso(stamp: float | None) -> str | None:
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()
