"""A document read once for every rule: tokens, lemmas, concept mentions, presearch keys.

Positions number the title's tokens first, then the body's; ``title_length``
tells them apart (a NEAR never spans the two). Concept mentions pass three
checks before they count (see README, "How ambiguous names are decided"):

- a **capital** stands for its state only when it is capitalised and a cue
  word (authorities, said, talks, …) or another state's capital is within
  ``CUE_WINDOW`` words: "Yerevan accuses Baku", "władze w Erywaniu", but not
  "the chess World Cup in Baku" or Polish "baku" (a fuel tank);
- a mention inside an **exclusion** phrase names something else ("East
  Azerbaijan" is a province of Iran);
- a **false friend** is dropped when the document has its context words and
  none of its ``unless`` words ("Armenia, Quindío" in a text about Colombia).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field

from monitor.rules.lemmas import lemma
from monitor.rules.lexicon import FormHit, Lexicon
from monitor.rules.text import (
    Token,
    fold,
    has_unspaced_script,
    is_capitalised,
    strip_diacritics,
    tokenize,
)

CUE_WINDOW = 5
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Mention:
    position: int
    hit: FormHit
    via: str  # "form", "diacritics" or "lemma": how the document word was recognised


@dataclass
class Analysis:
    language: str
    title: str
    text: str
    tokens: list[Token]
    title_length: int
    folded: list[str]
    positions: dict[str, list[int]]
    lemmas: dict[str, str]  # folded token -> lemma (where the language has lemmas)
    stripped: dict[str, str]
    mentions: dict[str, list[Mention]] = field(default_factory=dict)
    # Mentions that did not count, and why (for `monitor rules explain`).
    dropped: list[tuple[Mention, str]] = field(default_factory=list)
    keys: set[Key] = field(default_factory=set)

    def field_of(self, position: int) -> str:
        return "title" if position < self.title_length else "body"

    def same_field(self, a: int, b: int) -> bool:
        return (a < self.title_length) == (b < self.title_length)


def analyse(title: str, text: str, language: str, lexicon: Lexicon) -> Analysis:
    """Read a document once; every rule is then evaluated against the result."""
    title_tokens, body_tokens = tokenize(title), tokenize(text)
    tokens = title_tokens + body_tokens
    folded = [fold(token.text) for token in tokens]
    positions: dict[str, list[int]] = defaultdict(list)
    for index, word in enumerate(folded):
        positions[word].append(index)
    analysis = Analysis(
        language=language,
        title=title,
        text=text,
        tokens=tokens,
        title_length=len(title_tokens),
        folded=folded,
        positions=positions,
        lemmas={},
        stripped={},
    )
    keys = analysis.keys
    for word, where in positions.items():
        plain = strip_diacritics(word)
        analysis.stripped[word] = plain
        keys.update((("w", word), ("s", plain), ("p", word[:2]), ("p", word[:3])))
        root = lemma(word, language)
        original = tokens[where[0]].text
        if root == word and original != word:
            # Dictionaries list proper nouns capitalised: "Azerbejdżanu", not "azerbejdżanu".
            root = lemma(original, language) or root
        if root is not None:
            analysis.lemmas[word] = root
            keys.add(("w", root))
    _find_mentions(analysis, lexicon)
    keys.update(("c", concept) for concept in analysis.mentions)
    return analysis


def _find_mentions(analysis: Analysis, lexicon: Lexicon) -> None:
    found: dict[str, list[Mention]] = defaultdict(list)
    for word, where in analysis.positions.items():
        hits, by_stripping = lexicon.lookup(word)
        via = "diacritics" if by_stripping else "form"
        if not hits and word in analysis.lemmas:
            hits, via = lexicon.forms.get(analysis.lemmas[word], ()), "lemma"
        for hit in hits:
            found[hit.concept].extend(Mention(p, hit, via) for p in where)
    if lexicon.unspaced and has_unspaced_script(analysis.title + analysis.text):
        _find_unspaced(analysis, lexicon, found)
    capitals = {
        m.position: concept
        for concept, mentions in found.items()
        for m in mentions
        if m.hit.category == "capital"
    }
    for concept, mentions in found.items():
        kept = []
        for mention in sorted(mentions, key=lambda m: m.position):
            reason = _why_not(analysis, lexicon, mention, capitals)
            if reason is None:
                kept.append(mention)
            else:
                analysis.dropped.append((mention, reason))
        friend = _false_friend(analysis, lexicon, concept)
        if friend is not None:
            analysis.dropped.extend((m, f"false friend: {friend}") for m in kept)
        elif kept:
            analysis.mentions[concept] = kept


def _why_not(
    analysis: Analysis, lexicon: Lexicon, mention: Mention, capitals: dict[int, str]
) -> str | None:
    if mention.hit.category == "capital" and not _stands_for_state(
        analysis, lexicon, mention, capitals
    ):
        return "a capital with no cue word or other capital nearby: the city, not the state"
    phrase = _excluded(analysis, lexicon.exclusions.get(mention.hit.concept, ()), mention.position)
    if phrase is not None:
        return f"inside the phrase {' '.join(phrase)!r}, which names something else"
    return None


def _find_unspaced(analysis: Analysis, lexicon: Lexicon, found: dict[str, list[Mention]]) -> None:
    """Chinese, Japanese and Thai forms, found as substrings of the tokens that hold them."""
    fields = (
        (analysis.title, 0, analysis.title_length),
        (analysis.text, analysis.title_length, len(analysis.tokens)),
    )
    for text, first, last in fields:
        if first == last:
            continue
        starts = [token.start for token in analysis.tokens[first:last]]
        haystack = text.casefold()
        for form, hit in lexicon.unspaced:
            blocked = _unspaced_exclusions(haystack, lexicon.exclusions.get(hit.concept, ()))
            for index in _occurrences(haystack, form):
                if any(low <= index < high for low, high in blocked):
                    continue  # inside a phrase that names something else
                token = max(bisect.bisect_right(starts, index) - 1, 0)
                found[hit.concept].append(Mention(first + token, hit, "form"))


def _occurrences(haystack: str, needle: str) -> list[int]:
    found, index = [], haystack.find(needle)
    while index >= 0:
        found.append(index)
        index = haystack.find(needle, index + len(needle))
    return found


def _unspaced_exclusions(
    haystack: str, phrases: tuple[tuple[str, ...], ...]
) -> list[tuple[int, int]]:
    """Character spans of exclusion phrases written without spaces ("伊朗东阿塞拜疆省")."""
    spans: list[tuple[int, int]] = []
    for phrase in phrases:
        joined = "".join(phrase)
        if has_unspaced_script(joined):
            spans.extend((i, i + len(joined)) for i in _occurrences(haystack, joined))
    return spans


def _stands_for_state(
    analysis: Analysis, lexicon: Lexicon, mention: Mention, capitals: dict[int, str]
) -> bool:
    position = mention.position
    if not is_capitalised(analysis.tokens[position].text):
        return False
    low, high = max(position - CUE_WINDOW, 0), position + CUE_WINDOW + 1
    for other in range(low, min(high, len(analysis.folded))):
        if other == position or not analysis.same_field(other, position):
            continue
        if analysis.folded[other] in lexicon.cues:
            return True
        if capitals.get(other, mention.hit.concept) != mention.hit.concept:
            return True  # "Baku and Yerevan": two capitals together stand for their states
    return False


def _excluded(
    analysis: Analysis, phrases: tuple[tuple[str, ...], ...], position: int
) -> tuple[str, ...] | None:
    folded = analysis.folded
    for phrase in phrases:
        for offset in range(len(phrase)):
            start = position - offset
            if start >= 0 and tuple(folded[start : start + len(phrase)]) == phrase:
                return phrase
    return None


def _false_friend(analysis: Analysis, lexicon: Lexicon, concept: str) -> str | None:
    """The description of the false friend the document's context points to, if any."""
    for friend in lexicon.false_friends.get(concept, ()):
        if _has_any(analysis, friend.context) and not _has_any(analysis, friend.unless):
            return friend.description
    return None


def _has_any(analysis: Analysis, phrases: tuple[tuple[str, ...], ...]) -> bool:
    folded = analysis.folded
    for phrase in phrases:
        for start in analysis.positions.get(phrase[0], ()) if phrase else ():
            if tuple(folded[start : start + len(phrase)]) == phrase:
                return True
    return False
