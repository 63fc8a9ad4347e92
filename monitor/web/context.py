"""What every request of the console and the API reads: the configuration (as it is on
disk now), the log, the searcher, the operators' health and metrics, the token.

``config.toml`` is read again whenever it changed on disk, so the console always shows
and edits the file as it is (a hand edit included). The searcher holds the lexicon of the
current configuration and is rebuilt when that changes; building it takes seconds the
first time, so the server starts it in the background and a preview waits for it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from monitor.app.health import Health, HealthCheck
from monitor.app.metrics import Metrics
from monitor.app.wiring import open_log
from monitor.config import editing
from monitor.config.settings import Settings
from monitor.eventlog.recorder import Recorder
from monitor.rules.rulebook import lexicon_fingerprint, lexicon_for
from monitor.search.preview import Searcher
from monitor.web.exposure import TOKEN_ENV

log = logging.getLogger("monitor.web")


@dataclass
class _Built:
    fingerprint: str
    searcher: Searcher


class WebContext:
    def __init__(
        self,
        config_file: Path,
        *,
        metrics: Metrics | None = None,
        health: HealthCheck | None = None,
        token: str | None = None,
    ) -> None:
        self.config_file = config_file
        # token None: from the environment; "" (or an empty variable): no token.
        self.token = (token if token is not None else os.environ.get(TOKEN_ENV)) or None
        self._snapshot = editing.read(config_file)
        self._stamp = _stamp(config_file)
        self._lock = threading.Lock()
        self._search_lock = threading.Lock()
        self._built: _Built | None = None
        self.recorder: Recorder = open_log(
            self.settings.store_url, busy_timeout=self.settings.store.busy_timeout
        )
        self.metrics = metrics or Metrics()
        if metrics is None:
            self.metrics.watch(self.recorder.store)
        self._health = health
        self.started = time.time()

    @property
    def snapshot(self) -> editing.Snapshot:
        """The configuration as it is on disk now (read again when the file changed)."""
        stamp = _stamp(self.config_file)
        if stamp != self._stamp:
            with self._lock:
                try:
                    self._snapshot = editing.read(self.config_file)
                except Exception:  # a half-saved hand edit: keep showing the last good one
                    log.warning(
                        "web: %s does not load; showing the last good version", self.config_file
                    )
                self._stamp = stamp
        return self._snapshot

    @property
    def settings(self) -> Settings:
        return self.snapshot.settings

    def edited(self, snapshot: editing.Snapshot) -> None:
        """Take the snapshot an edit wrote as the current one."""
        with self._lock:
            self._snapshot = snapshot
            self._stamp = _stamp(self.config_file)

    def searcher(self) -> Searcher:
        """The searcher of the current configuration's lexicon (built on first use)."""
        settings = self.settings
        fingerprint = lexicon_fingerprint(settings)
        built = self._built
        if built is not None and built.fingerprint == fingerprint:
            return built.searcher
        with self._search_lock:
            built = self._built
            if built is None or built.fingerprint != fingerprint:
                searcher = Searcher(self.recorder.store, lexicon_for(settings), fingerprint)
                built = self._built = _Built(fingerprint, searcher)
        return built.searcher

    def warm(self) -> None:
        """Build the searcher and bring the index up to date, in the background."""

        def work() -> None:
            try:
                self.searcher().catch_up()
            except Exception:
                log.exception("web: preparing the search index failed")

        threading.Thread(target=work, name="web warm-up", daemon=True).start()

    def health(self) -> Health:
        if self._health is not None:
            return self._health()
        # `monitor web` alone: alive while it answers, ready while the database does.
        try:
            with self.recorder.store.reading() as conn:
                conn.exec_driver_sql("SELECT 1")
            ready = True
        except Exception:
            ready = False
        return Health(alive=True, ready=ready, detail={"mode": "web", "pid": os.getpid()})

    def close(self) -> None:
        self.recorder.store.dispose()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size
