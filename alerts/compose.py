"""A digest turned into what its channel sends: a subject and rendered parts (pure).

Which templates a channel uses is decided here, once, so that the start-up
check renders exactly the templates a channel will need and nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alerts.digest import Digest, MatchedDocument
from alerts.message import Message
from alerts.rendering import Renderer
from monitor.config.settings import (
    AppriseChannel,
    EmailChannel,
    FileChannel,
    WebhookChannel,
)

Channel = FileChannel | WebhookChannel | EmailChannel | AppriseChannel
SUBJECT_LIMIT = 200


def template_parts(channel: Channel) -> dict[str, str]:
    """Message part -> template kind (see :data:`alerts.rendering.TEMPLATES`)."""
    if isinstance(channel, FileChannel):
        return {"file": "file_html" if channel.format == "html" else "file_markdown"}
    if isinstance(channel, EmailChannel):
        return {"text": "email_text", "html": "email_html"}
    if isinstance(channel, WebhookChannel):
        return {"body": "slack" if channel.format == "slack" else "webhook"}
    return {"markdown": "apprise"}


def template_kinds(channel: Channel) -> tuple[str, ...]:
    return ("subject", *template_parts(channel).values())


def file_extension(channel: FileChannel) -> str:
    return "html" if channel.format == "html" else "md"


def compose(channel: Channel, digest: Digest, renderer: Renderer, created_at: datetime) -> Message:
    """Render ``digest`` for ``channel``; template errors propagate (they were checked at start)."""
    subject = " ".join(renderer.render("subject", digest).split())
    if len(subject) > SUBJECT_LIMIT:
        subject = subject[: SUBJECT_LIMIT - 1].rstrip() + "…"
    parts = {part: renderer.render(kind, digest) for part, kind in template_parts(channel).items()}
    return Message(
        digest_id=digest.digest_id,
        rule=digest.rule,
        channel=digest.channel,
        subject=subject,
        documents=digest.documents,
        parts=parts,
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
