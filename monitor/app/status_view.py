"""``monitor status``, printed: the gathered report as rich tables, plain text or JSON.

Times are UTC; ages are relative to the report's ``now`` ("3m ago", "in 12m").
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from alerts.outbox.folds import ABANDONED, PENDING
from monitor.app.status import (
    DigestStatus,
    FeedStatus,
    RemovedFeed,
    StatusReport,
    gather_status,
    utc,
)
from monitor.config.durations import format_duration
from monitor.config.settings import Settings
from monitor.eventlog.store import Store

# Piped output has no terminal width to fit: wide enough that error messages rarely wrap.
PIPE_WIDTH = 160


def status_json(report: StatusReport) -> dict[str, Any]:
    """The report as plain JSON types; times as ISO 8601 UTC (``…Z``), durations in seconds."""
    now = report.now
    return {
        "generated_at": _iso(now),
        "failure_threshold": report.failure_threshold,
        "feeds": [
            _plain(feed)
            | {
                "health": feed.health,
                # A disabled feed is never due; an enabled one is due once its time has come.
                "due_now": feed.enabled and (feed.next_poll_at is None or feed.next_poll_at <= now),
            }
            for feed in report.feeds
        ],
        "removed_feeds": [_plain(feed) for feed in report.removed_feeds],
        "deliveries": {
            "counts": dict(report.delivery_counts),
            "pending": [_plain(digest) | {"held": digest.held} for digest in report.pending],
            "abandoned": [_plain(digest) for digest in report.abandoned],
        },
        "daemon": report.daemon,
        "workers": [
            {k: _iso(v) if isinstance(v, datetime) else v for k, v in asdict(worker).items()}
            for worker in report.workers
        ],
    }


def _plain(item: FeedStatus | RemovedFeed | DigestStatus) -> dict[str, Any]:
    return {
        key: _iso(value) if isinstance(value, datetime) else value
        for key, value in asdict(item).items()
    }


# --- text -------------------------------------------------------------------------------


def render_status(report: StatusReport) -> list[RenderableType]:
    """The report as rich renderables, printed one after another."""
    parts: list[RenderableType] = [
        Text(f"status at {report.now:%Y-%m-%d %H:%M:%S} UTC", style="bold"),
        _daemon_part(report),
        _feeds_table(report),
    ]
    if report.workers:
        parts.append(_workers_table(report))
    if report.removed_feeds:
        parts.append(_removed_table(report))
    counts = report.delivery_counts
    parts.append(
        Text(
            "deliveries: " + ", ".join(f"{counts[state]} {state}" for state in counts),
            style="bold",
        )
    )
    for title, digests, total in (
        ("pending digests", report.pending, counts.get(PENDING, 0)),
        (
            "abandoned digests (monitor deliveries retry ID)",
            report.abandoned,
            counts.get(ABANDONED, 0),
        ),
    ):
        if digests:
            parts.append(_digests_table(title, digests, total, report.now))
    return parts


def status_command_output(
    store: Store,
    settings: Settings,
    now: datetime,
    as_json: bool,
    *,
    heartbeat: Mapping[str, Any] | None = None,
    terminal: bool | None = None,
) -> str:
    """Exactly what ``monitor status [--json]`` prints. ``terminal`` None means: stdout's."""
    report = gather_status(store, settings, now, heartbeat=heartbeat)
    if as_json:
        return json.dumps(status_json(report), indent=2, ensure_ascii=False) + "\n"
    if terminal is None:
        terminal = sys.stdout.isatty()
    width = shutil.get_terminal_size((PIPE_WIDTH, 24)).columns if terminal else PIPE_WIDTH
    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=terminal,
        # Colour only for a person at a terminal: scripts and files get plain text.
        color_system="auto" if terminal else None,
        highlight=False,
        soft_wrap=False,
    )
    for index, part in enumerate(render_status(report)):
        if index > 1:  # the heading and the daemon line belong together; then a blank line
            console.print()
        console.print(part)
    text = buffer.getvalue()
    if terminal:
        return text
    # Tables pad every cell to the column's width; a file or a diff has no use for the spaces.
    return "".join(line.rstrip() + "\n" for line in text.splitlines())


def _workers_table(report: StatusReport) -> Table:
    table = _table(
        f"workers: {len(report.workers)}",
        ("worker", "host", "pid", "started", "last seen", "holds"),
    )
    for worker in report.workers:
        held = worker.leases
        table.add_row(
            worker.worker_id,
            worker.host,
            str(worker.pid),
            _when(worker.started_at, report.now),
            _when(worker.last_seen, report.now),
            ", ".join(held[:6]) + (f" (+{len(held) - 6})" if len(held) > 6 else ""),
        )
    return table


def _daemon_part(report: StatusReport) -> RenderableType:
    if report.daemon is None:
        return Text("daemon: no heartbeat (not running, or not writing one)")
    table = _table("daemon", ("", ""), header=False)
    for key, value in sorted(report.daemon.items()):
        table.add_row(key, _heartbeat_value(key, value, report.now))
    return table


def _heartbeat_value(key: str, value: Any, now: datetime) -> str:
    # Only keys named like the projections' times are read as times: a version string or an
    # id that happens to parse as a date must stay as written.
    if key.endswith("_at") and isinstance(value, str):
        try:
            stamp = datetime.fromisoformat(value)
        except ValueError:
            return value
        return _when(stamp, now)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _feeds_table(report: StatusReport) -> Table:
    failing = sum(feed.failing and feed.enabled for feed in report.feeds)
    title = (
        f"feeds: {len(report.feeds)} configured, {failing} failing "
        f"({report.failure_threshold}+ failed polls in a row)"
    )
    columns = (
        "feed", "state", "last poll (UTC)", "outcome", "last success (UTC)", "fails",
        "every", "next poll (UTC)", "last error",
    )  # fmt: skip
    table = _table(title, columns)
    for feed in report.feeds:
        table.add_row(
            feed.name,
            Text(feed.health, style=_HEALTH_STYLE.get(feed.health, "")),
            _when(feed.last_polled_at, report.now),
            _outcome(feed),
            _when(feed.last_success_at, report.now),
            str(feed.consecutive_failures),
            _every(feed),
            _next_poll(feed, report.now),
            _error(feed.last_error_category, feed.last_error_message),
        )
    if not report.feeds:
        table.add_row("(no feeds in the configuration)", *[""] * (len(columns) - 1))
    return table


_HEALTH_STYLE = {"failing": "bold red", "retrying": "yellow", "ok": "green", "disabled": "dim"}


def _removed_table(report: StatusReport) -> Table:
    table = _table(
        "removed from the configuration (history kept in the log)",
        ("feed", "url", "last poll (UTC)", "outcome", "polls", "documents"),
    )
    for feed in report.removed_feeds:
        table.add_row(
            feed.name,
            feed.url,
            _when(feed.last_polled_at, report.now),
            feed.last_outcome,
            str(feed.polls),
            str(feed.documents),
        )
    return table


def _digests_table(title: str, digests: list[DigestStatus], total: int, now: datetime) -> Table:
    shown = f"{title}: {total}" + (f", {len(digests)} shown" if total > len(digests) else "")
    columns = (
        "digest",
        "rule",
        "channel",
        "tries",
        "created (UTC)",
        "next attempt (UTC)",
        "last error",
    )
    table = _table(shown, columns)
    for digest in digests:
        if digest.held:
            next_attempt = "held: channel disabled"
        elif digest.next_attempt_at is None:
            next_attempt = "-"
        else:
            next_attempt = _when(digest.next_attempt_at, now)
        table.add_row(
            digest.digest_id[:8],
            digest.rule,
            digest.channel,
            str(digest.attempts),
            _when(digest.created_at, now),
            next_attempt,
            _error(digest.last_category, digest.last_error),
        )
    return table


def _table(title: str, columns: tuple[str, ...], *, header: bool = True) -> Table:
    table = Table(
        box=None,
        pad_edge=False,
        show_header=header,
        title=title,
        title_justify="left",
        title_style="bold",
    )
    for index, column in enumerate(columns):
        # Names and times never wrap (a script greps for them); the last column takes the rest.
        last = index == len(columns) - 1
        table.add_column(column, no_wrap=not last, overflow="fold")
    return table


def _outcome(feed: FeedStatus) -> str:
    if feed.last_outcome is None:
        return "-"
    return feed.last_outcome + (f" ({feed.last_status})" if feed.last_status else "")


def _every(feed: FeedStatus) -> str:
    every = format_duration(feed.backoff)
    return every if feed.backoff <= feed.interval else f"{every} (backoff)"


def _next_poll(feed: FeedStatus, now: datetime) -> str:
    if not feed.enabled:
        return "-"
    if feed.next_poll_at is None:
        return "now (URL changed)" if feed.url_changed else "now"
    if feed.next_poll_at <= now:
        return f"now (due {_age(feed.next_poll_at, now)})"
    return _when(feed.next_poll_at, now)


def _error(category: str | None, message: str | None) -> str:
    if category is None and message is None:
        return ""
    return f"{category}: {message}" if category else str(message)


def _when(stamp: datetime | None, now: datetime) -> str:
    if stamp is None:
        return "-"
    stamp = utc(stamp)
    # The date only when it is not today's: it would take a third of a line on every row.
    shown = f"{stamp:%H:%M}" if stamp.date() == now.date() else f"{stamp:%Y-%m-%d %H:%M}"
    return f"{shown} ({_age(stamp, now)})"


def _age(stamp: datetime, now: datetime) -> str:
    """``3m ago`` or ``in 12m``: coarse on purpose, the exact time is printed beside it."""
    seconds = (now - utc(stamp)).total_seconds()
    if abs(seconds) < 1:
        return "now"
    span = _span(abs(seconds))
    return f"{span} ago" if seconds > 0 else f"in {span}"


def _span(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    if whole < 86400:
        hours, minutes = divmod(whole // 60, 60)
        return f"{hours}h" + (f" {minutes}m" if minutes else "")
    days, hours = divmod(whole // 3600, 24)
    return f"{days}d" + (f" {hours}h" if hours else "")


def _iso(stamp: datetime | None) -> str | None:
    if stamp is None:
        return None
    return utc(stamp).isoformat(timespec="seconds").replace("+00:00", "Z")
