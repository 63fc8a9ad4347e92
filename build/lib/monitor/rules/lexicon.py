"""The concept lexicon: which words, in which languages, name the same thing.

Reviewed data files in ``monitor/data/lexicon/`` (see the README there) list,
per concept and language, every form of the names, demonyms, adjectives,
compound stems and the capital; users add forms with ``[aliases]``. Loading
turns them into lookup tables keyed by casefolded form, with a second table
without diacritics as a fallback. Pure: the data files are read through
importlib.resources, the rest is computation.
"""

from __future__ import annotations

import functools
import tomllib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from monitor.rules.text import fold, has_unspaced_script, strip_diacritics, tokenize

# The form categories a query word may name a concept by; a capital never does ("Baku"
# in a rule means the city), it only counts for the state as a metonym in documents.
NAMING = frozenset({"name", "demonym", "adjective", "compound", "alias"})
CATEGORIES = {
    "names": "name",
    "demonyms": "demonym",
    "adjectives": "adjective",
    "compounds": "compound",
    "capital": "capital",
}


@dataclass(frozen=True, slots=True)
class FormHit:
    """One meaning of a word form: a concept, the kind of form, and its languages."""

    concept: str
    category: str
    languages: frozenset[str]


@dataclass(frozen=True, slots=True)
class FalseFriend:
    description: str
    context: tuple[tuple[str, ...], ...]  # folded token sequences
    unless: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    kind: str
    description: str


@dataclass
class Lexicon:
    concepts: dict[str, Concept] = field(default_factory=dict)
    forms: dict[str, tuple[FormHit, ...]] = field(default_factory=dict)
    stripped: dict[str, tuple[FormHit, ...]] = field(default_factory=dict)
    unspaced: list[tuple[str, FormHit]] = field(default_factory=list)
    exclusions: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict)
    # concept -> word -> (phrase, index of the word in it): a mention is only checked
    # against the exclusion phrases that contain its own word.
    exclusion_index: dict[str, dict[str, list[tuple[tuple[str, ...], int]]]] = field(
        default_factory=dict
    )
    false_friends: dict[str, tuple[FalseFriend, ...]] = field(default_factory=dict)
    cues: frozenset[str] = frozenset()
    # language -> folded word -> analysis.WordInfo, filled as documents are read.
    word_cache: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    # language -> lemma -> folded words seen with it; plain form -> folded words seen with it.
    lemma_forms: dict[str, dict[str, set[str]]] = field(default_factory=dict, repr=False)
    plain_forms: dict[str, set[str]] = field(default_factory=dict, repr=False)

    def lookup(self, word: str) -> tuple[tuple[FormHit, ...], bool]:
        """The meanings of ``word`` and whether they were found only without diacritics."""
        hits = self.forms.get(fold(word))
        if hits:
            return hits, False
        return self.stripped.get(strip_diacritics(word), ()), True

    def resolve(self, word: str) -> frozenset[str]:
        """The concepts a query word names (by name, demonym, adjective, compound or alias)."""
        hits, _ = self.lookup(word)
        return frozenset(hit.concept for hit in hits if hit.category in NAMING)


class _Builder:
    def __init__(self) -> None:
        self.forms: dict[str, dict[tuple[str, str], set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self.lexicon = Lexicon()

    def add(self, concept: str, category: str, language: str, words: Iterable[str]) -> None:
        for word in words:
            self.forms[fold(word)][(concept, category)].add(language)

    def add_concept(self, data: Mapping[str, Any]) -> None:
        concept = str(data["id"])
        self.lexicon.concepts[concept] = Concept(
            concept, str(data.get("kind", "other")), str(data.get("description", ""))
        )
        for language, table in data.get("languages", {}).items():
            for key, category in CATEGORIES.items():
                self.add(concept, category, language, table.get(key, []))
        self.lexicon.exclusions[concept] = tuple(
            _phrase(p) for item in data.get("exclusions", []) for p in item.get("phrases", [])
        )
        self.lexicon.false_friends[concept] = tuple(
            FalseFriend(
                str(item.get("description", "")),
                tuple(_phrase(p) for p in item.get("context", [])),
                tuple(_phrase(p) for p in item.get("unless", [])),
            )
            for item in data.get("false_friends", [])
        )

    def add_alias(self, key: str, words: Iterable[str]) -> None:
        """``[aliases] key = [...]``: ``key`` is a concept id or any naming form of one."""
        concepts = {key} if key in self.lexicon.concepts else set()
        concepts |= {c for (c, cat) in self.forms.get(fold(key), {}) if cat in NAMING}
        if not concepts:  # a concept of the user's own
            concepts = {fold(key)}
            self.lexicon.concepts[fold(key)] = Concept(fold(key), "alias", f"user alias {key!r}")
            self.add(fold(key), "alias", "*", [key])
        for concept in concepts:
            self.add(concept, "alias", "*", words)

    def build(self) -> Lexicon:
        lexicon = self.lexicon
        stripped: dict[str, list[FormHit]] = defaultdict(list)
        for form, meanings in self.forms.items():
            hits = tuple(
                FormHit(concept, category, frozenset(languages))
                for (concept, category), languages in sorted(meanings.items())
            )
            if has_unspaced_script(form):
                lexicon.unspaced.extend((form, hit) for hit in hits)
                continue
            lexicon.forms[form] = hits
            stripped[strip_diacritics(form)].extend(hits)
        lexicon.stripped = {form: tuple(dict.fromkeys(hits)) for form, hits in stripped.items()}
        for concept, phrases in lexicon.exclusions.items():
            index: dict[str, list[tuple[tuple[str, ...], int]]] = defaultdict(list)
            for phrase in phrases:
                for offset, word in enumerate(phrase):
                    index[word].append((phrase, offset))
            lexicon.exclusion_index[concept] = dict(index)
        # Longest first, so that a substring search prefers the longer form.
        lexicon.unspaced.sort(key=lambda item: -len(item[0]))
        return lexicon


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(fold(token.text) for token in tokenize(text))


def _data_files() -> list[dict[str, Any]]:
    folder = resources.files("monitor") / "data" / "lexicon"
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            found.append(tomllib.loads(entry.read_text(encoding="utf-8")) | {"_file": entry.name})
    return found


def build_lexicon(aliases: Mapping[str, Iterable[str]] | None = None) -> Lexicon:
    """The packaged lexicon, extended with the user's ``[aliases]``."""
    files = _data_files()
    concepts = [data for data in files if data["_file"] != "cues.toml"]
    cues = [data for data in files if data["_file"] == "cues.toml"]
    return lexicon_from(concepts, cues[0] if cues else {}, aliases)


def lexicon_from(
    concepts: Iterable[Mapping[str, Any]],
    cue_data: Mapping[str, Any],
    aliases: Mapping[str, Iterable[str]] | None = None,
) -> Lexicon:
    """A lexicon from parsed data files (concept tables and the cues table)."""
    builder = _Builder()
    for data in concepts:
        builder.add_concept(data)
    cues = {
        fold(word)
        for table in cue_data.get("languages", {}).values()
        for word in table.get("cues", [])
    }
    for key, words in (aliases or {}).items():
        builder.add_alias(key, words)
    lexicon = builder.build()
    lexicon.cues = frozenset(cues)
    return lexicon


@functools.lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    return build_lexicon()
