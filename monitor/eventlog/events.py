"""Typed events: everything that happens is one of these, recorded in the log first.

Each class has a stable ``type_name`` (what the log stores; never a module
path, so code can move) and a ``schema_version``. A stored payload of an
older version is upcast on read by the chain in :data:`UPCASTERS`; stored
rows are never rewritten. When a payload changes shape: bump
``schema_version``, add an upcaster from the previous version, and add a
fixture of the old payload to ``tests/fixtures/events/``.

Streams group the events of one thing: ``document:<id>``, ``feed:<name>``,
``seed:<path>``, ``rule:<name>``, ``digest:<id>``, ``channel:<name>``. A stream's ``version`` counts its events from 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """Base of every event payload."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type_name: ClassVar[str]
    schema_version: ClassVar[int] = 1
    # The stream an event belongs to: its kind, and the field that names the thing.
    stream_of: ClassVar[tuple[str, str]]

    @property
    def stream(self) -> str:
        kind, key = self.stream_of
        return f"{kind}:{getattr(self, key)}"

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class PublishedDate(BaseModel):
    """A date with its precision (see :class:`monitor.documents.shapes.Published`)."""

    model_config = ConfigDict(frozen=True)

    value: str
    precision: str
    origin: str = "source"


class DocumentEvent(Event):
    """What every document event carries: the document as it now reads."""

    document_id: str
    source: str
    url: str | None
    title: str
    text: str
    language: str
    published: PublishedDate
    content_hash: str
    author: str | None = None

    stream_of: ClassVar[tuple[str, str]] = ("document", "document_id")


class DocumentIngested(DocumentEvent):
    type_name: ClassVar[str] = "DocumentIngested"

    # How the id was derived: "guid:…", "url:…" or "hash:…".
    identity: str


class DocumentRevised(DocumentEvent):
    """The same document (same id) arrived with a different title or text."""

    type_name: ClassVar[str] = "DocumentRevised"

    # The fields whose values differ from the previous version, e.g. ["title", "text"].
    changed: list[str]
    previous_hash: str


class FeedPolled(Event):
    type_name: ClassVar[str] = "FeedPolled"
    stream_of: ClassVar[tuple[str, str]] = ("feed", "feed")

    feed: str
    url: str
    status: int
    final_url: str
    format: str
    entries: int
    new: int
    revised: int
    unchanged: int
    elapsed: float
    etag: str | None = None
    last_modified: str | None = None
    # A recoverable problem with the feed (feedparser's bozo): its entries were still read.
    warning: str | None = None
    # Where a 301/308 on the way pointed, so the user can update config.toml.
    permanent_redirect: str | None = None
    # Entries past [fetch] max_entries that this poll left unread (later polls read them
    # while the feed still has them among its newest).
    dropped: int = 0


class FeedNotModified(Event):
    type_name: ClassVar[str] = "FeedNotModified"
    stream_of: ClassVar[tuple[str, str]] = ("feed", "feed")

    feed: str
    url: str
    status: int = 304
    elapsed: float
    etag: str | None = None
    last_modified: str | None = None


class FeedPollFailed(Event):
    type_name: ClassVar[str] = "FeedPollFailed"
    stream_of: ClassVar[tuple[str, str]] = ("feed", "feed")

    feed: str
    url: str
    # The HTTP status when the server answered, else None.
    status: int | None
    # dns, connect, tls, timeout, redirect, http, too_large, protocol, blocked, malformed
    category: str
    message: str
    elapsed: float
    # Seconds the server asked us to wait (429/503 Retry-After); the next poll waits as long.
    retry_after: float | None = None


class FeedHealthChanged(Event):
    """A feed started failing (``failures`` polls in a row) or recovered; alerts follow."""

    type_name: ClassVar[str] = "FeedHealthChanged"
    stream_of: ClassVar[tuple[str, str]] = ("feed", "feed")

    feed: str
    url: str
    state: str  # failing | recovered
    failures: int  # consecutive failed polls (when failing: the threshold reached)
    category: str | None = None
    message: str | None = None


class SeedFileFailed(Event):
    """A seed file could not be read; the other files still went in."""

    type_name: ClassVar[str] = "SeedFileFailed"
    stream_of: ClassVar[tuple[str, str]] = ("seed", "path")

    path: str
    # unreadable, undecodable, malformed, unsupported, too_large
    category: str
    message: str
    # Size and modification time of the file, so an unchanged broken file is reported once.
    fingerprint: str | None = None


class RuleDefined(Event):
    """A rule as configured: first seen, or changed (``version`` counts the definitions)."""

    type_name: ClassVar[str] = "RuleDefined"
    stream_of: ClassVar[tuple[str, str]] = ("rule", "rule")

    rule: str
    version: int
    query: str
    channels: list[str]
    schedule: str
    enabled: bool = True


class RuleRemoved(Event):
    """The rule is no longer in the configuration; its matches stay on record."""

    type_name: ClassVar[str] = "RuleRemoved"
    stream_of: ClassVar[tuple[str, str]] = ("rule", "rule")

    rule: str
    version: int


class RuleMatched(Event):
    type_name: ClassVar[str] = "RuleMatched"
    stream_of: ClassVar[tuple[str, str]] = ("rule", "rule")

    rule: str
    # The version of the rule's definition (RuleDefined.version) that made the match.
    rule_version: int
    document_id: str
    source: str
    url: str | None
    title: str
    language: str
    published: PublishedDate
    # Passages with the hits marked: {"field", "text", "highlights": [[start, end], ...]}.
    snippets: list[dict[str, Any]]
    # Which document word matched which rule term, and how:
    # {"term", "word", "field", "position", "via"}.
    terms: list[dict[str, Any]]
    # Recorded by `monitor rules backfill` for a document stored before the rule existed.
    backfill: bool = False


class DigestAssembled(Event):
    """A digest, recorded before any attempt to send it: the outbox's entry.

    It holds what was rendered, so every attempt (and a resend after a crash)
    sends the same bytes with the same id, whatever the templates say by then.
    """

    type_name: ClassVar[str] = "DigestAssembled"
    stream_of: ClassVar[tuple[str, str]] = ("digest", "digest_id")

    digest_id: str
    rule: str
    channel: str
    channel_type: str
    # The RuleMatched events the digest covers (shown, or counted in "more").
    matches: list[int]
    documents: list[str]
    # The stories shown: {"document_id", "title", "url", "source", "published", "copies": [...]}.
    entries: list[dict[str, Any]]
    more: int
    # alerts.message.Message as JSON: subject and rendered parts.
    message: dict[str, Any]


class DeliveryEvent(Event):
    digest_id: str
    rule: str
    channel: str

    stream_of: ClassVar[tuple[str, str]] = ("digest", "digest_id")


class DeliverySucceeded(DeliveryEvent):
    type_name: ClassVar[str] = "DeliverySucceeded"

    attempt: int
    status: int | None = None
    # Where it went: a file's path, the SMTP server's reply.
    detail: str = ""
    elapsed: float


class DeliveryFailed(DeliveryEvent):
    type_name: ClassVar[str] = "DeliveryFailed"

    attempt: int
    # timeout, connect, tls, http, gone, rejected, auth, smtp, io, config, protocol, internal
    category: str
    message: str
    status: int | None = None
    elapsed: float
    # When the next attempt is due (ISO 8601 UTC); None when there is none (abandoned, or the
    # channel is disabled).
    retry_at: str | None
    # Seconds the peer asked for (Retry-After), when it did.
    retry_after: float | None = None


class DeliveryAbandoned(DeliveryEvent):
    """The last attempt failed; the digest stays on record for `monitor deliveries retry`."""

    type_name: ClassVar[str] = "DeliveryAbandoned"

    attempts: int
    reason: str


class DeliveryRetryRequested(DeliveryEvent):
    """Someone asked for an abandoned (or waiting) digest to be tried again now."""

    type_name: ClassVar[str] = "DeliveryRetryRequested"

    previous_state: str


class ChannelDisabled(Event):
    """The channel's endpoint said it is gone (HTTP 410): nothing is sent until it changes."""

    type_name: ClassVar[str] = "ChannelDisabled"
    stream_of: ClassVar[tuple[str, str]] = ("channel", "channel")

    channel: str
    reason: str
    digest_id: str | None = None
    # A digest of the channel's destination (URL): a new destination enables it again.
    destination: str


class ChannelEnabled(Event):
    type_name: ClassVar[str] = "ChannelEnabled"
    stream_of: ClassVar[tuple[str, str]] = ("channel", "channel")

    channel: str
    reason: str
    destination: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        DocumentIngested,
        DocumentRevised,
        FeedPolled,
        FeedNotModified,
        FeedPollFailed,
        FeedHealthChanged,
        SeedFileFailed,
        RuleDefined,
        RuleRemoved,
        RuleMatched,
        DigestAssembled,
        DeliverySucceeded,
        DeliveryFailed,
        DeliveryAbandoned,
        DeliveryRetryRequested,
        ChannelDisabled,
        ChannelEnabled,
    )
}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
# (type_name, from_version) -> function returning the payload at from_version + 1.
UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcast(type_name: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` brought from ``schema_version`` to the current version of its type."""
    cls = EVENT_TYPES.get(type_name)
    if cls is None or schema_version == cls.schema_version:
        return data
    while schema_version < cls.schema_version:
        data = UPCASTERS[(type_name, schema_version)](data)
        schema_version += 1
    return data


def decode(type_name: str, schema_version: int, data: dict[str, Any]) -> Event:
    """The typed event for a stored row (upcast first)."""
    cls = EVENT_TYPES[type_name]
    return cls.model_validate(upcast(type_name, schema_version, data))


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the log; ``data`` is already upcast to the current schema.

    Projections fold these; it lives here, beside the events, so that a fold needs nothing
    of the database to be written or tested.
    """

    seq: int
    id: str
    type: str
    stream: str
    version: int
    recorded_at: datetime
    data: dict[str, Any]

    @property
    def event(self) -> Event:
        return decode(self.type, _CURRENT, self.data)

    def envelope(self) -> dict[str, Any]:
        """The JSON shape of ``monitor events --json`` (a contract: see DESIGN.md)."""
        return {
            "seq": self.seq,
            "id": self.id,
            "type": self.type,
            "stream": self.stream,
            "version": self.version,
            "recorded_at": self.recorded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "data": self.data,
        }


# ``StoredEvent.data`` is upcast on read, so decoding it again starts from the current version.
_CURRENT = 1 << 30
