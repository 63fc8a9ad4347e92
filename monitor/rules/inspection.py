"""What a rule word resolves to, for `monitor concepts show` (pure).

A word that names concepts is shown as the registry holds them, the user's changes
included: per language each name, demonym, adjective, compound, acronym and alias as
written, with where it came from, plus what the matcher adds at run time (Snowball stems,
the inflections of forms from ``config.toml``). A word that names none is shown as a rule
word's own analysis: its inflections, stems and name key, as :func:`word_terms.word_term`
makes them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from monitor.rules import morphology
from monitor.rules.lexicon import Lexicon
from monitor.rules.registry import ANY, Entry, Registry
from monitor.rules.text import fold, words
from monitor.rules.word_terms import WordTerm, word_term

# The order categories are shown in.
CATEGORIES = ("name", "acronym", "demonym", "adjective", "compound", "alias")
_MADE_BY = {"pl": "morfeusz2", "ru": "pymorphy3"}


@dataclass
class ConceptView:
    id: str
    kind: str
    label: str
    description: str = ""
    capital: str | None = None  # "Kyiv (city:703448)"
    country: str | None = None
    # language -> category -> [(form as written, origin)]
    forms: dict[str, dict[str, list[tuple[str, str]]]] = field(default_factory=dict)
    stems: dict[str, list[str]] = field(default_factory=dict)  # language -> Snowball stems
    rules: list[str] = field(default_factory=list)  # how ambiguity is decided, one line each


@dataclass
class WordView:
    """A word that names no concept: what the matcher looks for instead."""

    word: str
    term: WordTerm
    hint: str = ""  # a concept the word would name written otherwise ("Turkey", not "turkey")


def inspect(
    word: str, lexicon: Lexicon, registry: Registry, languages: frozenset[str] = frozenset()
) -> list[ConceptView] | WordView:
    """The concepts ``word`` names (shown in ``languages``, or all), or its own analysis."""
    tokens = words(word)
    concepts = lexicon.resolve_phrase(tokens) if len(tokens) > 1 else lexicon.resolve(word)
    if not concepts:
        return WordView(word, word_term(word), _hint(word, lexicon))
    return [_view(registry, lexicon, registry.entries[c], languages) for c in sorted(concepts)]


def _hint(word: str, lexicon: Lexicon) -> str:
    hits, _ = lexicon.lookup(word)
    named = sorted({hit.concept for hit in hits if hit.category in CATEGORIES})
    if not named:
        return ""
    label = ", ".join(f"{c} ({lexicon.concepts[c].label})" for c in named if c in lexicon.concepts)
    return f"written otherwise (a capital, or capitals) it would name {label}"


def _view(
    registry: Registry, lexicon: Lexicon, entry: Entry, languages: frozenset[str]
) -> ConceptView:
    view = ConceptView(entry.id, entry.kind, entry.label, entry.description)
    if entry.capital and entry.capital in registry.entries:
        view.capital = f"{registry.entries[entry.capital].label} ({entry.capital})"
    view.country = entry.country
    table: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    for form in entry.forms:
        if languages and form.language not in languages and form.language != ANY:
            continue
        table[form.language][form.category].append((_written(form.text), form.origin))
        if form.origin == "config":
            for language in sorted(morphology.GENERATED):
                if languages and language not in languages:
                    continue
                for inflected in sorted(morphology.inflections(form.text, language)):
                    if inflected != fold(form.text):
                        table[language][form.category].append((inflected, _MADE_BY[language]))
    view.forms = {
        language: {c: table[language][c] for c in CATEGORIES if table[language].get(c)}
        for language in sorted(table, key=lambda code: (code != ANY, code))
    }
    view.stems = _stems(entry, languages)
    view.rules = _rules(lexicon, entry.id)
    return view


def _written(text: str) -> str:
    """A name whose words each have several forms, readable: "(Unia|Unii|…) (Europejska|…)"."""
    if "|" not in text:
        return text
    return " ".join(f"({word})" if "|" in word else word for word in text.split())


def _stems(entry: Entry, languages: frozenset[str]) -> dict[str, list[str]]:
    stems: dict[str, set[str]] = defaultdict(set)
    for form in entry.forms:
        language = form.language
        if language == ANY or " " in form.text or "|" in form.text:
            continue
        if languages and language not in languages:
            continue
        if form.category in ("name", "alias", "acronym") and not morphology.stems_names(language):
            continue
        found = morphology.stem(fold(form.text), language)
        if found is not None:
            stems[language].add(found)
    return {language: sorted(found) for language, found in sorted(stems.items())}


def _rules(lexicon: Lexicon, concept_id: str) -> list[str]:
    concept = lexicon.concepts.get(concept_id)
    lines = []
    if concept is not None:
        if concept.given_name:
            lines.append(f"also a given name: {', '.join(sorted(concept.given_name))}")
        if concept.lowercase_acronyms:
            spoken = ", ".join(sorted(concept.lowercase_acronyms))
            lines.append(f"an acronym also written with one capital in {spoken}")
    exclusions = lexicon.exclusions.get(concept_id, ())
    if exclusions:
        shown = ", ".join(repr(" ".join(e.words)) for e in exclusions[:6])
        more = f" and {len(exclusions) - 6} more" if len(exclusions) > 6 else ""
        lines.append(f"not inside {shown}{more}")
    for friend in lexicon.false_friends.get(concept_id, ()):
        lines.append(f"false friend: {friend.description}")
    return lines
