"""What a query would catch among stored documents: the rule editor's preview, the search
page, the API's ``/preview`` and ``monitor rules test``.

The search index gives the candidates, newest first (:mod:`monitor.search.index`); the
exact matcher, the one rules run with, decides on each, so a preview says what the rule
would have matched, word for word. Candidates are read newest first until ``budget``
seconds are spent (the console asks for a fraction of a second; ``rules test`` for no
limit). When the budget runs out before the last candidate, the total and the counts per
language and source are estimates from the share of candidates that matched so far, and
``exact`` is False; the documents shown are always exact matches, the newest ones.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from monitor.documents.shapes import Document
from monitor.eventlog.store import Store
from monitor.readmodels.documents import count_documents, documents_in_order, newest_ids
from monitor.rules.analysis import analyse
from monitor.rules.lexicon import Lexicon
from monitor.rules.matcher import Match, Matcher
from monitor.rules.ruleset import CompiledRule, RuleSet, compile_query
from monitor.search import index
from monitor.search.keys import document_tokens, query_tokens

CHUNK = 100  # candidates loaded per query
# Seconds of exact matching a console preview spends before it estimates the rest: the
# first matches show within it, and typing stays responsive (bench/preview.py).
CONSOLE_BUDGET = 0.25


@dataclass
class Preview:
    query: str
    total: int
    exact: bool  # False: the budget ran out, total and counts are estimates
    candidates: int  # documents the index proposed (every stored one for an unindexable query)
    verified: int  # of which the matcher read so far
    matches: list[tuple[Document, Match]] = field(default_factory=list)
    languages: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)
    indexed: bool = True  # False: the query has no index key, every document was read
    elapsed_ms: float = 0.0


class Searcher:
    """Previews over one store with one lexicon (the console keeps one for its lifetime)."""

    def __init__(self, store: Store, lexicon: Lexicon, fingerprint: str) -> None:
        self.store = store
        self.lexicon = lexicon
        self.fingerprint = fingerprint

    def tokenise(self, title: str, text: str, language: str) -> str:
        return document_tokens(analyse(title, text, language, self.lexicon))

    def catch_up(self, progress: index.Progress | None = None) -> int:
        """File what the index lacks (the daemon files what it records; this the rest)."""
        return index.catch_up(self.store, self.fingerprint, self.tokenise, progress=progress)

    def rebuild(self, progress: index.Progress | None = None) -> int:
        """Drop the index and file every stored document again (``monitor replay``)."""
        return index.rebuild(self.store, self.fingerprint, self.tokenise, progress=progress)

    def compile(self, query: str) -> CompiledRule:
        """The query compiled as a rule (raises :class:`QueryError` with its position)."""
        return compile_query(query, self.lexicon, name="preview")

    def preview(self, query: str, *, limit: int = 20, budget: float | None = None) -> Preview:
        started = time.perf_counter()
        compiled = self.compile(query)
        self.catch_up()
        matcher = Matcher(RuleSet.build([compiled]), self.lexicon)
        tokens = query_tokens(compiled)
        with self.store.reading() as conn:
            ids = index.candidates(conn, tokens)
            total = count_documents(conn) if ids is None else len(ids)
            result = Preview(query, 0, True, total, 0, indexed=ids is not None)
            matched, languages, sources = 0, Counter[str](), Counter[str]()
            for document in _documents(conn, ids):
                result.verified += 1
                found = matcher.match(document)
                if found:
                    matched += 1
                    languages[document.language] += 1
                    sources[document.source] += 1
                    if len(result.matches) < limit:
                        result.matches.append((document, found[0]))
                if budget is not None and time.perf_counter() - started > budget:
                    break
        result.exact = result.verified == result.candidates
        scale = 1.0 if result.exact or not result.verified else result.candidates / result.verified
        result.total = round(matched * scale)
        result.languages = {k: round(v * scale) for k, v in languages.most_common()}
        result.sources = {k: round(v * scale) for k, v in sources.most_common()}
        result.elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
        return result


def _documents(conn: Connection, ids: Sequence[str] | None) -> Iterator[Document]:
    """The candidates in the order given (newest first), or every stored document newest
    first; loaded a chunk at a time, so a preview that stops early read little."""
    if ids is None:
        ids = newest_ids(conn)
    for start in range(0, len(ids), CHUNK):
        yield from documents_in_order(conn, ids[start : start + CHUNK])
