"""Prometheus metrics for the daemon: what it did (counters) and what the database says now.

Counters and histograms are pushed by the daemon as things happen (:class:`Metrics`).
State that lives in the projections (the outbox backlog, feed health, the log's head) is
read at scrape time by :class:`StoreCollector`, so it is right after a restart, counts the
work of every worker sharing the database, and needs no bookkeeping in the daemon.

Each :class:`Metrics` owns its registry: nothing goes into prometheus_client's global one,
so several instances (tests, embedded use) never collide.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy.engine import Connection

from alerts.outbox.folds import ABANDONED, PENDING
from alerts.outbox.queries import delivery_counts
from monitor.errors import StoreError
from monitor.eventlog.log import EventLog
from monitor.eventlog.store import Store
from monitor.readmodels.documents import count_documents
from monitor.readmodels.tables import feed_state_table

log = logging.getLogger("monitor.metrics")

POLL_OUTCOMES = ("polled", "not_modified", "failed")
DELIVERY_OUTCOMES = ("succeeded", "failed", "abandoned")
DOCUMENT_KINDS = ("new", "revised")

# Feed polls: a 304 takes tens of milliseconds, a slow server up to the fetch timeout.
POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# From publication to delivery: seconds for an immediate digest, a day or two for a daily
# digest of a feed that publishes late.
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
LAG_BUCKETS = (
    1.0,
    5.0,
    15.0,
    30.0,
    MINUTE,
    5 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
)


class Metrics:
    """The daemon's instruments, in a registry of their own."""

    def __init__(self, *, process: bool = True) -> None:
        self._registry = CollectorRegistry()
        self._polls = Counter(
            "monitor_polls",
            "Feed polls by outcome.",
            ["feed", "outcome"],
            registry=self._registry,
        )
        self._poll_seconds = Histogram(
            "monitor_poll_duration_seconds",
            "Time one feed poll took, fetch to commit.",
            ["feed"],
            buckets=POLL_BUCKETS,
            registry=self._registry,
        )
        self._documents = Counter(
            "monitor_documents",
            "Documents recorded, by kind (new or revised).",
            ["kind"],
            registry=self._registry,
        )
        self._matches = Counter(
            "monitor_matches", "Rule matches recorded.", ["rule"], registry=self._registry
        )
        self._deliveries = Counter(
            "monitor_deliveries",
            "Digest delivery attempts by outcome.",
            ["channel", "outcome"],
            registry=self._registry,
        )
        self._lag = Histogram(
            "monitor_delivery_lag_seconds",
            "From a document's publication to the delivery of the digest holding it.",
            buckets=LAG_BUCKETS,
            registry=self._registry,
        )
        self._last_cycle = Gauge(
            "monitor_last_cycle_timestamp_seconds",
            "When the last cycle finished (Unix time).",
            registry=self._registry,
        )
        # Series that exist from the start, so rate() sees the first increment.
        for kind in DOCUMENT_KINDS:
            self._documents.labels(kind=kind)
        if process:
            # Resident memory and open files of the daemon: cheap reads of /proc (nothing
            # elsewhere).
            ProcessCollector(registry=self._registry)

    @property
    def registry(self) -> CollectorRegistry:
        return self._registry

    def poll(self, feed: str, outcome: str, elapsed: float) -> None:
        """One poll of ``feed`` ended in ``outcome`` (polled, not_modified or failed)."""
        _check(outcome, POLL_OUTCOMES)
        self._polls.labels(feed=feed, outcome=outcome).inc()
        self._poll_seconds.labels(feed=feed).observe(max(elapsed, 0.0))

    def documents(self, new: int, revised: int) -> None:
        self._documents.labels(kind="new").inc(max(new, 0))
        self._documents.labels(kind="revised").inc(max(revised, 0))

    def matches(self, rule: str, count: int) -> None:
        self._matches.labels(rule=rule).inc(max(count, 0))

    def delivery(self, channel: str, outcome: str) -> None:
        """One delivery attempt on ``channel`` ended in ``outcome`` (succeeded, failed, abandoned)."""
        _check(outcome, DELIVERY_OUTCOMES)
        self._deliveries.labels(channel=channel, outcome=outcome).inc()

    def lag(self, seconds: float) -> None:
        # Feeds publish dates in the future now and then (time zones, embargoes): count them
        # as no lag rather than dropping them.
        self._lag.observe(max(seconds, 0.0))

    def cycle(self, finished_at: float) -> None:
        self._last_cycle.set(finished_at)

    def watch(self, store: Store) -> StoreCollector:
        """Report ``store``'s backlog and feed health on every scrape (call once per instance)."""
        collector = StoreCollector(store)
        self._registry.register(collector)
        return collector

    def render(self) -> tuple[bytes, str]:
        """The exposition: body and its content type."""
        return generate_latest(self._registry), CONTENT_TYPE_LATEST


def _check(outcome: str, allowed: tuple[str, ...]) -> None:
    # A typo in the daemon would otherwise mint a new series that no dashboard looks at.
    if outcome not in allowed:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(allowed)}")


class StoreCollector(Collector):
    """Gauges read from the projections at scrape time, with a handful of aggregate queries.

    A database that cannot answer (locked, gone, not yet migrated) costs those gauges for
    that scrape, counted in ``monitor_scrape_errors_total``; the rest of /metrics still works.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._errors = 0
        # Scrapes may overlap (one thread per request).
        self._lock = threading.Lock()

    def describe(self) -> Iterable[Metric]:
        # Names only: registration must not touch the database.
        return [*_families(), self._error_family()]

    def collect(self) -> Iterable[Metric]:
        try:
            with self._store.reading() as conn:
                families = list(_read(conn))
        except (sa.exc.SQLAlchemyError, StoreError) as error:
            log.warning("metrics: the database did not answer: %s", error)
            with self._lock:
                self._errors += 1
            families = []
        return [*families, self._error_family()]

    def _error_family(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "monitor_scrape_errors",
            "Scrapes whose database gauges were skipped because the database failed.",
        )
        with self._lock:
            family.add_metric([], self._errors)
        return family


def _families() -> tuple[GaugeMetricFamily, ...]:
    return (
        GaugeMetricFamily("monitor_deliveries_pending", "Digests waiting to be delivered."),
        GaugeMetricFamily(
            "monitor_deliveries_abandoned", "Digests given up on (see `monitor deliveries`)."
        ),
        GaugeMetricFamily(
            "monitor_feed_last_success_timestamp_seconds",
            "When a feed last answered (polled or not modified); 0: never.",
            labels=["feed"],
        ),
        GaugeMetricFamily(
            "monitor_feed_consecutive_failures",
            "Failed polls of a feed since its last success.",
            labels=["feed"],
        ),
        # Not "monitor_documents": that is the counter's family (monitor_documents_total).
        GaugeMetricFamily("monitor_documents_stored", "Documents stored."),
        GaugeMetricFamily("monitor_events_head", "The log's last seq."),
    )


def _read(conn: Connection) -> tuple[GaugeMetricFamily, ...]:
    pending, abandoned, last_success, failures, documents, head = _families()
    states = delivery_counts(conn, (PENDING, ABANDONED))
    pending.add_metric([], states[PENDING])
    abandoned.add_metric([], states[ABANDONED])
    # One row per feed ever polled: bounded by the configuration, not by traffic.
    feeds = feed_state_table.c
    for feed, success_at, count in conn.execute(
        sa.select(feeds.feed, feeds.last_success_at, feeds.consecutive_failures)
    ):
        last_success.add_metric([feed], _timestamp(success_at))
        failures.add_metric([feed], count)
    documents.add_metric([], count_documents(conn))
    head.add_metric([], EventLog().head(conn))
    return pending, abandoned, last_success, failures, documents, head


def _timestamp(value: datetime | None) -> float:
    return value.timestamp() if value is not None else 0.0
