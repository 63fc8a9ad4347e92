"""What every command needs: where the config is, the settings loaded on first use, the log."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from monitor.config.paths import config_path

if TYPE_CHECKING:
    from monitor.config.settings import Settings
    from monitor.eventlog.recorder import Recorder


class App:
    def __init__(self, config: str | None) -> None:
        self.config_file = config_path(config)
        self._settings: Settings | None = None
        self.log_level = logging.WARNING

    @property
    def settings(self) -> Settings:
        # Imported on first use: `monitor --help` and a bad command line need neither
        # pydantic nor the database (tests/test_startup.py).
        from monitor.config.redaction import hide
        from monitor.config.secrets import values
        from monitor.config.settings import load_settings

        if self._settings is None:
            self._settings = load_settings(self.config_file)
            # From here on, no log line (ours or a library's) can carry them.
            hide(values(self._settings, os.environ))
        return self._settings

    @contextmanager
    def log(self) -> Iterator[Recorder]:
        """The configured database, brought up to date, for the length of the command."""
        from monitor.app.wiring import opened_log

        settings = self.settings
        with opened_log(settings.store_url, busy_timeout=settings.store.busy_timeout) as recorder:
            yield recorder


pass_app = click.make_pass_decorator(App)
