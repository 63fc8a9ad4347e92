"""The Apprise channel against a real HTTP server on 127.0.0.1 (Apprise's json:// service)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import apprise
import pytest

from alerts.channels.apprise import send_apprise
from alerts.message import Message

# Apprise loads its plugins on first use; the email plugin imports the deprecated
# imghdr module (Python 3.11/3.12). Only that warning is let through.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

PASSWORD = "s3cr3t"
MARKDOWN = "## armenia-azerbaijan\n\n- [Talks resume](https://example.org/a) — *Reuters*\n"
# A slow route waits at most this long, and less once the test ends.
MAX_WAIT = 5.0


@dataclass
class Hook:
    """What the server received, and how it answers (by path)."""

    port: int
    stopping: threading.Event
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def url(self, path: str, userinfo: str = "") -> str:
        return f"json://{userinfo}127.0.0.1:{self.port}{path}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.server.hook.received.append((self.path, json.loads(self.rfile.read(length))))
        if self.path.startswith("/slow"):
            self.server.hook.stopping.wait(MAX_WAIT)
            return  # the connection closes unanswered
        self.send_response(500 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    # server_close() joins the handler threads, so no socket outlives its test.
    daemon_threads = False
    hook: Hook


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.hook = Hook(port=server.server_address[1], stopping=threading.Event())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        yield server.hook
    finally:
        server.hook.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join()


def _message() -> Message:
    return Message(
        digest_id="0123abcd4567ef89",
        rule="armenia-azerbaijan",
        channel="chat",
        subject="armenia-azerbaijan: 1 new match",
        documents=1,
        parts={"markdown": MARKDOWN},
        created_at="2024-05-01T12:34:56Z",
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_delivers_subject_as_title_and_markdown_as_body(hook: Hook) -> None:
    outcome = send_apprise([hook.url("/notify")], _message(), timeout=5)
    assert outcome.ok, outcome
    assert outcome.detail == "1 Apprise service"
    [(path, payload)] = hook.received
    assert path == "/notify"
    assert payload["title"] == "armenia-azerbaijan: 1 new match"
    assert payload["message"] == MARKDOWN.rstrip()  # Apprise trims the body's end


def test_delivers_to_every_url(hook: Hook) -> None:
    outcome = send_apprise([hook.url("/a"), f"  {hook.url('/b')}\n"], _message(), timeout=5)
    assert outcome.ok, outcome
    assert outcome.detail == "2 Apprise services"
    assert sorted(path for path, _ in hook.received) == ["/a", "/b"]


def test_server_error_is_rejected_without_the_password(hook: Hook) -> None:
    url = hook.url("/fail", userinfo=f"user:{PASSWORD}@")
    outcome = send_apprise([url], _message(), timeout=5)
    assert (outcome.ok, outcome.category) == (False, "rejected")
    assert "500" in outcome.message
    assert PASSWORD not in outcome.message
    assert len(hook.received) == 1


def test_one_failing_url_fails_the_delivery(hook: Hook) -> None:
    outcome = send_apprise([hook.url("/ok"), hook.url("/fail")], _message(), timeout=5)
    assert outcome.category == "rejected"
    assert outcome.message.startswith("1 of 2 Apprise services failed: ")


def test_unknown_scheme_is_config_naming_only_the_scheme(hook: Hook) -> None:
    url = f"nosuchservice://user:{PASSWORD}@tok3nABCDEF/xyz"
    outcome = send_apprise([hook.url("/ok"), url], _message(), timeout=5)
    assert (outcome.ok, outcome.category) == (False, "config")
    assert "nosuchservice://" in outcome.message
    assert "URL 2 of 2" in outcome.message
    for secret in (PASSWORD, "tok3nABCDEF", "xyz"):
        assert secret not in outcome.message
    assert hook.received == []  # nothing is sent when the configuration is broken


def test_closed_port_is_a_failure_not_an_exception() -> None:
    url = f"json://user:{PASSWORD}@127.0.0.1:{_closed_port()}/"
    started = time.monotonic()
    outcome = send_apprise([url], _message(), timeout=2)
    assert (outcome.ok, outcome.category) == (False, "rejected")
    assert "Connection error" in outcome.message
    assert PASSWORD not in outcome.message
    assert time.monotonic() - started < 2


def test_slow_service_times_out_within_the_limit(hook: Hook) -> None:
    started = time.monotonic()
    outcome = send_apprise([hook.url("/slow")], _message(), timeout=0.3)
    elapsed = time.monotonic() - started
    assert (outcome.ok, outcome.category) == (False, "timeout"), outcome
    assert outcome.message.startswith("Apprise delivery did not finish within 0.3 s")
    assert elapsed < 2


def test_unexpected_exception_is_internal_and_redacted(
    hook: Hook, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = hook.url("/ok", userinfo=f"user:{PASSWORD}@")

    def explode(self: apprise.Apprise, **kwargs: Any) -> None:
        raise RuntimeError(f"cannot reach {url} with {PASSWORD}")

    monkeypatch.setattr(apprise.Apprise, "notify", explode)
    outcome = send_apprise([url], _message(), timeout=5)
    assert (outcome.ok, outcome.category) == (False, "internal")
    assert "RuntimeError" in outcome.message
    assert PASSWORD not in outcome.message
    assert url not in outcome.message


@pytest.mark.parametrize(
    ("urls", "timeout"),
    [([], 5.0), (["  "], 5.0), (["json://127.0.0.1:9/"], 0.0), (["json://127.0.0.1:9/"], -1.0)],
)
def test_no_urls_or_no_time_is_config(urls: list[str], timeout: float) -> None:
    outcome = send_apprise(urls, _message(), timeout=timeout)
    assert (outcome.ok, outcome.category) == (False, "config")


def test_message_without_markdown_is_internal(hook: Hook) -> None:
    message = Message(digest_id="d", rule="r", channel="c", subject="s", documents=0)
    outcome = send_apprise([hook.url("/ok")], message, timeout=5)
    assert (outcome.ok, outcome.category) == (False, "internal")
    assert hook.received == []


def test_nothing_is_written_to_the_home_folder(
    hook: Hook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert send_apprise([hook.url("/ok")], _message(), timeout=5).ok
    assert list(home.iterdir()) == []
