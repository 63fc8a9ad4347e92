"""A rule word that names no concept, and the document words that are its forms (pure).

Its forms come from its own analysis in each language (:mod:`monitor.rules.morphology`):
its inflections (Polish, Russian), words with its stem (Snowball languages, where a name's
stem is used only if names inflect there), words whose lemma it is, the same letters
without diacritics, and, for a word written as a name, its spellings and inflections in
other scripts (:mod:`monitor.rules.names`): "Orlen" finds "Orlenu", "Орлена" and
"Orlens", not "Orlene". Never the reverse: a document word's lemma never makes it a form
of some other rule word ("roku" is not a form of "Roka").
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import NamedTuple

from monitor.rules import morphology
from monitor.rules.analysed import Analysis
from monitor.rules.names import is_name_form, looks_like_a_name, name_key, name_stem, skeleton
from monitor.rules.text import fold, strip_diacritics


class Hit(NamedTuple):
    """One document word that satisfied one rule term (a tuple: made by the thousand)."""

    term: str  # the rule's term as written
    position: int
    via: str  # surface, inflection, translation, demonym, adjective, alias, capital, lemma, diacritics, prefix, phrase
    # Where the form came from: "pl name, cldr", "morfeusz2", "Snowball (de)", …
    origin: str = ""


@dataclass(frozen=True, slots=True)
class WordTerm:
    """A rule word and its forms; two are equal when their words are (the forms follow)."""

    word: str
    folded: str
    stripped: str
    # language -> the word's forms there (Polish and Russian inflections), folded
    inflections: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # language -> the word's Snowball stem there
    stems: dict[str, str] = field(default_factory=dict, compare=False)
    # the key stem of a word written as a name, which its other spellings start with
    name: str | None = None
    name_key: str = ""  # its whole key: what the other spellings are where names do not inflect
    consonants: str = ""  # the key's consonants, to meet the name in Arabic or Persian script


def word_term(word: str) -> WordTerm:
    """A word that names no concept, with the forms its own analysis gives."""
    folded = fold(word)
    inflections = {
        language: tuple(sorted(sys.intern(form) for form in found))
        for language in sorted(morphology.GENERATED)
        if (found := morphology.inflections(word, language) - {folded})
    }
    # A name is stemmed only where names inflect: English "Orlene" (a hurricane) has the
    # stem of "Orlen", German "Orlens" is Orlen's. Many languages give one stem: one string.
    named = looks_like_a_name(word)
    stems = {
        language: sys.intern(stem)
        for language in sorted(morphology.SNOWBALL)
        if not named or morphology.stems_names(language)
        if (stem := morphology.stem(folded, language)) is not None
    }
    name = name_stem(word) if named else None
    key = name_key(word) if name is not None else ""
    consonants = skeleton(key) if key else ""
    return WordTerm(word, folded, strip_diacritics(word), inflections, stems, name, key, consonants)


_MADE_BY = {"pl": "morfeusz2", "ru": "pymorphy3"}


def word_hits(term: WordTerm, doc: Analysis) -> list[Hit]:
    """The document words that are forms of a rule word, in the document's language."""
    language, info = doc.language, doc.info
    # word -> how it is a form of the rule word, and where that form came from; the first
    # way that finds a word names it.
    found: dict[str, tuple[str, str]] = {}
    if term.folded in info:
        found[term.folded] = ("surface", "")
    inflected = term.inflections.get(language)
    if inflected:
        for word in info.keys() & inflected:
            found.setdefault(word, ("inflection", _MADE_BY.get(language, "")))
    stem = term.stems.get(language)
    if stem is not None:
        for word in doc.words_with_stem(stem):
            found.setdefault(word, ("stem", f"Snowball ({language})"))
    for word in doc.words_with_lemma(term.folded):
        found.setdefault(word, ("lemma", f"simplemma ({language})"))
    for word in doc.words_stripped_to(term.stripped):
        found.setdefault(word, ("diacritics", "without diacritics"))
    if not found and term.name is None:
        return []  # most rule words evaluated are not in the document
    hits = [
        Hit(term.word, p, via, origin)
        for word, (via, origin) in found.items()
        for p in doc.where(word)
    ]
    if term.name is not None:
        hits.extend(_name_hits(term, term.name, doc, set(found) | {term.folded}))
    if len(found) > 1 or term.name is not None:
        hits.sort(key=lambda h: h.position)
    return hits


def _name_hits(term: WordTerm, stem: str, doc: Analysis, seen: set[str]) -> list[Hit]:
    """Capitalised document words that are the name in another spelling or script."""
    inflects = morphology.names_take_endings(doc.language)
    found = []
    for word in doc.words_named(stem, term.consonants):
        if word in seen or not is_name_form(stem, term.name_key, word, inflects=inflects):
            continue
        seen.add(word)
        for position in doc.where(word):
            written = doc.words[position]
            if written[:1].isupper() or not written[:1].islower():
                found.append(Hit(term.word, position, "transliteration", f"name key {stem}…"))
    return found
