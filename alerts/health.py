"""Feed-health alerts: a feed that keeps failing, and its recovery, told to `[health]` channels.

The decision is pure (:func:`health_change`: a feed's state in, an event or
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
from typing import TYPE_CHECKING

from alerts.digest import DIGEST_NAMESPACE
from alerts.message import Message
from monitor.config.channels import Channel
from monitor.eventlog.events import DigestAssembled, FeedHealthChanged

if TYPE_CHECKING:  # the annotation only: this module stays free of the database
    from monitor.readmodels.feeds import FeedState

HEALTH_RULE = "feed-health"


def health_change(state: FeedState, url: str, threshold: int) -> FeedHealthChanged | None:
    """The change a feed's state calls for: failing after ``threshold`` failures, recovered
    at the first success after that; None when nothing changed."""
    failures = state.consecutive_failures
    if state.health == "ok" and failures >= threshold:
        return FeedHealthChanged(
            feed=state.feed,
            url=url,
            state="failing",
            failures=failures,
            category=state.last_error_category,
            message=state.last_error_message,
        )
    if state.health == "failing" and failures == 0:
        return FeedHealthChanged(feed=state.feed, url=url, state="recovered", failures=0)
    return None


def health_subject(change: FeedHealthChanged) -> str:
    if change.state == "failing":
        return (
            f"feed {change.feed} is failing: {change.failures} failed polls in a row"
            f" ({change.category}: {change.message})"
        )[:200]
    return f"feed {change.feed} has recovered"


def health_message(
    channel: str,
    parts: Mapping[str, str],
    change: FeedHealthChanged,
    digest_id: str,
    created_at: datetime,
) -> Message:
    """The alert for ``channel``, in each of its ``parts`` (message part -> template kind):
    the same words as plain text, HTML, our JSON payload or a Slack body, by template kind."""
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
    html = "".join(f"<p>{escape(line)}</p>" for line in lines if line)
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
    forms = {
        "html": f"<!doctype html><html><body>{html}</body></html>",
        "json": json.dumps(payload, ensure_ascii=False),
        "slack": json.dumps({"text": subject}, ensure_ascii=False),
    }
    return Message(
        digest_id=digest_id,
        rule=HEALTH_RULE,
        channel=channel,
        subject=subject,
        documents=0,
        # A template kind that names no form of its own (Markdown, plain text) gets the text.
        parts={part: forms.get(_FORM.get(kind, "text"), text) for part, kind in parts.items()},
        created_at=created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


# Template kind -> the form of the alert that suits it.
_FORM = {"email_html": "html", "file_html": "html", "webhook": "json", "slack": "slack"}


def health_digest(
    channel: Channel,
    parts: Mapping[str, str],
    change: FeedHealthChanged,
    seq: int,
    created_at: datetime,
) -> DigestAssembled:
    """The outbox entry that carries one health alert to one channel."""
    key = f"{HEALTH_RULE}\x1f{channel.name}\x1f{change.feed}\x1f{change.state}\x1f{seq}"
    digest_id = str(uuid.uuid5(DIGEST_NAMESPACE, key))
    message = health_message(channel.name, parts, change, digest_id, created_at)
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
