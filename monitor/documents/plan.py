"""Deciding what a batch of documents adds to the log (pure).

A document whose id is new becomes ``DocumentIngested``; a known id whose
content hash changed becomes ``DocumentRevised``; a known id with the same
hash adds nothing. When a source lists the same id twice in one batch, the
first occurrence wins (feeds list newest first) and the rest count as
duplicates. Each rule a new or revised document matches adds ``RuleMatched``
right after it, unless that rule already matched the document: a revision
never matches twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from monitor.documents.shapes import Document
from monitor.eventlog.events import (
    DocumentIngested,
    DocumentRevised,
    Event,
    PublishedDate,
    RuleMatched,
)
from monitor.rules.matcher import Match


@dataclass(frozen=True, slots=True)
class Previous:
    """What the store knows of a document, enough to tell a revision from a repeat."""

    content_hash: str
    title: str | None = None
    text: str | None = None


@dataclass(slots=True)
class Plan:
    events: list[Event] = field(default_factory=list)
    new: int = 0
    revised: int = 0
    unchanged: int = 0
    duplicates: int = 0
    matched: int = 0
    # A new document's stream must not exist yet, so two writers cannot both add it.
    expected: dict[str, int] = field(default_factory=dict)


def plan_documents(
    documents: Sequence[Document],
    known: Mapping[str, Previous],
    matches: Mapping[str, Sequence[Match]] | None = None,
    already: AbstractSet[tuple[str, str]] = frozenset(),
) -> Plan:
    """The events ``documents`` add, given what is ``known`` (document_id -> Previous).

    ``matches`` maps a document id to the rules it matches; ``already`` holds the
    (rule, document_id) pairs matched before.
    """
    plan = Plan()
    matches = matches or {}
    seen: set[str] = set()
    for document in documents:
        if document.document_id in seen:
            plan.duplicates += 1
            continue
        seen.add(document.document_id)
        previous = known.get(document.document_id)
        if previous is None:
            plan.events.append(_ingested(document))
            plan.expected[f"document:{document.document_id}"] = 0
            plan.new += 1
        elif previous.content_hash != document.content_hash:
            plan.events.append(_revised(document, previous))
            plan.revised += 1
        else:
            plan.unchanged += 1
            continue
        for match in matches.get(document.document_id, ()):
            if (match.rule, document.document_id) not in already:
                plan.events.append(rule_matched(document, match))
                plan.matched += 1
    return plan


def rule_matched(document: Document, match: Match, *, backfill: bool = False) -> RuleMatched:
    return RuleMatched(
        rule=match.rule,
        rule_version=match.rule_version,
        document_id=document.document_id,
        source=document.source,
        url=document.url,
        title=document.title,
        language=document.language,
        published=_published(document),
        snippets=match.snippets,
        terms=match.terms,
        backfill=backfill,
    )


def _published(document: Document) -> PublishedDate:
    return PublishedDate(**document.published.as_dict())


def _fields(document: Document) -> dict[str, Any]:
    """The document's fields that every document event carries."""
    return {
        "document_id": document.document_id,
        "source": document.source,
        "url": document.url,
        "title": document.title,
        "text": document.text,
        "language": document.language,
        "published": _published(document),
        "content_hash": document.content_hash,
        "author": document.author,
    }


def _ingested(document: Document) -> DocumentIngested:
    return DocumentIngested(**_fields(document), identity=document.identity)


def _revised(document: Document, previous: Previous) -> DocumentRevised:
    changed = []
    if previous.title is not None and previous.title != document.title:
        changed.append("title")
    if previous.text is None or previous.text != document.text:
        changed.append("text")
    return DocumentRevised(
        **_fields(document), changed=changed, previous_hash=previous.content_hash
    )
