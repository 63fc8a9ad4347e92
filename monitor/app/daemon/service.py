"""`monitor run`: the long-running service, its life cycle and its tick.

One asyncio loop drives everything; APScheduler (``monitor/app/scheduler.py``)
only says when. The jobs live beside this module, one file per responsibility:

- ``feed_jobs``: a poll job per feed at its interval (with jitter); the job first
  asks the log whether the feed is due (a failing feed backs off), so a restart
  or a reload never polls early and never forgets a feed;
- ``digest_jobs``: a digest job per scheduled rule, in the rule's timezone;
  immediate rules are assembled shortly after the polls that matched them (a
  burst of polls makes one digest), and whenever quiet hours end;
- ``reload``: SIGHUP or a changed config.toml, checked like a start;
- ``tasks``: every job is a tracked task, so the shutdown can wait for it.

Here: start-up, the tick every ``[daemon] tick`` (due delivery retries, quiet hours,
config.toml changes, leases, the heartbeat), the seed folders at start and every
``seeds_interval``, and the shutdown.

Every piece of work is a transaction on the log, so SIGKILL at any moment
loses nothing: what was not committed is done again, and a delivery that was
sent but not recorded is resent with the same ids. SIGTERM/SIGINT stop new
work and give work in flight ``shutdown_grace`` seconds before cancelling it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

from alerts.outbox.assembly import enable_changed_channels
from monitor.app import signals
from monitor.app.daemon.digest_jobs import DigestJobs
from monitor.app.daemon.feed_jobs import FeedJobs
from monitor.app.daemon.heartbeat import Liveness, iso, write_heartbeat
from monitor.app.daemon.reload import Reloader, activate_rules, matching_changed
from monitor.app.daemon.runtime import Runtime, enabled_feeds
from monitor.app.daemon.tasks import Tasks
from monitor.app.health import Health
from monitor.app.metrics import Metrics
from monitor.app.scheduler import make_scheduler
from monitor.app.wiring import open_log
from monitor.app.workers import start_pool, warm
from monitor.config.settings import Settings
from monitor.eventlog.leases import Leases, heartbeat, leave, new_worker_id
from monitor.eventlog.recorder import Clock, Recorder, utc_now
from monitor.seeds.ingest import ingest_seeds
from monitor.web.app import make_app
from monitor.web.context import WebContext
from monitor.web.server import WebServer

log = logging.getLogger("monitor.daemon")


class Daemon:
    def __init__(self, config_file: Path, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.config_file = config_file
        self.settings = settings
        self.clock = clock
        self.liveness = Liveness()
        self.pool: ProcessPoolExecutor | None = None

    def run(self) -> None:
        """Run until SIGTERM or SIGINT; returns after a clean shutdown.

        A stop signal during start-up is held (``monitor/app/signals.py``): the long steps
        (``_start``) end at once, the others at their end, and nothing is left half done.
        """
        signals.hold()
        settings = self.settings
        recorder = open_log(
            settings.store_url, busy_timeout=settings.store.busy_timeout, clock=self.clock
        )
        store = recorder.store
        worker_id = new_worker_id()
        try:
            with signals.interruptible():
                self._start(recorder, worker_id)
            if self._stopped_while_starting():
                leave(store, worker_id)
                return
            # Forked before the loop starts any thread (see monitor.app.workers.start_pool).
            self.pool = start_pool(len(enabled_feeds(settings)), settings.daemon.parse_workers)
            asyncio.run(self._main())
        except signals.Stopping as stop:
            log.info("%s during start-up: stopping before the daemon starts its jobs", stop)
            leave(store, worker_id)
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=False, cancel_futures=True)
            store.dispose()

    def _start(self, recorder: Recorder, worker_id: str) -> None:
        """The long steps of start-up: catch up, register, compile the rules, load models."""
        settings, store = self.settings, recorder.store
        recorder.catch_up()
        leases = None
        if store.dialect == "postgresql":
            ttl = max(30.0, 6 * settings.daemon.tick)
            leases = Leases(store, worker_id, ttl=ttl, clock=self.clock)
        heartbeat(store, worker_id, self.liveness.started_at, self.clock())
        self.runtime = Runtime(
            config_file=self.config_file,
            settings=settings,
            recorder=recorder,
            clock=self.clock,
            metrics=Metrics(),
            tasks=Tasks(),
            scheduler=make_scheduler(settings.daemon.misfire_grace),
            leases=leases,
            worker_id=worker_id,
        )
        activate_rules(self.runtime, settings)
        # The language model and (built on first use: minutes) the lemma dictionaries, now,
        # where a stop can interrupt them, not in the first poll or a worker's fork.
        warm()

    async def _main(self) -> None:
        runtime = self.runtime
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop, sig)
        self.digests = DigestJobs(runtime)
        self.feeds = FeedJobs(runtime, on_matches=self.digests.flush_soon)
        self.reloader = Reloader(runtime, self._apply)
        loop.add_signal_handler(signal.SIGHUP, self.reloader.request)
        # What arrived while starting is acted on now, in order: a stop, a reload.
        for sig in signals.take():
            if sig in signals.STOPS:
                self._stop(sig)
            else:
                self.reloader.request()
        self.feeds.start(self.pool)
        runtime.metrics.watch(runtime.recorder.store)
        web = self._start_web()
        self._schedule()
        runtime.scheduler.start()
        log.info(
            "monitor started: %d feed(s), %d rule(s)",
            len(runtime.settings.feeds),
            len(runtime.settings.rules),
        )
        runtime.tasks.spawn(self._seeds())
        self.liveness.ready = True
        await runtime.tasks.stopping.wait()
        await self._shutdown(web)

    def _stopped_while_starting(self) -> bool:
        sig = signals.stop_requested()
        if sig is not None:
            log.info("%s during start-up: stopping before the daemon starts its jobs", sig.name)
        return sig is not None

    def _stop(self, sig: signal.Signals) -> None:
        grace = self.runtime.settings.daemon.shutdown_grace
        log.info("%s: stopping (work in flight gets %gs)", sig.name, grace)
        self.runtime.tasks.stopping.set()

    async def _shutdown(self, web: WebServer | None) -> None:
        runtime = self.runtime
        self.liveness.ready = False
        runtime.scheduler.shutdown(wait=False)
        await runtime.tasks.drain(runtime.settings.daemon.shutdown_grace)
        await self.feeds.close()
        if web is not None:
            web.close()
        leave(runtime.recorder.store, runtime.worker_id)
        self._heartbeat(stopped=True)
        log.info("monitor stopped")

    def _schedule(self) -> None:
        runtime = self.runtime
        daemon = runtime.settings.daemon
        scheduler, tasks = runtime.scheduler, runtime.tasks
        scheduler.remove_all_jobs()
        now = self.clock()
        self.feeds.schedule(now)
        self.digests.schedule()
        scheduler.add_job(
            tasks.job(self._tick),
            "interval",
            seconds=daemon.tick,
            id="tick",
            name="tick",
            next_run_time=now + timedelta(seconds=1),
        )
        scheduler.add_job(
            tasks.job(self._seeds),
            "interval",
            seconds=daemon.seeds_interval,
            id="seeds",
            name="seeds",
        )

    async def _apply(self, old: Settings, new: Settings) -> None:
        """Put a reloaded configuration into effect."""
        runtime = self.runtime
        if matching_changed(old, new):
            activate_rules(runtime, new)
            self._restart_pool(new)
        runtime.apply(new)
        await self.feeds.refetch(old.fetch)
        self.feeds.use(self.pool)
        self._schedule()

    def _restart_pool(self, settings: Settings) -> None:
        # Workers hold the matcher they were forked with: new rules need new workers. The old
        # pool finishes what it has in hand.
        old = self.pool
        self.pool = start_pool(len(enabled_feeds(settings)), settings.daemon.parse_workers)
        if old is not None:
            old.shutdown(wait=False)

    async def _tick(self) -> None:
        runtime = self.runtime
        runtime.metrics.cycle(self.liveness.ticked())
        self._heartbeat()
        heartbeat(runtime.recorder.store, runtime.worker_id, self.liveness.started_at, self.clock())
        if runtime.leases is not None:
            lost = runtime.leases.renew()
            if lost:
                log.warning("leases lost to other workers (we were too slow): %s", sorted(lost))
        await self.reloader.reload_if_due()
        enable_changed_channels(runtime.recorder, runtime.channels)
        # Immediate digests held by quiet hours go out when they end; retries that fell due.
        await self.digests.send(self.digests.immediate_rules())

    async def _seeds(self) -> None:
        runtime = self.runtime
        settings = runtime.settings
        if runtime.leases is not None and not runtime.leases.claim(["seeds"]):
            return
        try:
            report = ingest_seeds(
                runtime.recorder,
                [settings.path(p) for p in settings.seeds.paths],
                base=settings.base_dir,
                max_bytes=settings.seeds.max_bytes,
            )
        finally:
            if runtime.leases is not None:
                runtime.leases.release(["seeds"])
        if report.matched:
            self.digests.flush_soon()

    def _start_web(self) -> WebServer | None:
        """The console, the API and the probes, when [web] listen is set (checked with the
        rest of the configuration in ``run``: beyond loopback only with a token)."""
        where = self.runtime.settings.web_listen
        if where is None:
            return None
        listen, key = where
        context = WebContext(self.config_file, metrics=self.runtime.metrics, health=self.health)
        server = WebServer(make_app(context), listen, key)
        server.start()
        context.warm()
        return server

    def _heartbeat(self, *, stopped: bool = False) -> None:
        settings = self.runtime.settings
        beat = self.liveness.beat(
            stopped_at=iso(time.time()) if stopped else None,
            feeds=len(enabled_feeds(settings)),
            rules=len(settings.rules),
            config=str(self.config_file),
            worker_id=self.runtime.worker_id,
        )
        write_heartbeat(settings.path(settings.daemon.heartbeat), beat)

    def health(self) -> Health:
        running = bool(self.runtime.scheduler.running)
        return self.liveness.health(running, tick=self.runtime.settings.daemon.tick)
