"""How the outbox's read models follow the log (pure: rows and events in, rows out)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.eventlog.events import StoredEvent

Row = dict[str, Any]
PENDING, DELIVERED, ABANDONED = "pending", "delivered", "abandoned"
STATES = (PENDING, DELIVERED, ABANDONED)


def _stamp(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def fold_delivery(row: Row | None, event: StoredEvent) -> Row | None:
    """The deliveries row after a digest or delivery event."""
    data = event.data
    if event.type == "DigestAssembled":
        return {
            "digest_id": data["digest_id"],
            "rule": data["rule"],
            "channel": data["channel"],
            "channel_type": data["channel_type"],
            "state": PENDING,
            "documents": len(data["documents"]),
            "entries": len(data["entries"]),
            "more": data["more"],
            "subject": data["message"]["subject"],
            "attempts": 0,
            "total_attempts": 0,
            "created_at": event.recorded_at,
            "next_attempt_at": event.recorded_at,
            "last_attempt_at": None,
            "delivered_at": None,
            "last_category": None,
            "last_error": None,
            "last_status": None,
            "assembled_seq": event.seq,
            "last_seq": event.seq,
        }
    if row is None:
        return None  # a delivery event without its digest: nothing to attach it to
    step = {"last_seq": event.seq}
    if event.type == "DeliverySucceeded":
        return (
            row
            | step
            | _attempted(row, event)
            | {
                "state": DELIVERED,
                "delivered_at": event.recorded_at,
                "next_attempt_at": None,
                "last_status": data.get("status"),
                "last_category": None,
                "last_error": None,
            }
        )
    if event.type == "DeliveryFailed":
        return (
            row
            | step
            | _attempted(row, event)
            | {
                "next_attempt_at": _stamp(data.get("retry_at")),
                "last_status": data.get("status"),
                "last_category": data["category"],
                "last_error": data["message"],
            }
        )
    if event.type == "DeliveryAbandoned":
        return row | step | {"state": ABANDONED, "next_attempt_at": None}
    if event.type == "DeliveryRetryRequested":
        return row | step | {"state": PENDING, "attempts": 0, "next_attempt_at": event.recorded_at}
    return row


def _attempted(row: Row, event: StoredEvent) -> Row:
    return {
        "attempts": row["attempts"] + 1,
        "total_attempts": row["total_attempts"] + 1,
        "last_attempt_at": event.recorded_at,
    }


def item_key(rule: str, channel: str, document_id: str) -> str:
    return f"{rule}/{channel}/{document_id}"


def digest_items(event: StoredEvent) -> Iterable[Row]:
    data = event.data
    for document_id, seq in zip(data["documents"], data["matches"], strict=True):
        yield {
            "item_id": item_key(data["rule"], data["channel"], document_id),
            "rule": data["rule"],
            "channel": data["channel"],
            "document_id": document_id,
            "digest_id": data["digest_id"],
            "match_seq": seq,
        }


def fold_channel(row: Row | None, event: StoredEvent) -> Row | None:
    data = event.data
    return {
        "channel": data["channel"],
        "disabled": event.type == "ChannelDisabled",
        "reason": data["reason"],
        "destination": data["destination"],
        "changed_at": event.recorded_at,
        "last_seq": event.seq,
    }
