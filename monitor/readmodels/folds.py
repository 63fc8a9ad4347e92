"""How each of the pipeline's read models follows the log (pure: rows and events in, rows out).

A fold takes a projection's previous row (None for a new key) and the next
event, and returns the row after it (None: leave the table as it is). They run
in the projector, and on their own in tests.
"""

from __future__ import annotations

from typing import Any

from monitor.eventlog.events import StoredEvent

Row = dict[str, Any]


# The documents columns that a document event's payload fills, by path into the payload.
# One table serves both the Python fold and the bulk SQL of a rebuild (BulkCreate), so the
# two cannot drift apart.
DOCUMENT_FIELDS: dict[str, tuple[str, ...]] = {
    "document_id": ("document_id",),
    "source": ("source",),
    "url": ("url",),
    "title": ("title",),
    "language": ("language",),
    "published": ("published", "value"),
    "published_precision": ("published", "precision"),
    "published_origin": ("published", "origin"),
    "content_hash": ("content_hash",),
    "author": ("author",),
}
INGESTED_FIELDS = DOCUMENT_FIELDS | {"identity": ("identity",)}


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data


def fold_document(row: Row | None, event: StoredEvent) -> Row | None:
    """The documents row after ``event``."""
    data = event.data
    if event.type == "DocumentIngested" or row is None:
        values = {column: _dig(data, path) for column, path in INGESTED_FIELDS.items()}
        return values | {
            "revisions": 0,
            "first_seq": event.seq,
            "last_seq": event.seq,
            "ingested_at": event.recorded_at,
            "revised_at": None,
        }
    values = {column: _dig(data, path) for column, path in DOCUMENT_FIELDS.items()}
    return (
        row
        | values
        | {
            "last_seq": event.seq,
            "revisions": row["revisions"] + 1,
            "revised_at": event.recorded_at,
        }
    )


def fold_feed(row: Row | None, event: StoredEvent) -> Row | None:
    """The feed_state row after a poll event."""
    data = event.data
    if event.type == "FeedHealthChanged":
        if row is None:
            return None  # health follows polls; without a poll there is no row to mark
        health = "failing" if data["state"] == "failing" else "ok"
        return row | {"health": health, "last_seq": event.seq}
    previous = row or {
        "feed": data["feed"],
        "health": "ok",
        "etag": None,
        "last_modified": None,
        "last_success_at": None,
        "consecutive_failures": 0,
        "retry_after": None,
        "polls": 0,
        "documents": 0,
    }
    common = {
        "url": data["url"],
        "last_status": data.get("status"),
        "last_polled_at": event.recorded_at,
        "polls": previous["polls"] + 1,
        "last_seq": event.seq,
    }
    if event.type == "FeedPollFailed":
        return (
            previous
            | common
            | {
                "last_outcome": "failed",
                "consecutive_failures": previous["consecutive_failures"] + 1,
                "retry_after": data.get("retry_after"),
                "last_error_category": data["category"],
                "last_error_message": data["message"],
            }
        )
    success = {
        "last_success_at": event.recorded_at,
        "consecutive_failures": 0,
        "retry_after": None,
        "last_error_category": None,
        "last_error_message": None,
    }
    if event.type == "FeedNotModified":
        # A 304 may carry fresh validators; when it does not, the old ones still hold.
        return (
            previous
            | common
            | success
            | {
                "last_outcome": "not_modified",
                "etag": data.get("etag") or previous["etag"],
                "last_modified": data.get("last_modified") or previous["last_modified"],
            }
        )
    return (
        previous
        | common
        | success
        | {
            "last_outcome": "polled",
            "etag": data.get("etag"),
            "last_modified": data.get("last_modified"),
            "documents": previous["documents"] + data["new"],
        }
    )


def fold_rule(row: Row | None, event: StoredEvent) -> Row | None:
    """The rules row after a rule event (definitions, removals and the match count)."""
    data = event.data
    if event.type == "RuleMatched":
        return None if row is None else row | {"matches": row["matches"] + 1}
    if event.type == "RuleRemoved":
        return None if row is None else row | {"removed": True, "last_seq": event.seq}
    since = row["channel_since"] if row and not row["removed"] else {}
    return {
        "rule": data["rule"],
        "version": data["version"],
        "query": data["query"],
        "channels": list(data["channels"]),
        "channel_since": {c: since.get(c, event.seq) for c in data["channels"]},
        "schedule": data["schedule"],
        "enabled": data.get("enabled", True),
        "removed": False,
        "matches": row["matches"] if row else 0,
        "defined_at": event.recorded_at,
        "last_seq": event.seq,
    }


def match_key(rule: str, document_id: str) -> str:
    return f"{rule}/{document_id}"


def fold_match(row: Row | None, event: StoredEvent) -> Row | None:
    data = event.data
    if row is not None:
        return row  # the first match of a (rule, document) pair is the one on record
    return {
        "match_id": match_key(data["rule"], data["document_id"]),
        "rule": data["rule"],
        "document_id": data["document_id"],
        "rule_version": data["rule_version"],
        "backfill": data.get("backfill", False),
        "seq": event.seq,
        "matched_at": event.recorded_at,
    }
