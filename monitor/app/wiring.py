"""The one place that names every projection and opens a migrated log.

The kernel (:mod:`monitor.eventlog`) knows no projection, and neither half of the product
knows the other's: this module puts the pipeline's read models and the outbox's side by
side, brings a database up to date with them, and builds the :class:`Recorder` that keeps
them all current. Everything that opens the log at run time comes through here.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alerts.outbox.tables import DELIVERY_PROJECTIONS
from monitor.errors import StoreError
from monitor.eventlog.migrations import migrate
from monitor.eventlog.projection import Applies
from monitor.eventlog.recorder import Clock, Recorder, utc_now
from monitor.eventlog.store import Store, open_store
from monitor.readmodels.tables import PROJECTIONS as PIPELINE_PROJECTIONS

# Every read model of the product, in the order the projector applies them.
PROJECTIONS: tuple[Applies, ...] = (*PIPELINE_PROJECTIONS, *DELIVERY_PROJECTIONS)


def open_log(url: str, *, busy_timeout: float = 30.0, clock: Clock = utc_now) -> Recorder:
    """Connect to ``url``, bring its schema up to date and return a recorder on it.

    The caller disposes of ``recorder.store`` when done (or uses :func:`opened_log`).
    """
    store = open_store(url, busy_timeout=busy_timeout)
    try:
        migrate(store, PROJECTIONS)
    except StoreError as error:
        store.dispose()
        raise StoreError(f"cannot open the database {store.url}: {error}") from error
    return recorder_for(store, clock=clock)


@contextmanager
def opened_log(
    url: str, *, busy_timeout: float = 30.0, clock: Clock = utc_now
) -> Iterator[Recorder]:
    """:func:`open_log` for the length of a ``with`` block."""
    recorder = open_log(url, busy_timeout=busy_timeout, clock=clock)
    try:
        yield recorder
    finally:
        recorder.store.dispose()


def recorder_for(store: Store, *, clock: Clock = utc_now) -> Recorder:
    """A recorder that keeps every projection of the product current on ``store``."""
    return Recorder(store, PROJECTIONS, clock=clock)
