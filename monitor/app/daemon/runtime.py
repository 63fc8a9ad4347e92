"""What the parts of the running daemon share: the settings in force and the open log.

One :class:`Runtime` per process. ``settings`` is replaced whole by a reload; every part
reads it when it acts, so a reload takes effect at the next job without restarting any.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alerts.channels import Channels
from monitor.app.daemon.tasks import Tasks
from monitor.app.metrics import Metrics
from monitor.app.scheduler import Scheduler
from monitor.config.settings import FeedSettings, Settings
from monitor.eventlog.leases import Leases
from monitor.eventlog.recorder import Clock, Recorder


@dataclass
class Runtime:
    config_file: Path
    settings: Settings
    recorder: Recorder
    clock: Clock
    metrics: Metrics
    tasks: Tasks
    scheduler: Scheduler
    # Several workers may share a PostgreSQL database: who polls a feed or sends a digest
    # is then decided by leases. SQLite is one process (DESIGN, "Scale"): None.
    leases: Leases | None
    worker_id: str
    _feeds: dict[str, FeedSettings] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.apply(self.settings)

    def apply(self, settings: Settings) -> None:
        """Make ``settings`` the ones in force (a reload)."""
        self.settings = settings
        # Every poll looks its feed up by name: a dict, not a scan of thousands of feeds.
        self._feeds = {feed.name: feed for feed in enabled_feeds(settings)}

    def feed(self, name: str) -> FeedSettings | None:
        """The enabled feed called ``name`` in the settings in force."""
        return self._feeds.get(name)

    @property
    def channels(self) -> Channels:
        return Channels.of(self.settings)


def enabled_feeds(settings: Settings) -> list[FeedSettings]:
    return [feed for feed in settings.feeds if feed.enabled]
