"""Feed-health alerts: a feed that keeps failing, and its recovery, told to `[health]` channels.

The decision is pure (:func:`health_change`: a feed_state row in, an event or
nothing out) and so is the message (:func:`health_message`). The alert travels
through the outbox like a digest (rule ``feed-health``), so it is retried,
never lost and never sent twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from alerts.compose import Channel, template_parts
from alerts.digest import DIGEST_NAMESPACE
from alerts.message import Message
from monitor.config.settings import FileChannel, WebhookChannel
from monitor.eventlog.events import DigestAssembled, FeedHealthChanged

HEALTH_RULE = "feed-health"


def health_change(row: Mapping[str, Any], url: str, threshold: int) -> FeedHealthChanged | None:
    """The change a feed's state calls for: failing after ``threshold`` failures, recovered
    at the first success after that; None when nothing changed."""
    failures = int(row.get("consecutive_failures") or 0)
    health = row.get("health") or "ok"
    if health == "ok" and failures >= threshold:
        return FeedHealthChanged(
            feed=row["feed"],
            url=url,
            state="failing",
            failures=failures,
            category=row.get("last_error_category"),
            message=row.get("last_error_message"),
        )
    if health == "failing" and failures == 0:
        return FeedHealthChanged(feed=row["feed"], url=url, state="recovered", failures=0)
    return None


def health_subject(change: FeedHealthChanged) -> str:
    if change.state == "failing":
        return (
            f"feed {change.feed} is failing: {change.failures} failed polls in a row"
            f" ({change.category}: {change.message})"
        )[:200]
    return f"feed {change.feed} has recovered"


def health_message(
    channel: Channel, change: FeedHealthChanged, digest_id: str, created_at: datetime
) -> Message:
    subject = health_subject(change)
    lines = [
        subject,
        "",
        f"URL: {change.url}",
        "The feed is still polled on its backoff schedule; nothing is dropped."
        if change.state == "failing"
        else "It is polled at its normal interval again.",
    ]
    text = "\n".join(lines) + "\n"
    payload = {
        "type": "feed_health",
        "schema_version": 1,
        "id": digest_id,
        "feed": change.feed,
        "url": change.url,
        "state": change.state,
        "failures": change.failures,
        "category": change.category,
        "message": change.message,
    }
    html = "".join(f"<p>{escape(line)}</p>" for line in lines if line)
    parts: dict[str, str] = {}
    for part in template_parts(channel):
        if part == "text":
            parts[part] = text
        elif part == "html":
            parts[part] = f"<!doctype html><html><body>{html}</body></html>"
        elif part == "body":
            slack = isinstance(channel, WebhookChannel) and channel.format == "slack"
            parts[part] = json.dumps({"text": subject} if slack else payload, ensure_ascii=False)
        elif part == "file" and isinstance(channel, FileChannel) and channel.format == "html":
            parts[part] = f"<!doctype html><html><body>{html}</body></html>"
        else:  # markdown: apprise and Markdown files
            parts[part] = text
    return Message(
        digest_id=digest_id,
        rule=HEALTH_RULE,
        channel=channel.name,
        subject=subject,
        documents=0,
        parts=parts,
        created_at=created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def health_digest(
    channel: Channel, change: FeedHealthChanged, seq: int, created_at: datetime
) -> DigestAssembled:
    """The outbox entry that carries one health alert to one channel."""
    key = f"{HEALTH_RULE}\x1f{channel.name}\x1f{change.feed}\x1f{change.state}\x1f{seq}"
    digest_id = str(uuid.uuid5(DIGEST_NAMESPACE, key))
    message = health_message(channel, change, digest_id, created_at)
    return DigestAssembled(
        digest_id=digest_id,
        rule=HEALTH_RULE,
        channel=channel.name,
        channel_type=channel.type,
        matches=[],
        documents=[],
        entries=[],
        more=0,
        message=message.to_json(),
    )
