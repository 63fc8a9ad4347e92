"""What a channel sends and what it reports back (pure data, shared by every channel).

A :class:`Message` is rendered once, when its digest is assembled, and is
stored in the digest's event; every attempt sends those same bytes, so a
retry (or a resend after a crash) is identical to the first try and carries
the same id. An :class:`Outcome` is what one attempt learnt: channels never
raise for a failed delivery, they say why it failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Message:
    digest_id: str  # the webhook-id, the Message-ID's local part, part of a file's name
    rule: str
    channel: str
    subject: str  # "armenia-azerbaijan: 3 new matches"
    documents: int  # how many matches the digest covers
    # Rendered bodies by part: "text" and "html" (email), "body" (webhook JSON),
    # "markdown" (apprise, file), "file" (the file channel's document).
    parts: Mapping[str, str] = field(default_factory=dict)
    created_at: str = ""  # ISO 8601 UTC, when the digest was assembled (names the file)

    def to_json(self) -> dict[str, Any]:
        return {
            "digest_id": self.digest_id,
            "rule": self.rule,
            "channel": self.channel,
            "subject": self.subject,
            "documents": self.documents,
            "parts": dict(self.parts),
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        return cls(
            digest_id=str(data["digest_id"]),
            rule=str(data["rule"]),
            channel=str(data["channel"]),
            subject=str(data["subject"]),
            documents=int(data["documents"]),
            parts={str(k): str(v) for k, v in dict(data.get("parts", {})).items()},
            created_at=str(data.get("created_at", "")),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one delivery attempt."""

    ok: bool
    # On failure: timeout, connect, tls, http, gone, rejected, auth, io, config, internal.
    category: str = ""
    message: str = ""  # one line a person can act on; never a secret
    status: int | None = None  # HTTP status or SMTP reply code, when there was one
    retry_after: float | None = None  # seconds the peer asked us to wait (429/503 Retry-After)
    disable: bool = False  # the peer says the endpoint is gone for good (HTTP 410)
    detail: str = ""  # on success: where it went (a file path, a server's queue id)

    @classmethod
    def success(cls, detail: str = "", status: int | None = None) -> Outcome:
        return cls(ok=True, detail=detail, status=status)

    @classmethod
    def failure(cls, category: str, message: str, **extra: Any) -> Outcome:
        return cls(ok=False, category=category, message=message, **extra)
