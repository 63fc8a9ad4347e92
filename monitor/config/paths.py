"""Where the config file is: a module with no imports of weight, for every command's start."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_CONFIG = "config.toml"
CONFIG_ENV = "MONITOR_CONFIG"


def config_path(option: str | None) -> Path:
    """The config file: ``--config``, else ``$MONITOR_CONFIG``, else ``./config.toml``."""
    return Path(option or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)
