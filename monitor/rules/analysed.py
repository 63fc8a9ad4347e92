"""A document as the matcher has read it: its words, what each names, and the mentions kept.

Built by :func:`monitor.rules.analysis.analyse`; rules are evaluated against it. Positions
number the title's tokens first, then the body's; ``title_length`` tells them apart (a NEAR
never spans the two).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from monitor.rules.lexicon import FormHit, Lexicon, Phrase
from monitor.rules.names import MIN_SKELETON, key_prefixes
from monitor.rules.text import Token, tokenize, words

Key = tuple[str, str]


class Mention(NamedTuple):
    """A tuple, not a frozen dataclass: documents hold thousands, made at C speed."""

    position: int
    hit: FormHit
    via: str  # form, diacritics, stem or lemma: how the document word was recognised
    length: int = 1  # words: a name of several words starts at ``position``


@dataclass(frozen=True, slots=True)
class WordInfo:
    """Everything the matcher needs about one folded word in one language (cached)."""

    stripped: str
    lemma: str | None
    stem: str | None  # Snowball, in the document's language
    hits: tuple[FormHit, ...]
    via: str  # how ``hits`` were found: form, diacritics, stem or lemma
    # Its name key (:func:`monitor.rules.names.name_key`), and in a script that writes few
    # vowels its consonants: how a rule's name finds it in other spellings and scripts.
    name: str = ""
    consonants: str = ""
    # The multi-word names it can start, found by its form, stem or lemma.
    starts: tuple[tuple[tuple[Phrase, ...], str], ...] = ()


@dataclass
class Analysis:
    language: str
    title: str
    text: str
    title_length: int
    folded: list[str]
    info: dict[str, WordInfo]
    lexicon: Lexicon = field(repr=False)
    # Concept -> its mentions that count (analysis.Mentions: checked when first asked for).
    mentions: Mapping[str, list[Mention]] = field(default_factory=dict)
    # Mentions that did not count, and why (for `monitor rules explain`).
    dropped: list[tuple[Mention, str]] = field(default_factory=list)
    # The hits of each rule term in this document, shared by the rules that use the term.
    memo: dict[Any, Any] = field(default_factory=dict)
    # Name-key prefix (or "#" and consonants) -> the words with it that some rule's name
    # wants: filled by the rule set's presearch.
    named: tuple[frozenset[str], dict[str, list[str]]] | None = None
    _tokens: list[Token] | None = None
    _positions: dict[str, list[int]] | None = None
    _words: list[str] | None = None

    @property
    def positions(self) -> dict[str, list[int]]:
        """word -> its positions (:func:`analysis.analyse` gives them; built when not)."""
        if self._positions is None:
            self._positions = positions_of(self.folded)
        return self._positions

    def where(self, word: str) -> list[int]:
        """The positions of one word."""
        return self.positions.get(word) or []

    @property
    def words(self) -> list[str]:
        """Every token as written (title first); read only where case or display matters."""
        if self._words is None:
            self._words = words(self.title) + words(self.text)
        return self._words

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

    def words_with_stem(self, stem: str) -> list[str]:
        """Document words (folded) whose stem in the document's language is ``stem``."""
        seen = self.lexicon.stem_forms.get(self.language, {}).get(stem, ())
        return [word for word in seen if word in self.info]

    def words_named(self, stem: str, consonants: str) -> list[str]:
        """Document words whose name key may be ``stem`` with an ending, or whose consonants
        are ``consonants``. The rule set's presearch has found them already (``named``);
        without it (one rule, explained), every word is looked at."""
        if self.named is not None:
            known, named = self.named
            # Consonants too few to compare are never indexed, nor needed (names.MIN_SKELETON).
            if stem in known and ("#" + consonants in known or len(consonants) < MIN_SKELETON):
                return named.get(stem, []) + named.get("#" + consonants, [])
        return [
            word
            for word, details in self.info.items()
            if (details.consonants and details.consonants == consonants)
            or (not details.consonants and stem in key_prefixes(details.name))
        ]

    def words_stripped_to(self, plain: str) -> list[str]:
        """Document words (folded) that read ``plain`` without diacritics."""
        return [word for word in self.lexicon.plain_forms.get(plain, ()) if word in self.info]


def positions_of(folded: list[str]) -> dict[str, list[int]]:
    """word -> the positions it stands at."""
    positions: dict[str, list[int]] = {}
    for index, word in enumerate(folded):
        where = positions.get(word)
        if where is None:
            positions[word] = [index]
        else:
            where.append(index)
    return positions
