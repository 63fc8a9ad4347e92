"""The real daemon as a subprocess, and a feed whose items a test changes while it runs."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from html import escape
from pathlib import Path

from feedserver import FeedServer, Reply, Request


class LiveFeed:
    """An RSS feed at ``path`` whose items can change; answers 304 to a matching ETag and
    records when each request came and what validators it sent."""

    def __init__(self, server: FeedServer, path: str = "/feed.xml") -> None:
        self.server, self.path = server, path
        self.items: list[tuple[str, str, str]] = []  # guid, title, text
        self.status = 200  # set to 500 to make the feed fail
        self.hits: list[tuple[float, Request, int]] = []  # time, request, status sent
        self._lock = threading.Lock()
        server.route(path, self._respond)

    @property
    def url(self) -> str:
        return self.server.url(self.path)

    def add(self, guid: str, title: str, text: str) -> None:
        with self._lock:
            self.items.append((guid, title, text))

    def body(self) -> bytes:
        entries = "".join(
            f"<item><guid>{escape(g)}</guid><title>{escape(t)}</title>"
            f"<link>http://127.0.0.1/{escape(g)}</link><description>{escape(x)}</description></item>"
            for g, t, x in self.items
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>live</title>'
            f"<link>http://127.0.0.1/</link><description>d</description>{entries}</channel></rss>"
        ).encode()

    def _respond(self, request: Request) -> Reply:
        with self._lock:
            if self.status != 200:
                self.hits.append((time.monotonic(), request, self.status))
                return Reply(status=self.status)
            body = self.body()
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            fresh = request.headers.get("if-none-match") == etag
            self.hits.append((time.monotonic(), request, 304 if fresh else 200))
        if fresh:
            return Reply(status=304, headers={"ETag": etag})
        return Reply(body=body, headers={"ETag": etag, "Content-Type": "application/rss+xml"})


class Daemon:
    """``monitor run`` in a subprocess; its output goes to files beside the config."""

    _instances = 0

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        Daemon._instances += 1
        self.name = f"daemon{Daemon._instances}"  # several may share one folder

    def start(self) -> Daemon:
        self.runs += 1
        out = (self.config.parent / f"{self.name}-{self.runs}.log").open("wb")
        command = [sys.executable, "-m", "monitor", "--config", str(self.config), "-v", "run"]
        self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return self

    def log(self) -> str:
        return "".join(
            (self.config.parent / f"{self.name}-{run}.log").read_text(errors="replace")
            for run in range(1, self.runs + 1)
        )

    def latest_log(self) -> str:
        """The output of the latest run only."""
        return (self.config.parent / f"{self.name}-{self.runs}.log").read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> tuple[int, float]:
        """SIGTERM; returns the exit code and how long the exit took."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=15)

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        if self.alive():
            self.kill()


def wait_until(condition: object, timeout: float, step: float = 0.05) -> bool:
    """Poll ``condition()`` until it is true or ``timeout`` passes (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(step)
    return bool(condition())  # type: ignore[operator]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (read from /proc: no library needed)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found | {grandchild for child in found for grandchild in descendants(child)}


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # a zombie is dead, waiting for whoever adopted it to reap it
