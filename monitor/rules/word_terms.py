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

from dataclasses import dataclass

from monitor.rules import morphology
from monitor.rules.analysed import Analysis
from monitor.rules.names import is_name_form, looks_like_a_name, name_key, name_stem, skeleton
from monitor.rules.text import fold, strip_diacritics


@dataclass(frozen=True, slots=True)
class Hit:
    """One document word that satisfied one rule term."""

    term: str  # the rule's term as written
    position: int
    via: str  # surface, inflection, translation, demonym, adjective, alias, capital, lemma, diacritics, prefix, phrase
    # Where the form came from: "pl name, cldr", "morfeusz2", "Snowball (de)", …
    origin: str = ""


@dataclass(frozen=True, slots=True)
class WordTerm:
    word: str
    folded: str
    stripped: str
    # language -> the word's forms there (Polish and Russian inflections), folded
    inflections: tuple[tuple[str, frozenset[str]], ...] = ()
    # language -> the word's Snowball stem there
    stems: tuple[tuple[str, str], ...] = ()
    # the key stem of a word written as a name, which its other spellings start with
    name: str | None = None
    name_key: str = ""  # its whole key: what the other spellings are where names do not inflect


def word_term(word: str) -> WordTerm:
    """A word that names no concept, with the forms its own analysis gives."""
    folded = fold(word)
    inflections = tuple(
        (language, found - {folded})
        for language in sorted(morphology.GENERATED)
        if (found := morphology.inflections(word, language) - {folded})
    )
    # A name is stemmed only where names inflect: English "Orlene" (a hurricane) has the
    # stem of "Orlen", German "Orlens" is Orlen's.
    named = looks_like_a_name(word)
    stems = tuple(
        (language, stem)
        for language in sorted(morphology.SNOWBALL)
        if not named or morphology.stems_names(language)
        if (stem := morphology.stem(folded, language)) is not None
    )
    name = name_stem(word) if named else None
    key = name_key(word) if name is not None else ""
    return WordTerm(word, folded, strip_diacritics(word), inflections, stems, name, key)


def word_hits(term: WordTerm, doc: Analysis) -> list[Hit]:
    """The document words that are forms of a rule word, in the document's language."""
    language = doc.language
    hits = [Hit(term.word, p, "surface") for p in doc.where(term.folded)]
    seen = {term.folded}
    inflected = dict(term.inflections).get(language, ())
    stem = dict(term.stems).get(language)
    made_by = {"pl": "morfeusz2", "ru": "pymorphy3"}.get(language, "")
    candidates: list[tuple[str, list[str], str]] = [
        ("inflection", [w for w in inflected if w in doc.info], made_by),
        ("stem", doc.words_with_stem(stem) if stem is not None else [], f"Snowball ({language})"),
        ("lemma", doc.words_with_lemma(term.folded), f"simplemma ({language})"),
        ("diacritics", doc.words_stripped_to(term.stripped), "without diacritics"),
    ]
    for via, found, origin in candidates:
        for word in found:
            if word not in seen:
                seen.add(word)
                hits.extend(Hit(term.word, p, via, origin) for p in doc.where(word))
    if term.name is not None:
        hits.extend(_name_hits(term, term.name, doc, seen))
    return sorted(hits, key=lambda h: h.position)


def _name_hits(term: WordTerm, stem: str, doc: Analysis, seen: set[str]) -> list[Hit]:
    """Capitalised document words that are the name in another spelling or script."""
    inflects = morphology.names_take_endings(doc.language)
    found = []
    for word in doc.words_named(stem, skeleton(term.name_key)):
        if word in seen or not is_name_form(stem, term.name_key, word, inflects=inflects):
            continue
        seen.add(word)
        for position in doc.where(word):
            written = doc.words[position]
            if written[:1].isupper() or not written[:1].islower():
                found.append(Hit(term.word, position, "transliteration", f"name key {stem}…"))
    return found
