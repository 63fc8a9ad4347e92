"""Process logging: one line per record on stderr, as text or JSON, whatever the message."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.app.logs import QUIET_LOGGERS, JsonFormatter, TextFormatter, configure_logging

log = logging.getLogger("monitor.polling")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; give the next test what it had."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    quiet = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in quiet.items():
        logging.getLogger(name).setLevel(old)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert err.endswith("\n")
    return err.splitlines()


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines(capsys)]


def record(message: str, *args: Any, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord("monitor.polling", logging.INFO, __file__, 1, message, args, None)
    made.created = datetime(2026, 11, 28, 8, 0, 0, 123000, tzinfo=UTC).timestamp()
    made.__dict__.update(extra)
    return made


def test_text_format_shape() -> None:
    line = TextFormatter().format(record("feed %s: dns: cannot resolve %s", "bbc", "x.example"))
    assert (
        line == "2026-11-28T08:00:00Z INFO monitor.polling: feed bbc: dns: cannot resolve x.example"
    )


def test_json_format_shape() -> None:
    entry = json.loads(JsonFormatter().format(record("feed %s polled", "bbc", feed="bbc")))
    assert entry == {
        "ts": "2026-11-28T08:00:00.123Z",
        "level": "INFO",
        "logger": "monitor.polling",
        "message": "feed bbc polled",
        "feed": "bbc",
    }


def test_json_lines_parse_with_extras(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "json")
    log.info("feed %s: polled", "bbc", extra={"feed": "bbc", "category": "dns"})
    logging.getLogger("alerts.outbox").warning(
        "digest failed",
        extra={"rule": "aa", "digest_id": "0429cfda", "channel": "ops", "attempt": 2},
    )
    first, second = json_lines(capsys)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert first["level"] == "INFO" and first["logger"] == "monitor.polling"
    assert first["message"] == "feed bbc: polled"
    assert (first["feed"], first["category"]) == ("bbc", "dns")
    assert "exc" not in first
    assert second["level"] == "WARNING" and second["logger"] == "alerts.outbox"
    assert {k: second[k] for k in ("rule", "digest_id", "channel", "attempt")} == {
        "rule": "aa",
        "digest_id": "0429cfda",
        "channel": "ops",
        "attempt": 2,
    }


def test_unserialisable_extras_become_strings(capsys: pytest.CaptureFixture[str]) -> None:
    class Opaque:
        def __str__(self) -> str:
            return "opaque thing"

    configure_logging(logging.INFO, "json")
    log.info(
        "odd extras",
        extra={
            "thing": Opaque(),
            "path": Path("/srv/monitor"),
            "when": datetime(2026, 11, 28, 8, 0, tzinfo=UTC),
            "huge": 2**80,
            "ts": "not the timestamp",
        },
    )
    (entry,) = json_lines(capsys)
    assert entry["thing"] == "opaque thing"
    assert entry["path"] == "/srv/monitor"
    assert entry["when"].startswith("2026-11-28T08:00:00")
    assert entry["huge"] == str(2**80)
    # An extra never replaces a field every line has.
    assert entry["extra_ts"] == "not the timestamp" and entry["ts"].endswith("Z")


def test_exceptions_included_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "json")
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        log.exception("feed %s: unexpected error", "bbc", extra={"feed": "bbc"})
    (entry,) = json_lines(capsys)
    assert entry["level"] == "ERROR" and entry["feed"] == "bbc"
    assert entry["exc"].startswith("Traceback (most recent call last):")
    assert "ValueError: boom\nsecond line" in entry["exc"]

    configure_logging(logging.INFO, "text")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("feed bbc: unexpected error")
    (line,) = lines(capsys)
    assert line.startswith("20") and "ERROR monitor.polling: feed bbc: unexpected error | " in line
    assert "Traceback (most recent call last):\\n" in line and line.endswith("ValueError: boom")


def test_exception_outside_except_block_adds_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "json")
    log.exception("no exception in flight")
    (entry,) = json_lines(capsys)
    assert "exc" not in entry


def test_multi_line_messages_stay_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "json")
    log.info("first\nsecond\r\nthird")
    (entry,) = json_lines(capsys)
    assert entry["message"] == "first\nsecond\r\nthird"

    configure_logging(logging.INFO, "text")
    log.info("first\nsecond\r\nthird\rfourth")
    (line,) = lines(capsys)
    assert line.endswith("monitor.polling: first\\nsecond\\nthird\\nfourth")


def test_idempotent_and_level_respected(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.INFO, "text")
    configure_logging(logging.INFO, "json")
    root = logging.getLogger()
    assert len(root.handlers) == 1
    log.debug("hidden")
    log.info("shown")
    (entry,) = json_lines(capsys)
    assert entry["message"] == "shown"

    configure_logging(logging.DEBUG, "text")
    log.debug("now shown")
    (line,) = lines(capsys)
    assert " DEBUG monitor.polling: now shown" in line


def test_noisy_libraries_quiet_below_warning(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(logging.DEBUG, "text")
    logging.getLogger("httpx").info("HTTP Request: GET https://x.example 200 OK")
    logging.getLogger("httpcore.connection").debug("connect_tcp.started")
    logging.getLogger("apscheduler.executors.default").info("Running job")
    logging.getLogger("apscheduler.executors.default").warning("Run time of job was missed")
    (line,) = lines(capsys)
    assert line.endswith("WARNING apscheduler.executors.default: Run time of job was missed")


def test_unknown_format_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging(logging.INFO, "yaml")  # type: ignore[arg-type]
