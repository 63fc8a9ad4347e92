"""``monitor rules backfill``: a rule's matches among documents stored before it existed.

The matches are ``RuleMatched`` events with ``backfill: true``, recorded in
batches; a document the rule already matched is left alone, so running a
backfill twice records nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from monitor.config.settings import Settings
from monitor.documents.plan import rule_matched
from monitor.documents.shapes import Document
from monitor.eventlog.events import Event
from monitor.eventlog.recorder import Recorder
from monitor.readmodels.documents import stored_documents
from monitor.readmodels.rules import matched_pairs
from monitor.rules.matcher import Matcher
from monitor.rules.rulebook import lexicon_for, sync_rules
from monitor.rules.ruleset import RuleSet, compile_query

BATCH = 500


@dataclass(slots=True)
class BackfillReport:
    documents: int = 0
    matched: int = 0
    already: int = 0


def backfill(
    recorder: Recorder,
    settings: Settings,
    rule: str,
    *,
    since: datetime | None = None,
    on_document: Callable[[], None] | None = None,
) -> BackfillReport:
    recorder.catch_up()
    versions = sync_rules(recorder, settings.rules)
    configured = next(r for r in settings.rules if r.name == rule)
    lexicon = lexicon_for(settings)
    compiled = compile_query(configured.query, lexicon, name=rule, version=versions[rule])
    matcher = Matcher(RuleSet.build([compiled]), lexicon)
    report = BackfillReport()
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with recorder.store.reading() as conn:
        chunk: list[Document] = []
        for document in stored_documents(conn, since=since):
            chunk.append(document)
            if len(chunk) == BATCH:
                _record_chunk(recorder, conn, matcher, rule, chunk, report, on_document)
                chunk = []
        _record_chunk(recorder, conn, matcher, rule, chunk, report, on_document)
    return report


def _record_chunk(
    recorder: Recorder,
    conn: Connection,
    matcher: Matcher,
    rule: str,
    chunk: list[Document],
    report: BackfillReport,
    on_document: Callable[[], None] | None,
) -> None:
    already = matched_pairs(conn, (d.document_id for d in chunk))
    events: list[Event] = []
    for document in chunk:
        report.documents += 1
        if on_document is not None:
            on_document()
        for match in matcher.match(document):
            if (rule, document.document_id) in already:
                report.already += 1
            else:
                events.append(rule_matched(document, match, backfill=True))
    report.matched += len(events)
    recorder.append(events)
