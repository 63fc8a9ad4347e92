"""The concept lexicon: which words, in which languages, name the same thing.

Built from the concept registry (:mod:`monitor.rules.registry`): every form of every
concept, keyed by its casefolded text, with a second table without diacritics as a
fallback, a table of multi-word names by their first word, and per language the Snowball
stems of the names, adjectives and demonyms. A capital's names also stand for its state,
as metonyms the matcher decides on (see :mod:`monitor.rules.analysis`). Pure: the registry
is data, the rest is computation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.rules import morphology
from monitor.rules.registry import ANY, Entry, Form, Registry, registry_from, with_changes
from monitor.rules.text import fold, has_case, has_unspaced_script, strip_diacritics, words

# The form categories a query word may name a concept by; a capital never does ("Baku"
# in a rule means the city), it only counts for the state as a metonym in documents.
NAMING = frozenset({"name", "demonym", "adjective", "compound", "alias", "acronym"})
# Categories that are names: in a script with capitals, written with one.
PROPER = frozenset({"name", "alias", "acronym", "capital"})
GENERATED_ORIGINS = frozenset({"morfeusz2", "pymorphy3"})


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


@dataclass(frozen=True, slots=True)
class FalseFriend:
    description: str
    context: tuple[tuple[str, ...], ...]  # folded token sequences
    unless: tuple[tuple[str, ...], ...]
    languages: frozenset[str] = frozenset()  # empty: every language


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    kind: str
    description: str
    label: str = ""
    capital: str | None = None
    country: str | None = None
    # Languages in which the concept's name is also a given name ("Jordan Henderson"):
    # there a name followed by another capitalised name is a person's.
    given_name: frozenset[str] = frozenset()
    # Languages in which the concept's names count even in lower case.
    lowercase: frozenset[str] = frozenset()
    lowercase_acronyms: frozenset[str] = frozenset()


@dataclass
class Lexicon:
    concepts: dict[str, Concept] = field(default_factory=dict)
    forms: dict[str, tuple[FormHit, ...]] = field(default_factory=dict)
    stripped: dict[str, tuple[FormHit, ...]] = field(default_factory=dict)
    # first word (folded, each alternative) -> the multi-word names starting with it
    phrases: dict[str, tuple[Phrase, ...]] = field(default_factory=dict)
    # language -> stem -> the names, adjectives and demonyms of that language with that stem
    stems: dict[str, dict[str, tuple[FormHit, ...]]] = field(default_factory=dict)
    unspaced: list[tuple[str, FormHit]] = field(default_factory=list)
    exclusions: dict[str, tuple[Exclusion, ...]] = field(default_factory=dict)
    # concept -> word -> (exclusion, index of the word in it): a mention is only checked
    # against the exclusion phrases that contain its own word.
    exclusion_index: dict[str, dict[str, list[tuple[Exclusion, int]]]] = field(default_factory=dict)
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


class _Builder:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.single: dict[str, dict[tuple[str, str], dict[str, Any]]] = defaultdict(dict)
        self.multi: dict[tuple[frozenset[str], ...], dict[tuple[str, str], dict[str, Any]]] = (
            defaultdict(dict)
        )
        self.lexicon = Lexicon()
        # One object per distinct meaning, shared by every form that has it: a few
        # thousand objects for over a hundred thousand forms.
        self.hits: dict[tuple[Any, ...], FormHit] = {}
        self.languages: dict[frozenset[str], frozenset[str]] = {}

    def add_entry(self, entry: Entry) -> None:
        rules = self.registry.rules.get(entry.id, {})
        self.lexicon.concepts[entry.id] = Concept(
            entry.id,
            entry.kind,
            entry.description or entry.label,
            entry.label,
            entry.capital,
            entry.country,
            given_name=frozenset(rules.get("given_name", ())),
            lowercase=frozenset(rules.get("lowercase", ())),
            lowercase_acronyms=entry.lowercase_ok,
        )
        for form in entry.forms:
            self.add_form(entry.id, form.category, form)
            for inflected in self.inflections(form):
                self.add_form(entry.id, form.category, inflected)
        capital_of = entry.capital_of
        if capital_of is not None:
            for form in entry.forms:
                if form.category == "name":
                    self.add_form(capital_of, "capital", form)
            # "Chicken Kiev" is no more the state than the city.
            self.add_rules(capital_of, {"exclusions": rules.get("exclusions", [])})
        self.add_rules(entry.id, rules)

    def add_form(self, concept: str, category: str, form: Form) -> None:
        # Hyphens and apostrophes split words in documents, so they split names too
        # ("Guinea-Bissau", "Côte d'Ivoire" are names of two and three words).
        slots = _token_slots(form.text)
        if not slots:
            return
        meanings = (
            [self.single[token] for token in slots[0]] if len(slots) == 1 else [self.multi[slots]]
        )
        generated = form.origin in GENERATED_ORIGINS and form.language != ANY
        for table in meanings:
            meaning = table.setdefault(
                (concept, category), {"languages": set(), "origin": form.origin, "restricted": True}
            )
            meaning["languages"].add(form.language)
            # Restricted only when every source of the form is a generated inflection.
            meaning["restricted"] = meaning["restricted"] and generated

    def inflections(self, form: Form) -> list[Form]:
        """The Polish and Russian forms of a one-word form the registry did not inflect
        itself (the user's aliases, a registry of one's own)."""
        if self.registry.inflected and form.origin != "config":
            return []
        if " " in form.text or "|" in form.text or form.origin in GENERATED_ORIGINS:
            return []
        languages = sorted(morphology.GENERATED) if form.language == ANY else [form.language]
        origins = {"pl": "morfeusz2", "ru": "pymorphy3"}
        return [
            Form(language, form.category, inflected, origins[language])
            for language in languages
            if language in morphology.GENERATED
            for inflected in sorted(morphology.inflections(form.text, language))
        ]

    def add_rules(self, concept: str, rules: Mapping[str, Any]) -> None:
        lexicon = self.lexicon
        lexicon.exclusions[concept] = (
            *lexicon.exclusions.get(concept, ()),
            *(
                Exclusion(
                    _phrase(p),
                    frozenset(item.get("languages", ())),
                    bool(item.get("sentence_start", False)),
                )
                for item in rules.get("exclusions", [])
                for p in item.get("phrases", [])
            ),
        )
        lexicon.false_friends[concept] = (
            *lexicon.false_friends.get(concept, ()),
            *(
                FalseFriend(
                    str(item.get("description", "")),
                    tuple(_phrase(p) for p in item.get("context", [])),
                    tuple(_phrase(p) for p in item.get("unless", [])),
                    frozenset(item.get("languages", ())),
                )
                for item in rules.get("false_friends", [])
            ),
        )

    def hit(self, concept: str, category: str, meaning: Mapping[str, Any]) -> FormHit:
        languages = frozenset(meaning["languages"])
        languages = self.languages.setdefault(languages, languages)
        key = (concept, category, languages, meaning["origin"], meaning["restricted"])
        found = self.hits.get(key)
        if found is None:
            found = self.hits[key] = FormHit(*key)
        return found

    def build(self) -> Lexicon:
        lexicon = self.lexicon
        stripped: dict[str, list[FormHit]] = defaultdict(list)
        stems: dict[str, dict[str, list[FormHit]]] = defaultdict(lambda: defaultdict(list))
        for form, meanings in self.single.items():
            hits = tuple(
                self.hit(concept, category, m)
                for (concept, category), m in sorted(meanings.items())
            )
            if has_unspaced_script(form):
                lexicon.unspaced.extend((form, hit) for hit in hits)
                continue
            lexicon.forms[form] = hits
            plain = strip_diacritics(form)
            if plain != form:  # the others are found in `forms` itself
                stripped[plain].extend(hits)
            for hit in hits:
                if hit.restricted or hit.category == "capital":
                    continue
                for language in hit.languages - {ANY}:
                    if hit.category in PROPER and not morphology.stems_names(language):
                        continue
                    found = morphology.stem(form, language)
                    if found is not None:
                        stems[language][found].append(hit)
        lexicon.stripped = {form: tuple(dict.fromkeys(hits)) for form, hits in stripped.items()}
        lexicon.stems = {
            language: {s: tuple(dict.fromkeys(hits)) for s, hits in table.items()}
            for language, table in stems.items()
        }
        phrases: dict[str, list[Phrase]] = defaultdict(list)
        for slots, meanings in self.multi.items():
            for (concept, category), meaning in sorted(meanings.items()):
                phrase = Phrase(slots, self.hit(concept, category, meaning))
                for first in slots[0]:
                    phrases[first].append(phrase)
        lexicon.phrases = {first: tuple(found) for first, found in phrases.items()}
        index_exclusions(lexicon)
        # Longest first, so that a substring search prefers the longer form.
        lexicon.unspaced.sort(key=lambda item: -len(item[0]))
        lexicon.cues = self.registry.cues
        return lexicon


def _token_slots(text: str) -> tuple[frozenset[str], ...]:
    """The words of a form as documents are split into words: each with its alternatives."""
    alternatives = [[fold(token) for token in words(choice)] for choice in text.split("|")]
    if "|" not in text:
        return tuple(frozenset({token}) for token in alternatives[0])
    # "a|b c|d": alternatives per space-separated word, each one token.
    return tuple(
        frozenset(fold(token) for choice in word.split("|") for token in words(choice))
        for word in text.split()
    )


def index_exclusions(lexicon: Lexicon) -> None:
    for concept, exclusions in lexicon.exclusions.items():
        index: dict[str, list[tuple[Exclusion, int]]] = defaultdict(list)
        for exclusion in exclusions:
            for offset, word in enumerate(exclusion.words):
                index[word].append((exclusion, offset))
        lexicon.exclusion_index[concept] = dict(index)


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(fold(token) for token in words(text))


def lexicon_of(registry: Registry) -> Lexicon:
    builder = _Builder(registry)
    for entry in registry.entries.values():
        builder.add_entry(entry)
    return builder.build()


_OLD_CATEGORIES = {
    "names": "name",
    "demonyms": "demonym",
    "adjectives": "adjective",
    "compounds": "compound",
}


def lexicon_from(
    concepts: Iterable[Mapping[str, Any]],
    cue_data: Mapping[str, Any],
    aliases: Mapping[str, Iterable[str]] | None = None,
) -> Lexicon:
    """A lexicon from concept tables in the overlay format (``overlays/*.toml``) and a cues
    table: for tests and for small lexicons of one's own."""
    document: dict[str, Any] = {"concepts": [], "rules": {"concepts": {}, "cues": []}}
    for data in concepts:
        forms: list[list[str]] = []
        capital_forms: list[list[str]] = []
        for language, table in data.get("languages", {}).items():
            for key, category in _OLD_CATEGORIES.items():
                forms.extend([language, category, word, "overlay"] for word in table.get(key, []))
            capital_forms.extend([language, "name", w, "overlay"] for w in table.get("capital", []))
        record: dict[str, Any] = {"id": data["id"], "kind": data.get("kind", "other"),
                                  "label": data["id"], "forms": forms}  # fmt: skip
        if capital_forms:
            capital = f"{data['id']}:capital"
            record["capital"] = capital
            document["concepts"].append(
                {
                    "id": capital,
                    "kind": "city",
                    "label": capital,
                    "forms": capital_forms,
                    "capital_of": data["id"],
                    "country": data["id"],
                }
            )
        document["concepts"].append(record)
        document["rules"]["concepts"][data["id"]] = {
            key: data[key] for key in ("exclusions", "false_friends", "given_name") if key in data
        }
    document["rules"]["cues"] = [
        word for table in cue_data.get("languages", {}).values() for word in table.get("cues", [])
    ]
    registry = registry_from(document)
    return lexicon_of(with_changes(registry, aliases or {}, {}))
