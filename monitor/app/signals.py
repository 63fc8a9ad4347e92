"""Signals that arrive while the daemon starts: held until it can act on them.

Until the daemon's event loop runs, SIGTERM, SIGINT and SIGHUP would do what they do by
default: end the process at once, without a log line (exit 143, 130, 129), so that a
``systemctl reload`` or a stop soon after a start left the service down. ``monitor run``
holds them from its first statement instead (``monitor/__main__.py``); the daemon acts on
what was held as soon as its own handlers are in place: a stop stops it cleanly, exit 0,
and a reload reloads. Processes forked from it (the parse workers) take the defaults back.

The long steps of start-up (catching up the read models, compiling the rules, building
the lemma dictionaries on first use: up to minutes) are :func:`interruptible`: a stop
that arrives during one ends it at once with :class:`Stopping`, rather than at its end,
after the service manager has given up waiting. Each of them is a transaction or a
rebuildable cache, so leaving one half way loses nothing.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType

HELD = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOPS = frozenset({signal.SIGTERM, signal.SIGINT})
_arrived: list[signal.Signals] = []
_interruptible = False


class Stopping(BaseException):
    """A stop signal arrived during an interruptible step of start-up.

    A BaseException, as KeyboardInterrupt is: no ``except Exception`` on the way may
    swallow it.
    """

    def __init__(self, sig: signal.Signals) -> None:
        super().__init__(sig.name)
        self.signal = sig


def hold() -> None:
    """From now on, note these signals instead of acting on them."""
    for sig in HELD:
        signal.signal(sig, _note)


def _note(signum: int, _frame: FrameType | None) -> None:
    sig = signal.Signals(signum)
    _arrived.append(sig)
    if _interruptible and sig in STOPS:
        raise Stopping(sig)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A stop held so far, or arriving during the block, raises :class:`Stopping`."""
    global _interruptible
    held = stop_requested()
    if held is not None:
        raise Stopping(held)
    _interruptible = True
    try:
        yield
    finally:
        _interruptible = False


def stop_requested() -> signal.Signals | None:
    """The first stop signal held so far, if any."""
    return next((sig for sig in _arrived if sig in STOPS), None)


def take() -> list[signal.Signals]:
    """What was held, in order of arrival; the record is emptied."""
    arrived = list(_arrived)
    _arrived.clear()
    return arrived


def default() -> None:
    """The defaults back, in a forked child that inherited the parent's handling."""
    signal.set_wakeup_fd(-1)  # the parent's event loop wakes on it; the child must not write
    for sig in HELD:
        signal.signal(sig, signal.SIG_DFL)
