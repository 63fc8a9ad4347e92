"""Documents against the compiled rules: which rules match, with terms and snippets (pure).

Parsing workers match the documents they normalise, so matching uses every
core too. The active :class:`Matcher` is set in the parent before the worker
processes fork, and they inherit it: ten thousand compiled rules are never
pickled per task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.documents.shapes import Document
from monitor.rules.analysed import Analysis
from monitor.rules.analysis import analyse
from monitor.rules.lexicon import Lexicon
from monitor.rules.ruleset import RuleSet
from monitor.rules.snippets import build_snippets
from monitor.rules.word_terms import Hit

MAX_TERMS = 50


@dataclass(frozen=True, slots=True)
class Match:
    rule: str
    rule_version: int
    terms: list[dict[str, Any]]
    snippets: list[dict[str, Any]]


class Matcher:
    def __init__(self, ruleset: RuleSet, lexicon: Lexicon) -> None:
        self.ruleset = ruleset
        self.lexicon = lexicon

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


_active: Matcher | None = None


def activate(matcher: Matcher | None) -> None:
    """Make ``matcher`` the one used by this process and by workers forked after this."""
    global _active
    _active = matcher


def active() -> Matcher | None:
    return _active
