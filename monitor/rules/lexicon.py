"""The concept lexicon: which words, in which languages, name the same thing (pure).

Compiled from the concept registry by :mod:`monitor.rules.lexicon_build`: every form of
every concept, keyed by its casefolded text, with a second table without diacritics as a
fallback, the multi-word names by their first word, per language the Snowball stems of
the names, adjectives and demonyms, and the data of the ambiguity checks. Here: what it
holds, and how a query word resolves against it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.rules.text import fold, has_case, strip_diacritics

# The form categories a query word may name a concept by; a capital never does ("Baku"
# in a rule means the city), it only counts for the state as a metonym in documents.
NAMING = frozenset({"name", "demonym", "adjective", "compound", "alias", "acronym"})
# Categories that are names: in a script with capitals, written with one.
PROPER = frozenset({"name", "alias", "acronym", "capital"})
GENERATED_ORIGINS = frozenset({"morfeusz2", "pymorphy3", "rule:uk"})


@dataclass(frozen=True, slots=True)
class FormHit:
    """One meaning of a word form: a concept, the kind of form, its languages, its source."""

    concept: str
    category: str
    languages: frozenset[str]
    origin: str
    # An inflection generated for its languages ("Chin", the Polish genitive of Chiny):
    # it counts only in documents of those languages (it is English "chin").
    restricted: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """A name of several words: each word's forms, in order, and what the whole names."""

    slots: tuple[frozenset[str], ...]
    hit: FormHit


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A phrase in which the concept's name names something else ("Chicken Kiev")."""

    words: tuple[str, ...]  # folded tokens
    languages: frozenset[str] = frozenset()  # empty: every language
    # Only at the start of a sentence: Italian "Nato a Roma" (born in Rome), where the
    # capital comes from the sentence, against "la Nato a Vilnius".
    sentence_start: bool = False
    # The phrase decides what the word means in the whole document ("Michael Jordan": then
    # "Jordan scored 30" is him too).
    throughout: bool = False


@dataclass(frozen=True, slots=True)
class FalseFriend:
    description: str
    # Folded token sequences; a token ending in "*" is a prefix ("eyalet*").
    context: tuple[tuple[str, ...], ...]
    unless: tuple[tuple[str, ...], ...]
    languages: frozenset[str] = frozenset()  # empty: every language
    # The folded forms it drops (empty: every mention of the concept; a final "*" makes a
    # prefix): "Georgia" near Atlanta is the state, "Gruzja" in the same text the country.
    forms: frozenset[str] = frozenset()

    def drops(self, word: str) -> bool:
        """Whether a mention written ``word`` (folded) is the false friend's, in its context."""
        if not self.forms or word in self.forms:
            return True
        return any(form.endswith("*") and word.startswith(form[:-1]) for form in self.forms)


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    kind: str
    description: str
    label: str = ""
    capital: str | None = None
    country: str | None = None
    # The concept's forms that are also given names (folded: "jordan", "chad"): next to
    # another capitalised name they are a person's ("Jordan Henderson", "Michael Jordan").
    given_name: frozenset[str] = frozenset()
    # Languages in which the concept's names count even in lower case.
    lowercase: frozenset[str] = frozenset()
    lowercase_acronyms: frozenset[str] = frozenset()
    # Folded forms that count only in documents of a language that names the concept so:
    # "Georgia" in a Turkish or Dutch text is the US state (they say Gürcistan, Georgië).
    native_only: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()  # words the user took away from it (config.toml)


@dataclass
class Lexicon:
    concepts: dict[str, Concept] = field(default_factory=dict)
    # Mappings, not dicts: read from the cache, they decode an entry when it is asked for.
    forms: Mapping[str, tuple[FormHit, ...]] = field(default_factory=dict)
    stripped: Mapping[str, tuple[FormHit, ...]] = field(default_factory=dict)
    # first word (folded, each alternative) -> the multi-word names starting with it
    phrases: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)
    # language -> stem of the first word -> the multi-word names of that language, each slot
    # holding its words' stems: "der Europäischen Union", "Evropské unie", "Európai Unióban".
    phrase_stems: Mapping[str, Mapping[str, tuple[Phrase, ...]]] = field(default_factory=dict)
    # (way, id of a tuple of names) -> the words their second slots hold, filled in use.
    phrase_seconds: dict[tuple[str, int], dict[str, tuple[Phrase, ...]]] = field(
        default_factory=dict, repr=False
    )
    # The same for the lemmatised languages, built on first use in each (analysis.py).
    phrase_lemmas: dict[str, dict[str, tuple[Phrase, ...]]] = field(
        default_factory=dict, repr=False
    )
    # language -> stem -> the names, adjectives and demonyms of that language with that stem
    stems: Mapping[str, Mapping[str, tuple[FormHit, ...]]] = field(default_factory=dict)
    unspaced: list[tuple[str, FormHit]] = field(default_factory=list)
    exclusions: dict[str, tuple[Exclusion, ...]] = field(default_factory=dict)
    # concept -> word -> (exclusion, index of the word in it): a mention is only checked
    # against the exclusion phrases that contain its own word.
    exclusion_index: dict[str, dict[str, list[tuple[Exclusion, int]]]] = field(default_factory=dict)
    false_friends: dict[str, tuple[FalseFriend, ...]] = field(default_factory=dict)
    cues: frozenset[str] = frozenset()
    connectors: frozenset[str] = frozenset()
    removed: bool = False  # whether the user removed any word from a concept
    # language -> folded word -> analysis.WordInfo, filled as documents are read.
    word_cache: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    # language -> lemma -> folded words seen with it; plain form -> folded words seen with it.
    lemma_forms: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)
    plain_forms: dict[str, list[str]] = field(default_factory=dict, repr=False)
    # language -> Snowball stem -> folded words seen with it.
    stem_forms: dict[str, dict[str, list[str]]] = field(default_factory=dict, repr=False)
    # language -> the folded words seen that may name a concept or start a multi-word name:
    # a document's few such words are found at C speed, not by looking at every word.
    notable: dict[str, set[str]] = field(default_factory=dict, repr=False)
    # word as written -> folded (text.fold), for every language: one string per word.
    folds: dict[str, str] = field(default_factory=dict, repr=False)

    def phrases_in(self, language: str) -> Iterator[Phrase]:
        """The multi-word names that name something in ``language`` (a table read from the
        cache decodes only those)."""
        values_in = getattr(self.phrases, "values_in", None)
        tables = values_in(language) if values_in is not None else self.phrases.values()
        for found in tables:
            for phrase in found:
                if language in phrase.hit.languages:
                    yield phrase

    def lookup(self, word: str) -> tuple[tuple[FormHit, ...], bool]:
        """The meanings of ``word`` and whether they were found only without diacritics."""
        hits = self.forms.get(fold(word))
        if hits:
            return hits, False
        plain = strip_diacritics(word)
        return self.forms.get(plain) or self.stripped.get(plain, ()), True

    def resolve(self, word: str) -> frozenset[str]:
        """The concepts a query word names (by name, demonym, adjective, compound, acronym
        or alias), when it is written the way the concept's forms are: ``Turkey`` names
        the country, ``turkey`` the bird; ``NATO`` the alliance, ``nato`` the word."""
        hits, _ = self.lookup(word)
        return self._prefer_states(
            hit.concept
            for hit in hits
            if hit.category in NAMING and not hit.restricted and self._written_as(word, hit)
        )

    def _prefer_states(self, concepts: Iterable[str]) -> frozenset[str]:
        """A word that names a country or an organisation and also a city in some language
        (French "Mexico" is the city) means the country in a rule."""
        found = frozenset(concepts)
        cities = {c for c in found if c in self.concepts and self.concepts[c].kind == "city"}
        return found - cities if cities and len(cities) < len(found) else found

    def resolve_phrase(self, phrase: Iterable[str]) -> frozenset[str]:
        """The concepts a multi-word query phrase names (``"European Union"``)."""
        tokens = tuple(fold(word) for word in phrase)
        if len(tokens) == 1:
            return self.resolve(next(iter(phrase)))
        return self._prefer_states(
            candidate.hit.concept
            for candidate in self.phrases.get(tokens[0], ())
            if len(candidate.slots) == len(tokens)
            and all(token in slot for token, slot in zip(tokens, candidate.slots, strict=True))
            and candidate.hit.category in NAMING
        )

    def _written_as(self, word: str, hit: FormHit) -> bool:
        if hit.category not in PROPER or not has_case(word):
            return True
        if hit.category == "acronym":
            # "Nato" in a rule is NATO where the press of some language writes it so.
            concept = self.concepts.get(hit.concept)
            lenient = concept is not None and bool(concept.lowercase_acronyms)
            return word.isupper() or (lenient and word[:1].isupper())
        return word[:1].isupper()

    def forms_of(self, concept: str) -> list[tuple[str, FormHit]]:
        """Every single-word form of ``concept`` with its hit (for `monitor concepts show`)."""
        found = [
            (form, hit)
            for form, hits in self.forms.items()
            for hit in hits
            if hit.concept == concept
        ]
        found.extend(
            (" ".join(sorted(slot)[0] for slot in phrase.slots), phrase.hit)
            for phrases in self.phrases.values()
            for phrase in phrases
            if phrase.hit.concept == concept and phrases[0] is phrase
        )
        return sorted(found, key=lambda item: (item[1].category, item[0]))


def index_exclusions(lexicon: Lexicon) -> None:
    for concept, exclusions in lexicon.exclusions.items():
        index: dict[str, list[tuple[Exclusion, int]]] = defaultdict(list)
        for exclusion in exclusions:
            for offset, word in enumerate(exclusion.words):
                if not word.endswith("*"):
                    index[word].append((exclusion, offset))
        lexicon.exclusion_index[concept] = dict(index)
