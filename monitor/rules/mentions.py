"""The mentions of each concept that count in one document, checked when first asked for
(pure).

:func:`monitor.rules.analysis.analyse` finds, for the whole document, the words that may
name each concept; the checks of :mod:`monitor.rules.ambiguity` (capitals, cues, names of
persons, exclusions, false friends) then run for a concept only when a rule asks about it,
since a document names many concepts that no rule watches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from monitor.rules.ambiguity import Refusal, false_friend, why_not
from monitor.rules.analysed import Analysis, Mention
from monitor.rules.lexicon import Lexicon


class Mentions(Mapping[str, list[Mention]]):
    """Concept -> its mentions that count. The words that may name each concept are found
    for the whole document; the checks of :mod:`monitor.rules.ambiguity` run for a concept
    when it is first asked for, since most concepts a document names no rule asks about."""

    def __init__(
        self, analysis: Analysis, lexicon: Lexicon, found: dict[str, list[Mention]]
    ) -> None:
        self._analysis = analysis
        self._lexicon = lexicon
        self._found = found
        self._kept: dict[str, list[Mention]] = {}
        self._covered: dict[int, list[Mention]] | None = None
        self._capitals: dict[int, str] = {}

    def candidates(self) -> Iterable[str]:
        """Every concept some word may name, before the checks (for the presearch)."""
        return self._found.keys()

    def get(self, concept: str, default: Any = None) -> Any:
        kept = self._kept.get(concept)
        if kept is None:
            mentions = self._found.get(concept)
            if mentions is None:
                return default
            kept = self._kept[concept] = self._check(concept, mentions)
        return kept or default

    def __getitem__(self, concept: str) -> list[Mention]:
        kept: list[Mention] | None = self.get(concept)
        if kept is None:
            raise KeyError(concept)
        return kept

    def __iter__(self) -> Iterator[str]:
        return (concept for concept in list(self._found) if self.get(concept))

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def _check(self, concept: str, mentions: list[Mention]) -> list[Mention]:
        analysis, lexicon = self._analysis, self._lexicon
        if self._covered is None:
            self._covered = _covered(self._found)
            self._capitals = {
                m.position: name
                for name, found in self._found.items()
                for m in found
                if m.hit.category == "capital"
            }
        kept: list[Mention] = []
        refused: dict[tuple[int, int], tuple[Mention, Refusal]] = {}
        # Sorting is stable: the meanings of one word keep the order they are tried in.
        for mention in sorted(mentions, key=lambda m: (m.position, -m.length)):
            place = (mention.position, mention.length)
            if kept and (kept[-1].position, kept[-1].length) == place:
                continue  # an earlier meaning of this word already counts
            refusal = why_not(analysis, lexicon, mention, self._capitals, self._covered)
            if refusal is None:
                kept.append(mention)
                refused.pop(place, None)
            else:
                refused.setdefault(place, (mention, refusal))
        analysis.dropped.extend((m, refusal.reason) for m, refusal in refused.values())
        kept = _after_persons(analysis, kept, list(refused.values()))
        friend = false_friend(analysis, lexicon, concept)
        if friend is not None:
            gone = [m for m in kept if friend.drops(analysis.folded[m.position])]
            analysis.dropped.extend((m, f"false friend: {friend.description}") for m in gone)
            kept = [m for m in kept if m not in gone]
        return kept


def _after_persons(
    analysis: Analysis, kept: list[Mention], refused: list[tuple[Mention, Refusal]]
) -> list[Mention]:
    """A word the document uses once as a person's name ("Michael Jordan") is the person
    wherever else it stands alone in it ("Jordan scored 30"), as a reader takes it."""
    people = {analysis.folded[m.position] for m, refusal in refused if refusal.throughout}
    if not people:
        return kept
    alone = [m for m in kept if m.length == 1 and analysis.folded[m.position] in people]
    analysis.dropped.extend((m, "the document uses this word for something else") for m in alone)
    return [m for m in kept if m not in alone]


def _covered(found: dict[str, list[Mention]]) -> dict[int, list[Mention]]:
    """Position -> the names of several words that cover it."""
    covered: dict[int, list[Mention]] = defaultdict(list)
    for mentions in found.values():
        for mention in mentions:
            if mention.length > 1:
                for position in range(mention.position, mention.position + mention.length):
                    covered[position].append(mention)
    return covered
