"""Process-wide logging: one line per record on standard error, as text or JSON.

One line per record is the contract that matters: journald (and every log shipper
reading a pipe) makes one entry per line, so a traceback or a message with a newline
must not turn into ten unrelated entries. Text escapes line breaks as ``\\n``; JSON
escapes them by itself.

Text::

    2026-11-28T08:00:00Z INFO monitor.polling: feed bbc: dns: cannot resolve feeds.bbci.co.uk

JSON (``--log-format json``, for ``journalctl -o cat | jq``)::

    {"ts": "2026-11-28T08:00:00.123Z", "level": "INFO", "logger": "monitor.polling",
     "message": "feed bbc: dns: …", "feed": "bbc", "category": "dns"}

Fields given as ``extra={...}`` to a log call (feed, rule, digest_id, channel,
category, …) become keys of the JSON object; text output shows the message only.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

from monitor.config.redaction import scrub

LogFormat = Literal["text", "json"]

# Third-party loggers held at WARNING whatever the level asked for, because at INFO they
# say what our own records already say, once per request or job:
# - httpx logs every request at INFO ("HTTP Request: GET … 200 OK"): one line per feed
#   poll and webhook, duplicating the FeedPolled/Delivery* log lines and events.
# - httpcore logs connection internals at DEBUG: -vv would drown our own debug lines.
# - apscheduler logs "Running job …" and "… executed successfully" at INFO for every
#   poll; its missed-run warnings and job errors are WARNING and ERROR, so they still show.
# - urllib3 (under Apprise's requests) logs connection pool chatter at DEBUG.
QUIET_LOGGERS: dict[str, int] = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "apscheduler": logging.WARNING,
    "urllib3": logging.WARNING,
    # A first migration logs a line per step at INFO; what matters is in our own log.
    "alembic": logging.WARNING,
}

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",  # 3.12+
}
_CORE = ("ts", "level", "logger", "message", "exc", "stack")


def configure_logging(level: int, fmt: LogFormat) -> None:
    """Send every record at ``level`` or above to stderr, one line each, in ``fmt``.

    Replaces the root logger's handlers, so calling it again (a reload, a test)
    switches format or level without doubling lines.
    """
    if fmt not in ("text", "json"):
        raise ValueError(f"unknown log format {fmt!r}; expected 'text' or 'json'")
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(level, quiet))


class StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time of the record, not at set-up.

    A handler that kept the stream it was given would keep writing to a replaced (or
    closed) stream after ``sys.stderr`` changed: test capture, a daemon's re-opened stderr.
    Every line, ours or a library's (Apprise's debug output prints its URLs), is scrubbed
    of secrets first (``monitor/config/redaction.py``).
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = scrub(self.format(record))
            stream = sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


class TextFormatter(logging.Formatter):
    """``2026-11-28T08:00:00Z INFO monitor.polling: message`` with any traceback on the same line."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_stamp(record, 'seconds')} {record.levelname} {record.name}: {record.getMessage()}"
        )
        trace = _traceback(self, record)
        if trace:
            line += " | " + trace
        return _one_line(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``message``, the record's
    ``extra`` fields, and ``exc`` (the formatted traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": _stamp(record, "milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                # An extra may not overwrite the fields every line has: keep it beside them.
                entry[f"extra_{key}" if key in _CORE else key] = value
        trace = _traceback(self, record)
        if trace:
            entry["exc"] = trace
        if record.stack_info:
            entry["stack"] = record.stack_info
        return _dumps(entry)


def _dumps(entry: dict[str, Any]) -> str:
    try:
        return orjson.dumps(entry, default=_str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        # What even default=str cannot help with (an integer beyond 64 bits, a circular
        # list): the offending values as their str(), the rest as they are.
        safe: dict[str, Any] = {}
        for key, value in entry.items():
            try:
                orjson.dumps(value, default=_str, option=orjson.OPT_NON_STR_KEYS)
                safe[key] = value
            except TypeError:
                safe[key] = _str(value)
        return orjson.dumps(safe, default=_str, option=orjson.OPT_NON_STR_KEYS).decode()


def _str(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a broken __str__ must not cost the whole log line
        return f"<unprintable {type(value).__name__}>"


def _traceback(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    # exc_info is (None, None, None) when log.exception() runs outside an except block.
    if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    return record.exc_text or ""


def _stamp(record: logging.LogRecord, timespec: str) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec=timespec).replace("+00:00", "Z")


def _one_line(text: str) -> str:
    return text.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")
