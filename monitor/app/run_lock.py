"""One scheduler per SQLite database: ``monitor run`` and ``run --once`` hold the run lock.

Two schedulers on one SQLite file (a cron ``run --once`` beside the service, a double
start) would poll every feed twice and send digests twice: SQLite has no leases to share
the work (PostgreSQL has, ``monitor/eventlog/leases.py``). So whatever schedules takes an
exclusive lock on a file beside the database (``monitor.db.run-lock``) and keeps it until
it exits; a second one refuses to start with one line naming the holder. One-off commands
(``ingest``, ``deliveries retry``, ``rules backfill``, ``replay``, every reader) do not
take it: the database's own locking keeps them safe beside a scheduler.

The lock is a POSIX record lock (``fcntl.lockf``): the kernel drops it when its process
ends, however it ends, so a crash never leaves a stale lock; and a forked parse worker does
not inherit it, so a worker that outlives its daemon for a moment cannot block a restart.
The file's text (pid, host, since when, the command) is only there to be shown.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from monitor.errors import MonitorError

SUFFIX = ".run-lock"


class AlreadyRunning(MonitorError):
    """Another process schedules work on this database."""


def lock_path(store_url: str) -> Path | None:
    """The run lock of a SQLite database, or None where there is none (PostgreSQL, memory)."""
    if not store_url.startswith("sqlite:///"):
        return None
    database = store_url.removeprefix("sqlite:///").partition("?")[0]
    if database in ("", ":memory:"):
        return None
    return Path(database + SUFFIX)


@contextlib.contextmanager
def run_lock(store_url: str, command: str) -> Iterator[None]:
    """Hold the run lock of ``store_url``'s database for the ``with`` block.

    Raises :class:`AlreadyRunning` naming the holder when another process has it.
    """
    path = lock_path(store_url)
    if path is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MonitorError(
            f"cannot create the database folder {path.parent}: {error.strerror}"
        ) from error
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise MonitorError(f"cannot open the run lock {path}: {error.strerror}") from error
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise AlreadyRunning(
                f"{path.with_suffix('')} is in use: {_holder(fd)}; "
                "one scheduler per SQLite database (one-off commands still work)"
            ) from None
        _write_holder(fd, command)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_holder(fd: int, command: str) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    text = json.dumps(
        {"pid": os.getpid(), "host": socket.gethostname(), "since": since, "command": command}
    )
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode() + b"\n", 0)


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says (it may be mid-write: then less is said)."""
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict) or "pid" not in data:
        return "held by another process"
    return (
        f"`monitor {data.get('command', 'run')}` has run as pid {data['pid']} "
        f"on {data.get('host', '?')} since {data.get('since', '?')}"
    )
