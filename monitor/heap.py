"""Giving freed memory back to the system, now and then.

CPython frees objects to the C allocator, which keeps the pages for later. A parse worker
that has just read a large feed would then hold its peak for the rest of its life: about
25 MB a worker here (bench/daemon.py memory). glibc's ``malloc_trim`` returns those pages.
It walks the heap (about 15 ms for 150 MB), so it runs at most once per ``INTERVAL``.
Elsewhere than glibc this is a no-op.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from monitor.libc import libc

INTERVAL = 30.0  # seconds

_last = [0.0]


@functools.cache
def _trim() -> Callable[[int], int] | None:
    trim = getattr(libc(), "malloc_trim", None)
    return trim if callable(trim) else None


def give_back(*, now: float | None = None) -> bool:
    """Return freed pages to the system if the last time was ``INTERVAL`` ago; True if so."""
    moment = time.monotonic() if now is None else now
    if moment - _last[0] < INTERVAL:
        return False
    _last[0] = moment
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
