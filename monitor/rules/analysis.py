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
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from monitor.rules.lemmas import lemma
from monitor.rules.lexicon import FormHit, Lexicon
from monitor.rules.text import (
    Token,
    fold,
    has_unspaced_script,
    is_capitalised,
    strip_diacritics,
    tokenize,
    words,
)

CUE_WINDOW = 5
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Mention:
    position: int
    hit: FormHit
    via: str  # "form", "diacritics" or "lemma": how the document word was recognised


@dataclass(frozen=True, slots=True)
class WordInfo:
    """Everything the matcher needs about one folded word in one language (cached)."""

    stripped: str
    lemma: str | None
    keys: frozenset[Key]
    hits: tuple[FormHit, ...]
    via: str  # how ``hits`` were found: form, diacritics or lemma


@dataclass
class Analysis:
    language: str
    title: str
    text: str
    title_length: int
    folded: list[str]
    info: dict[str, WordInfo]
    lexicon: Lexicon = field(repr=False)
    mentions: dict[str, list[Mention]] = field(default_factory=dict)
    # Mentions that did not count, and why (for `monitor rules explain`).
    dropped: list[tuple[Mention, str]] = field(default_factory=list)
    # The hits of each rule term in this document, shared by the rules that use the term.
    memo: dict[Any, Any] = field(default_factory=dict)
    _tokens: list[Token] | None = None
    _positions: dict[str, list[int]] | None = None
    _words: list[str] | None = None

    @property
    def positions(self) -> dict[str, list[int]]:
        """word -> its positions; built on first use, most documents never need all of it."""
        if self._positions is None:
            positions: dict[str, list[int]] = {}
            for index, word in enumerate(self.folded):
                where = positions.get(word)
                if where is None:
                    positions[word] = [index]
                else:
                    where.append(index)
            self._positions = positions
        return self._positions

    def where(self, word: str) -> list[int]:
        """The positions of one word (the index is built on the first question)."""
        if word not in self.info:
            return []
        return self.positions[word]

    @property
    def words(self) -> list[str]:
        """Every token as written (title first); read only where case or display matters."""
        if self._words is None:
            found = words(self.title) + words(self.text)
            # Folding splits a word in two only for rare characters; then fold token by token.
            self._words = found if len(found) == len(self.folded) else self._refold(found)
        return self._words

    def _refold(self, found: list[str]) -> list[str]:
        self.folded = [fold(word) for word in found]
        return found

    @property
    def tokens(self) -> list[Token]:
        """Tokens with their character offsets; only snippets and explanations need them."""
        if self._tokens is None:
            self._tokens = tokenize(self.title) + tokenize(self.text)
        return self._tokens

    def field_of(self, position: int) -> str:
        return "title" if position < self.title_length else "body"

    def same_field(self, a: int, b: int) -> bool:
        return (a < self.title_length) == (b < self.title_length)

    def lemma_of(self, word: str) -> str | None:
        return self.info[word].lemma

    def stripped_of(self, word: str) -> str:
        return self.info[word].stripped

    def words_with_lemma(self, root: str) -> list[str]:
        """Document words (folded) whose lemma is ``root``, other than ``root`` itself."""
        seen = self.lexicon.lemma_forms.get(self.language, {}).get(root, ())
        return [word for word in seen if word in self.info]

    def words_stripped_to(self, plain: str) -> list[str]:
        """Document words (folded) that read ``plain`` without diacritics."""
        return [word for word in self.lexicon.plain_forms.get(plain, ()) if word in self.info]


def analyse(title: str, text: str, language: str, lexicon: Lexicon) -> Analysis:
    """Read a document once; every rule is then evaluated against the result."""
    folded_title = words(_fold_text(title))
    folded = folded_title + words(_fold_text(text))
    cache = lexicon.word_cache.setdefault(language, {})
    info = {word: cache.get(word) or word_info(lexicon, word, language) for word in set(folded)}
    analysis = Analysis(
        language=language,
        title=title,
        text=text,
        title_length=len(folded_title),
        folded=folded,
        info=info,
        lexicon=lexicon,
    )
    _find_mentions(analysis, lexicon)
    return analysis


def _fold_text(text: str) -> str:
    """A whole field folded at once (C speed) rather than word by word, as :func:`fold` does."""
    return unicodedata.normalize("NFC", text.casefold().replace("\u0307", ""))


def word_info(lexicon: Lexicon, word: str, language: str) -> WordInfo:
    """What ``word`` (folded) is in ``language``: cached on the lexicon, words repeat a lot."""
    cache = lexicon.word_cache.setdefault(language, {})
    found: WordInfo | None = cache.get(word)
    if found is not None:
        return found
    if len(cache) > 200_000:
        cache.clear()
        lexicon.lemma_forms.pop(language, None)
        lexicon.plain_forms.clear()
    plain = strip_diacritics(word)
    root = lemma(word, language)
    if root == word:
        # Dictionaries list proper nouns capitalised: "Azerbejdżanu", not "azerbejdżanu".
        root = lemma(word.capitalize(), language) or root
    keys = {("w", word), ("p", word[:2]), ("p", word[:3])}
    if plain != word:
        keys.add(("s", plain))
    if root is not None and root != word:
        keys.add(("w", root))
    hits, by_stripping = lexicon.lookup(word)
    via = "diacritics" if by_stripping else "form"
    if not hits and root is not None:
        hits, via = lexicon.forms.get(root, ()), "lemma"
    found = WordInfo(plain, root, frozenset(keys), _best_hits(hits, language), via)
    cache[word] = found
    # Every word seen, filed under its lemma and its plain form, so a rule word finds its
    # other forms in a document without the document building indexes of its own.
    if root is not None and root != word:
        lexicon.lemma_forms.setdefault(language, {}).setdefault(root, set()).add(word)
    if plain != word:
        lexicon.plain_forms.setdefault(plain, set()).add(word)
    return found


_CATEGORY_ORDER = {"name": 0, "demonym": 1, "adjective": 2, "compound": 3, "alias": 4, "capital": 5}


def _best_hits(hits: tuple[FormHit, ...], language: str) -> tuple[FormHit, ...]:
    """One meaning per concept: the one in the document's language first ("Armenii" is the
    Polish genitive of Armenia before it is the Romanian for "the Armenians")."""
    ranked = sorted(
        hits,
        key=lambda h: (language not in h.languages, _CATEGORY_ORDER.get(h.category, 9)),
    )
    best: dict[str, FormHit] = {}
    for hit in ranked:
        best.setdefault(hit.concept, hit)
    return tuple(best.values())


def _find_mentions(analysis: Analysis, lexicon: Lexicon) -> None:
    found: dict[str, list[Mention]] = defaultdict(list)
    for word, details in analysis.info.items():
        for hit in details.hits:
            found[hit.concept].extend(Mention(p, hit, details.via) for p in analysis.where(word))
    if lexicon.unspaced and has_unspaced_script(analysis.title + analysis.text):
        _find_unspaced(analysis, lexicon, found)
    if not found:
        return
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
    index = lexicon.exclusion_index.get(mention.hit.concept, {})
    phrase = _excluded(analysis, index, mention.position)
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
    if not is_capitalised(analysis.words[position]):
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
    analysis: Analysis, index: dict[str, list[tuple[tuple[str, ...], int]]], position: int
) -> tuple[str, ...] | None:
    folded = analysis.folded
    for phrase, offset in index.get(folded[position], ()):
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
        for start in analysis.where(phrase[0]) if phrase else ():
            if tuple(folded[start : start + len(phrase)]) == phrase:
                return True
    return False
