"""The user's cache folder: data compiled once from what the packages ship, then read fast.

``$MONITOR_CACHE`` overrides the folder (else the platform's user cache folder). Files are
written atomically under names made from what they depend on, and only the newest few of
each family are kept. A folder that cannot be written costs a log line, never the program.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("monitor.cache")
CACHE_ENV = "MONITOR_CACHE"
KEEP = 4  # files kept per family (one per configuration in use)


def cache_folder() -> Path:
    """Where compiled data are kept (``$MONITOR_CACHE``, else the user's cache folder)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("news-monitor"))


def save_bytes(path: Path, data: bytes | Iterable[bytes], family: str, what: str) -> bool:
    """Write ``data`` (or its chunks, in order) to ``path`` atomically and keep the newest
    :data:`KEEP` files of its ``family`` (a glob); False, with a log line, when the folder
    cannot be written."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as file:
            for chunk in [data] if isinstance(data, bytes) else data:
                file.write(chunk)
        temporary.replace(path)
        old = sorted(path.parent.glob(family), key=lambda p: p.stat().st_mtime)
        for stale in old[:-KEEP]:
            stale.unlink(missing_ok=True)
    except OSError as error:
        log.warning("cannot keep %s in %s: %s", what, path.parent, error)
        with contextlib.suppress(OSError):  # the folder may be missing, or a file
            temporary.unlink(missing_ok=True)
        return False
    return True
