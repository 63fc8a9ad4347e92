"""Reloading the configuration: on SIGHUP, or when config.toml changes on disk.

The new file goes through the same checks as at start-up (:func:`preflight`); an
invalid one is logged line by line and the running configuration stays. Changed rules
are recorded and compiled, and get new parse workers (a worker holds the matcher it was
forked with); changed fetch settings get a new HTTP client; every job is scheduled again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from monitor.app.daemon.runtime import Runtime
from monitor.app.preflight import preflight
from monitor.config.redaction import hide
from monitor.config.secrets import values
from monitor.config.settings import Settings, load_settings
from monitor.errors import ConfigError
from monitor.rules.matcher import activate
from monitor.rules.rulebook import build_matcher, sync_rules

log = logging.getLogger("monitor.daemon")

Apply = Callable[[Settings, Settings], Coroutine[Any, Any, None]]


class Reloader:
    """Knows when the configuration should be read again, and reads it."""

    def __init__(self, runtime: Runtime, apply: Apply) -> None:
        self.runtime = runtime
        # Puts valid new settings (and the old ones) into effect.
        self.apply = apply
        self._mtime = mtime(runtime.config_file)
        self._requested = False

    def request(self) -> None:
        """SIGHUP: reload now (unless the daemon is stopping)."""
        log.info("SIGHUP: reloading %s", self.runtime.config_file)
        self._requested = True
        if not self.runtime.tasks.stopping.is_set():
            self.runtime.tasks.spawn(self.reload_if_due())

    async def reload_if_due(self) -> None:
        """Reload if asked to, or if config.toml changed since it was last read (the tick)."""
        if self._requested or mtime(self.runtime.config_file) != self._mtime:
            self._requested = False
            await self.reload()

    async def reload(self) -> None:
        config_file = self.runtime.config_file
        self._mtime = mtime(config_file)
        try:
            new = load_settings(config_file)
            hide(values(new, os.environ))
            preflight(new, str(config_file))
        except ConfigError as error:
            for line in error.problems:
                log.error("not reloaded, the running configuration stays: %s", line)
            return
        await self.apply(self.runtime.settings, new)
        log.info("reloaded %s: %d feed(s), %d rule(s)", config_file, len(new.feeds), len(new.rules))


def matching_changed(old: Settings, new: Settings) -> bool:
    """Whether the rules must be compiled again (and the parse workers forked again)."""
    return (old.rules, old.aliases, old.concepts, old.matching) != (
        new.rules,
        new.aliases,
        new.concepts,
        new.matching,
    )


def activate_rules(runtime: Runtime, settings: Settings) -> None:
    """Record the rules of ``settings`` and make their compiled matcher the active one."""
    versions = sync_rules(runtime.recorder, settings.rules)
    activate(build_matcher(settings, versions))


def mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None
