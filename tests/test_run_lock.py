"""One scheduler per SQLite database, and no process of the daemon outliving it.

The real `monitor run` as a subprocess: a second daemon or a `run --once` on its database
refuses with one line naming the holder, while one-off commands keep working beside it;
after a SIGKILL, the parse workers are gone within a second or so and a restart is not
blocked by a stale lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from daemonkit import Daemon, LiveFeed, descendants, gone, wait_until
from feedserver import FeedServer

from monitor.app.run_lock import lock_path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def write_config(folder: Path, server: FeedServer, feeds: int = 2) -> Path:
    for n in range(feeds):
        LiveFeed(server, f"/f{n}.xml").add(f"g{n}", f"Story {n}", "Talks in Brussels.")
    path = folder / "config.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = []\n[daemon]\ntick = "0.5s"\n'
        + "".join(
            f'[[feeds]]\nname = "f{n}"\nurl = "{server.url(f"/f{n}.xml")}"\ninterval = "1s"\n'
            for n in range(feeds)
        )
        + '[[rules]]\nname = "aa"\nquery = "Armenia AND Azerbaijan"\nchannels = ["out"]\n'
        '[[channels]]\nname = "out"\ntype = "file"\npath = "digests"\n',
        encoding="utf-8",
    )
    return path


def monitor(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=config.parent,
    )


def started(daemon: Daemon) -> bool:
    """Whether the daemon's latest run has started."""
    return "monitor started" in daemon.latest_log()


def test_a_second_scheduler_refuses_and_names_the_holder(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, feed_server)
    daemon = Daemon(config).start()
    try:
        assert wait_until(lambda: started(daemon), 120), daemon.log()
        assert daemon.process is not None
        pid = daemon.process.pid
        for args in (["run", "--once"], ["run"]):
            refused = monitor(config, *args)
            assert refused.returncode == 1, refused.stderr
            [line] = refused.stderr.strip().splitlines()
            assert f"pid {pid}" in line and "since 20" in line and "monitor.db" in line, line
            assert os.uname().nodename in line
        # One-off commands work beside the daemon.
        (tmp_path / "doc.txt").write_text("Armenia and Azerbaijan met in Brussels.\n")
        for args in (["status"], ["events", "--limit", "1"], ["ingest", "doc.txt"]):
            result = monitor(config, *args)
            assert result.returncode == 0, (args, result.stderr)
        assert daemon.stop()[0] == 0
    finally:
        daemon.close()
    # Once the daemon is gone, a cycle runs.
    after = monitor(config, "run", "--once")
    assert after.returncode == 0, after.stderr


def test_after_sigkill_no_worker_remains_and_a_restart_is_not_blocked(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path, feed_server, feeds=3)
    daemon = Daemon(config).start()
    try:
        assert wait_until(lambda: started(daemon), 120), daemon.log()
        assert daemon.process is not None
        workers = descendants(daemon.process.pid)
        assert len(workers) >= 2, workers  # the parse pool (2 cores, 3 feeds)
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait(timeout=15)
        killed = time.monotonic()
        assert wait_until(lambda: all(gone(w) for w in workers), 10), workers
        assert time.monotonic() - killed < 2.5
        # The lock went with the process: a new daemon starts at once.
        daemon.start()
        assert wait_until(lambda: started(daemon), 120), daemon.log()[-2000:]
        assert daemon.stop()[0] == 0
    finally:
        daemon.close()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:////data/monitor.db", "/data/monitor.db.run-lock"),
        ("sqlite:///monitor.db?timeout=5", "monitor.db.run-lock"),
        ("sqlite:///:memory:", None),
        ("postgresql+psycopg://postgres@127.0.0.1/test", None),
    ],
)
def test_the_lock_lives_beside_a_sqlite_file_only(url: str, expected: str | None) -> None:
    path = lock_path(url)
    assert (str(path) if path else None) == expected
