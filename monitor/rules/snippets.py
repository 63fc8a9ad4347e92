"""Passages around the words a rule matched, with the hits marked (pure).

A snippet is ``{"field": "title"|"body", "text": "…", "highlights": [[start, end], …]}``:
plain text plus character ranges, so each template marks them up in its own
way (HTML escapes the text first, plain text wraps the ranges in brackets).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.rules.analysed import Analysis
from monitor.rules.word_terms import Hit

CONTEXT = 80  # characters on each side of a hit
MAX_SNIPPETS = 3


def build_snippets(doc: Analysis, hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """Up to ``MAX_SNIPPETS`` passages; hits close together share one."""
    snippets: list[dict[str, Any]] = []
    spans: list[tuple[str, int, int]] = []
    for position in sorted({hit.position for hit in hits}):
        token = doc.tokens[position]
        field = doc.field_of(position)
        spans.append((field, token.start, token.end))
    for field, group in _groups(spans):
        text = doc.title if field == "title" else doc.text
        start = max(group[0][0] - CONTEXT, 0)
        end = min(group[-1][1] + CONTEXT, len(text))
        start, end = _word_bounds(text, start, end)
        prefix = "…" if start > 0 else ""
        suffix = "…" if end < len(text) else ""
        passage = " ".join(text[start:end].split())
        highlights = _relocate(text, start, passage, group, len(prefix))
        snippets.append(
            {"field": field, "text": prefix + passage + suffix, "highlights": highlights}
        )
        if len(snippets) == MAX_SNIPPETS:
            break
    return snippets


def _groups(spans: list[tuple[str, int, int]]) -> list[tuple[str, list[tuple[int, int]]]]:
    groups: list[tuple[str, list[tuple[int, int]]]] = []
    for field, start, end in spans:
        if groups and groups[-1][0] == field and start - groups[-1][1][-1][1] <= CONTEXT:
            groups[-1][1].append((start, end))
        else:
            groups.append((field, [(start, end)]))
    return groups


def _word_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen to whole words, so a passage never starts or ends mid-word."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def _relocate(
    text: str, start: int, passage: str, group: list[tuple[int, int]], shift: int
) -> list[list[int]]:
    """The hits' ranges inside ``passage`` (whitespace was collapsed, so search for them)."""
    ranges, cursor = [], 0
    for hit_start, hit_end in group:
        word = text[hit_start:hit_end]
        found = passage.find(word, cursor)
        if found < 0:
            continue
        ranges.append([shift + found, shift + found + len(word)])
        cursor = found + len(word)
    return ranges


def mark(snippet: dict[str, Any], before: str = "[", after: str = "]") -> str:
    """The snippet's text with each highlight wrapped in ``before``/``after``."""
    text, cursor = snippet["text"], 0
    out: list[str] = []
    for start, end in snippet["highlights"]:
        out.extend((text[cursor:start], before, text[start:end], after))
        cursor = end
    out.append(text[cursor:])
    return "".join(out)
