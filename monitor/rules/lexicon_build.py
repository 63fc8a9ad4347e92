"""Compiling the concept registry into a :class:`~monitor.rules.lexicon.Lexicon` (pure).

Every form of every concept is folded and split into words as documents are; forms of one
word go into the form table (with a second table without diacritics), names of several
words into the phrase table by their first word, and per language the Snowball stems of
the names, adjectives and demonyms into the stem table. A capital's names also stand for
its state, as metonyms the matcher decides on (:mod:`monitor.rules.ambiguity`). Forms from
the user's ``config.toml`` are inflected here for Polish and Russian.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from monitor.rules import morphology
from monitor.rules.lexicon import (
    GENERATED_ORIGINS,
    PROPER,
    Concept,
    Exclusion,
    FalseFriend,
    FormHit,
    Lexicon,
    Phrase,
    index_exclusions,
)
from monitor.rules.registry import ANY, Entry, Form, Registry, registry_from, with_changes
from monitor.rules.text import fold, has_unspaced_script, strip_diacritics, words


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
            given_name=frozenset(fold(word) for word in rules.get("given_name", ())),
            lowercase=frozenset(rules.get("lowercase", ())),
            lowercase_acronyms=entry.lowercase_ok,
            native_only=frozenset(fold(word) for word in rules.get("native_only", ())),
            removed=entry.removed,
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
        # dict.fromkeys: "Chicken Kiev" and "chicken Kiev" are one phrase once folded.
        lexicon.exclusions[concept] = tuple(
            dict.fromkeys(
                [
                    *lexicon.exclusions.get(concept, ()),
                    *(
                        Exclusion(
                            _phrase(p),
                            frozenset(item.get("languages", ())),
                            bool(item.get("sentence_start", False)),
                            bool(item.get("throughout", False)),
                        )
                        for item in rules.get("exclusions", [])
                        for p in item.get("phrases", [])
                    ),
                ]
            )
        )
        lexicon.false_friends[concept] = (
            *lexicon.false_friends.get(concept, ()),
            *(
                FalseFriend(
                    str(item.get("description", "")),
                    tuple(_phrase(p) for p in item.get("context", [])),
                    tuple(_phrase(p) for p in item.get("unless", [])),
                    frozenset(item.get("languages", ())),
                    frozenset(fold(word) for word in item.get("forms", ())),
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
        forms: dict[str, tuple[FormHit, ...]] = {}
        for form, meanings in self.single.items():
            hits = tuple(
                self.hit(concept, category, m)
                for (concept, category), m in sorted(meanings.items())
            )
            if has_unspaced_script(form):
                lexicon.unspaced.extend((form, hit) for hit in hits)
                continue
            forms[form] = hits
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
        lexicon.forms = forms
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
        lexicon.phrase_stems = _phrase_stems(lexicon.phrases)
        index_exclusions(lexicon)
        # Longest first, so that a substring search prefers the longer form.
        lexicon.unspaced.sort(key=lambda item: -len(item[0]))
        lexicon.cues = self.registry.cues
        lexicon.connectors = self.registry.connectors
        lexicon.removed = any(concept.removed for concept in lexicon.concepts.values())
        return lexicon


def _phrase_stems(
    phrases: Mapping[str, tuple[Phrase, ...]],
) -> dict[str, dict[str, tuple[Phrase, ...]]]:
    """The multi-word names of the stemmed languages, by the stem of their first word: each
    slot holds its words' stems (a word too short to stem stands for itself)."""
    found: dict[str, dict[str, list[Phrase]]] = defaultdict(lambda: defaultdict(list))
    seen: set[int] = set()
    for candidates in phrases.values():
        for phrase in candidates:
            if id(phrase) in seen or phrase.hit.restricted:
                continue
            seen.add(id(phrase))
            for language in phrase.hit.languages:
                if language not in morphology.SNOWBALL or language in morphology.GENERATED:
                    continue
                slots = tuple(
                    frozenset(morphology.stem(word, language) or word for word in slot)
                    for slot in phrase.slots
                )
                stemmed = Phrase(slots, phrase.hit)
                for first in slots[0]:
                    found[language][first].append(stemmed)
    return {
        language: {first: tuple(dict.fromkeys(p)) for first, p in table.items()}
        for language, table in found.items()
    }


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


def _phrase(text: str) -> tuple[str, ...]:
    """A phrase of the data as folded tokens; a word written with a final "*" is a prefix."""
    tokens: list[str] = []
    for chunk in text.split():
        found = [fold(token) for token in words(chunk)]
        if found and chunk.endswith("*"):
            found[-1] += "*"
        tokens.extend(found)
    return tuple(tokens)


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
    document["rules"]["connectors"] = cue_data.get("connectors", {}).get("words", [])
    document["rules"]["cues"] = [
        word for table in cue_data.get("languages", {}).values() for word in table.get("cues", [])
    ]
    registry = registry_from(document)
    return lexicon_of(with_changes(registry, aliases or {}, {}))
