"""Where documents meet the log: plan against what is stored, append, project.

One call is one transaction: the documents of one poll (or one seed file),
the poll's own event, and the projection rows they produce commit together
or not at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.documents.plan import Plan, Previous, plan_documents
from monitor.documents.shapes import Document
from monitor.eventlog.events import Event, RuleMatched
from monitor.eventlog.recorder import Recorder
from monitor.readmodels.documents import document_texts, known_documents
from monitor.readmodels.rules import matched_pairs
from monitor.readmodels.tables import documents_table
from monitor.rules.matcher import Match
from monitor.search.index import index_appended
from monitor.search.keys import IndexTexts


@dataclass(frozen=True, slots=True)
class Recorded:
    new: int
    revised: int
    unchanged: int
    duplicates: int
    matched: int = 0
    # rule -> new matches recorded for it
    by_rule: tuple[tuple[str, int], ...] = ()


def record_documents(
    recorder: Recorder,
    documents: Sequence[Document],
    summary: Callable[[Plan], Sequence[Event]] = lambda plan: (),
    matches: Mapping[str, Sequence[Match]] | None = None,
    index: IndexTexts | None = None,
) -> Recorded:
    """Append the events ``documents`` add, then ``summary(plan)`` (e.g. the poll's event).

    ``matches`` (document_id -> rules it matches) adds the RuleMatched events; ``index``
    (their search-index tokens) files them in the search index in the same transaction.
    """
    with recorder.store.transaction() as conn:
        known = _known(conn, documents)
        already = matched_pairs(conn, known) if matches else set()
        plan = plan_documents(documents, known, matches, already)
        events = [*plan.events, *summary(plan)]
        stored = recorder.append_in(conn, events, expected=plan.expected)
        index_appended(conn, stored, index)
    by_rule = Counter(e.rule for e in plan.events if isinstance(e, RuleMatched))
    return Recorded(
        plan.new,
        plan.revised,
        plan.unchanged,
        plan.duplicates,
        plan.matched,
        tuple(sorted(by_rule.items())),
    )


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
