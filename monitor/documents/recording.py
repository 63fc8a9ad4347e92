"""Where documents meet the log: plan against what is stored, append, project.

One call is one transaction: the documents of one poll (or one seed file),
the poll's own event, and the projection rows they produce commit together
or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.documents.plan import Plan, Previous, plan_documents
from monitor.documents.shapes import Document
from monitor.eventlog.events import Event, RuleMatched
from monitor.eventlog.log import EventLog
from monitor.eventlog.store import Store
from monitor.readmodels.tables import (
    Projector,
    document_texts,
    documents_table,
    known_documents,
    matched_pairs,
)
from monitor.rules.matcher import Match

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Recorded:
    new: int
    revised: int
    unchanged: int
    duplicates: int
    matched: int = 0
    # rule -> new matches recorded for it
    by_rule: tuple[tuple[str, int], ...] = ()


class Recorder:
    """Records batches of documents and source events on one store."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self.store = store
        self.log = EventLog()
        self.projector = Projector(self.log)
        self.clock = clock

    def record(
        self,
        documents: Sequence[Document],
        summary: Callable[[Plan], Sequence[Event]] = lambda plan: (),
        matches: Mapping[str, Sequence[Match]] | None = None,
    ) -> Recorded:
        """Append the events ``documents`` add, then ``summary(plan)`` (e.g. the poll's event).

        ``matches`` (document_id -> rules it matches) adds the RuleMatched events.
        """
        with self.store.transaction() as conn:
            known = _known(conn, documents)
            already = matched_pairs(conn, known) if matches else set()
            plan = plan_documents(documents, known, matches, already)
            events = [*plan.events, *summary(plan)]
            self.append_in(conn, events, expected=plan.expected)
        by_rule = Counter(e.rule for e in plan.events if isinstance(e, RuleMatched))
        return Recorded(
            plan.new,
            plan.revised,
            plan.unchanged,
            plan.duplicates,
            plan.matched,
            tuple(sorted(by_rule.items())),
        )

    def append(self, events: Sequence[Event]) -> None:
        """Append events that carry no documents, and project them."""
        with self.store.transaction() as conn:
            self.append_in(conn, events)

    def append_in(
        self,
        conn: Connection,
        events: Sequence[Event],
        *,
        expected: Mapping[str, int] | None = None,
    ) -> None:
        """Append and project ``events`` in the caller's transaction (which read what
        decided them, so the decision and its record commit together)."""
        stored = self.log.append_stored(conn, events, expected=expected, now=self.clock())
        self.projector.apply_appended(conn, stored)

    def catch_up(self) -> int:
        with self.store.transaction() as conn:
            return self.projector.catch_up(conn)


def _known(conn: Connection, documents: Sequence[Document]) -> dict[str, Previous]:
    hashes = known_documents(conn, (d.document_id for d in documents))
    changed = [
        d.document_id
        for d in documents
        if d.document_id in hashes and hashes[d.document_id] != d.content_hash
    ]
    known = {doc_id: Previous(digest) for doc_id, digest in hashes.items()}
    if changed:
        # Revisions are rare: fetch the old title and text only for them, to name what changed.
        column = documents_table.c
        query = sa.select(column.document_id, column.title).where(column.document_id.in_(changed))
        texts = document_texts(conn, changed)
        for doc_id, title in conn.execute(query):
            known[doc_id] = Previous(hashes[doc_id], title, texts.get(doc_id))
    return known
