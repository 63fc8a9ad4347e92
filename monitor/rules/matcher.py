"""Documents against the compiled rules: which rules match, with terms and snippets (pure).

Parsing workers match the documents they normalise, so matching uses every
core too. The active :class:`Matcher` is set in the parent before the worker
processes fork, and they inherit it: ten thousand compiled rules are never
pickled per task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from monitor.documents.shapes import Document
from monitor.rules.analysed import Analysis
from monitor.rules.analysis import analyse
from monitor.rules.lexicon import Lexicon
from monitor.rules.ruleset import RuleSet
from monitor.rules.snippets import build_snippets
from monitor.rules.word_terms import Hit
from monitor.search.keys import IndexTexts, document_tokens

MAX_TERMS = 50


@dataclass(frozen=True, slots=True)
class Match:
    rule: str
    rule_version: int
    terms: list[dict[str, Any]]
    snippets: list[dict[str, Any]]


class Matcher:
    def __init__(self, ruleset: RuleSet, lexicon: Lexicon, fingerprint: str = "") -> None:
        self.ruleset = ruleset
        self.lexicon = lexicon
        # The lexicon's fingerprint (rulebook.lexicon_fingerprint): the search index made
        # from this matcher's analyses is valid for it alone.
        self.fingerprint = fingerprint

    def analyse(self, document: Document) -> Analysis:
        return analyse(document.title, document.text, document.language, self.lexicon)

    def match(self, document: Document) -> list[Match]:
        if not self.ruleset.rules:
            return []
        doc = self.analyse(document)
        return [
            Match(rule.name, rule.version, describe_hits(doc, hits), build_snippets(doc, hits))
            for rule, hits in self.ruleset.match(doc)
        ]

    def read(self, document: Document) -> tuple[list[Match], str]:
        """The rules ``document`` matches and its search-index tokens, from one analysis."""
        doc = self.analyse(document)
        found = [
            Match(rule.name, rule.version, describe_hits(doc, hits), build_snippets(doc, hits))
            for rule, hits in self.ruleset.match(doc)
        ]
        return found, document_tokens(doc)


def describe_hits(doc: Analysis, hits: list[Hit]) -> list[dict[str, Any]]:
    """Which document word matched which rule term, and how (for the event and `explain`)."""
    seen: dict[tuple[str, int], dict[str, Any]] = {}
    for hit in hits:
        seen.setdefault(
            (hit.term, hit.position),
            {
                "term": hit.term,
                "word": doc.words[hit.position],
                "field": doc.field_of(hit.position),
                "position": hit.position,
                "via": hit.via,
                "origin": hit.origin,
            },
        )
    return sorted(seen.values(), key=lambda t: (t["position"], t["term"]))[:MAX_TERMS]


def match_documents(
    documents: Sequence[Document],
) -> tuple[dict[str, list[Match]], IndexTexts | None]:
    """The active rules' matches for ``documents``, and their search-index tokens from the
    same analysis (runs in a worker process, like parsing)."""
    matcher = active()
    if matcher is None:
        return {}, None
    matches, texts = {}, {}
    for document in documents:
        found, texts[document.document_id] = matcher.read(document)
        if found:
            matches[document.document_id] = found
    return matches, IndexTexts(matcher.fingerprint, texts)


_active: Matcher | None = None


def activate(matcher: Matcher | None) -> None:
    """Make ``matcher`` the one used by this process and by workers forked after this."""
    global _active
    _active = matcher


def active() -> Matcher | None:
    return _active
