"""What must hold before anything runs: secrets set and well formed, templates that render,
the web console on loopback unless a token guards it.

``monitor run`` (with or without ``--once``), a reload of the daemon and
``monitor deliveries retry`` all start here; a problem stops them with exit 2 and one
line each, naming the file and the key, before a feed is polled or a digest sent.
"""

from __future__ import annotations

import os

from alerts.channels import Channels
from alerts.outbox.checks import channel_problems
from monitor.config.secrets import missing
from monitor.config.settings import Settings
from monitor.errors import ConfigError
from monitor.web.exposure import exposure_problems


def preflight(settings: Settings, source: str) -> None:
    """Raise :class:`ConfigError` with every problem ``settings`` has at start-up."""
    problems = missing(settings, os.environ, source)
    problems += channel_problems(Channels.of(settings), os.environ, source)
    problems += exposure_problems(settings.web_listen, os.environ, source)
    if problems:
        raise ConfigError(problems)
