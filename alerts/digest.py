"""One digest: the matches of a rule not yet delivered to a channel, as entries (pure).

Newest first (by publication date, then by when they matched). Near-duplicate
stories become one entry that lists every source (:mod:`alerts.dedupe`). A
cap bounds the entries a reader gets; the rest are summed up honestly ("and N
more") and count as delivered, so a backlog never grows without end. A
document already delivered to the channel for the rule is never in a digest
again. The digest id is derived from what the digest covers, so assembling
the same digest twice (after a crash) gives the same id, and receivers can
recognise a resend.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

# uuid5 namespace for digest ids (fixed: ids must not change between releases).
DIGEST_NAMESPACE = uuid.UUID("6b1f0c52-4f1e-4d3e-9a53-0e7c2b9d8a11")


@dataclass(frozen=True, slots=True)
class MatchedDocument:
    """One match waiting for a channel: what a digest shows of it."""

    seq: int  # the RuleMatched event
    document_id: str
    title: str
    url: str | None
    source: str
    language: str
    published: str  # ISO 8601 cut to its precision, so it sorts as text
    snippets: tuple[dict[str, Any], ...]
    text: str = ""  # for near-duplicate grouping only; never rendered


@dataclass(frozen=True, slots=True)
class Entry:
    """A story: its newest copy, and the same story from other sources."""

    lead: MatchedDocument
    copies: tuple[MatchedDocument, ...] = ()

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(d.source for d in (self.lead, *self.copies)))


@dataclass(frozen=True, slots=True)
class Digest:
    digest_id: str
    rule: str
    channel: str
    entries: tuple[Entry, ...]
    more: int  # entries left out by the cap
    seqs: tuple[int, ...]  # every RuleMatched event the digest covers, shown or not

    @property
    def documents(self) -> int:
        return len(self.seqs)


def build_digest(
    rule: str,
    channel: str,
    pending: Sequence[MatchedDocument],
    *,
    delivered: AbstractSet[str] = frozenset(),
    cap: int = 50,
) -> Digest | None:
    """The digest of ``pending`` for (rule, channel), or None when nothing is left to send."""
    fresh: dict[str, MatchedDocument] = {}
    for match in pending:
        if match.document_id not in delivered:
            fresh.setdefault(match.document_id, match)  # one document, one match
    if not fresh:
        return None
    newest = sorted(fresh.values(), key=lambda m: (m.published, m.seq), reverse=True)
    by_id = {m.document_id: m for m in newest}
    # numpy, which grouping uses, loads with the first digest: `monitor status` never needs it.
    from alerts.dedupe import group_near_duplicates

    groups = group_near_duplicates([(m.document_id, f"{m.title}\n{m.text}") for m in newest])
    entries = [
        Entry(by_id[str(group[0])], tuple(by_id[str(key)] for key in group[1:])) for group in groups
    ]
    seqs = tuple(sorted(m.seq for m in newest))
    return Digest(
        digest_id=digest_id(rule, channel, seqs),
        rule=rule,
        channel=channel,
        entries=tuple(entries[:cap]),
        more=max(len(entries) - cap, 0),
        seqs=seqs,
    )


def digest_id(rule: str, channel: str, seqs: Sequence[int]) -> str:
    """A stable id for the digest of these matches on this channel."""
    return str(uuid.uuid5(DIGEST_NAMESPACE, f"{rule}\x1f{channel}\x1f{','.join(map(str, seqs))}"))
