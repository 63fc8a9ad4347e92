"""The C library, for the few calls Python has no wrapper for (prctl, malloc_trim).

Found as the process's own symbols (``dlopen(NULL)``), not with ``ctypes.util.find_library``,
which runs ``ldconfig`` (or a compiler) in a subprocess: every parse worker and every
page's child would fork one as it starts.
"""

from __future__ import annotations

import ctypes
import functools
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.cache
def libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def die_with_parent() -> None:
    """On Linux, have the kernel SIGKILL this process when the thread that forked it ends."""
    found = libc()
    if sys.platform == "linux" and found is not None:
        found.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
