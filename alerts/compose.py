"""A digest turned into what its channel sends: a subject and rendered parts (pure).

Which templates a channel uses is its kind's to say (``alerts/channels/<type>.py``,
``parts``): the caller hands them in, so the start-up check renders exactly the
templates a channel will need, and this module knows no channel type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from alerts.digest import Digest, MatchedDocument
from alerts.message import Message
from alerts.rendering import Renderer

SUBJECT_LIMIT = 200


def compose(
    parts: Mapping[str, str], digest: Digest, renderer: Renderer, created_at: datetime
) -> Message:
    """Render ``digest`` into ``parts`` (message part -> template kind, see
    :data:`alerts.rendering.TEMPLATES`); template errors propagate (checked at start)."""
    subject = " ".join(renderer.render("subject", digest).split())
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 1].rstrip() + "…"
    rendered = {part: renderer.render(kind, digest) for part, kind in parts.items()}
    return Message(
        digest_id=digest.digest_id,
        rule=digest.rule,
        channel=digest.channel,
        subject=subject,
        documents=digest.documents,
        parts=rendered,
        created_at=created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


def _document(doc: MatchedDocument) -> dict[str, Any]:
    return {
        "document_id": doc.document_id,
        "title": doc.title,
        "url": doc.url,
        "source": doc.source,
        "language": doc.language,
        "published": doc.published,
    }


def entries_json(digest: Digest) -> list[dict[str, Any]]:
    """The digest's stories as recorded in its event (what was shown, without the text)."""
    return [
        _document(entry.lead)
        | {
            "snippets": list(entry.lead.snippets),
            "copies": [_document(copy) for copy in entry.copies],
        }
        for entry in digest.entries
    ]
