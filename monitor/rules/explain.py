"""Why a document did or did not match a rule, term by term and word by word (pure)."""

from __future__ import annotations

from monitor.rules.analysed import Analysis
from monitor.rules.ruleset import (
    CompiledRule,
    ConceptTerm,
    Group,
    Term,
    children,
    describe,
    evaluate,
)
from monitor.rules.word_terms import WordTerm


def explain(rule: CompiledRule, doc: Analysis) -> list[str]:
    """Lines of text: the verdict, then the query tree with each term's evidence."""
    verdict = "MATCHES" if evaluate(rule.root, doc) is not None else "DOES NOT MATCH"
    lines = [f"{verdict}: {rule.query}", f"document language: {doc.language}"]
    _walk(rule.root, doc, 0, lines, title_only=False)
    return lines


def _walk(term: Term, doc: Analysis, depth: int, lines: list[str], *, title_only: bool) -> None:
    hits = evaluate(term, doc, title_only=title_only)
    mark = "✓" if hits is not None else "✗"
    indent = "  " * depth
    lines.append(f"{indent}{mark} {describe(term)}")
    if isinstance(term, Group):
        inner_title = title_only or term.op == "title"
        for child in children(term):
            _walk(child, doc, depth + 1, lines, title_only=inner_title)
        if term.op == "lang":
            lines.append(f"{indent}    the document is in {doc.language!r}")
        return
    for hit in hits or ():
        word = doc.words[hit.position]
        origin = f" [{hit.origin}]" if hit.origin else ""
        lines.append(
            f"{indent}    {word!r} ({doc.field_of(hit.position)}, word {hit.position}): "
            f"{hit.via}{origin}"
        )
    if hits is None:
        lines.extend(f"{indent}    {reason}" for reason in _misses(term, doc))


def _misses(term: Term, doc: Analysis) -> list[str]:
    if isinstance(term, ConceptTerm):
        dropped = [(m, why) for m, why in doc.dropped if m.hit.concept in term.concepts]
        if not dropped:
            return ["no form of this concept in the document (any language)"]
        return [
            f"{doc.words[m.position]!r} ({doc.field_of(m.position)}, word {m.position}) "
            f"not counted: {why}"
            for m, why in dropped
        ]
    if isinstance(term, WordTerm):
        ways = ["as written"]
        language = doc.language
        if term.inflections.get(language):
            ways.append(f"in its {language} inflections")
        stem = term.stems.get(language)
        if stem:
            ways.append(f"by its {language} stem {stem!r}")
        if term.name:
            ways.append(f"as a name in other spellings and scripts ({term.name}…)")
        return [f"no word {term.word!r} in the document: looked for it {', '.join(ways)}"]
    return ["not found in the document"]
