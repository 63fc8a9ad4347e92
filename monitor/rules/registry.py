"""The concept registry as shipped: every country and territory, the capitals and the large
cities, the international organisations, with their names, adjectives and demonyms per
language and where each came from (see ``monitor/data/concepts/README.md``).

``contrib/build_concepts.py`` makes the data from CLDR, countrynames, GeoNames and the
reviewed files; here it is only read, once per process, and the user's changes from
``config.toml`` are laid over it. Pure: the data file is read through importlib.resources.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from monitor.rules.text import fold

ANY = "*"  # the language of a form that names the concept whatever the language


@dataclass(frozen=True, slots=True)
class Form:
    language: str  # ISO 639-1, or ANY
    category: str  # name, demonym, adjective, compound, acronym, alias
    text: str  # as written; several words for a multi-word name; "a|b" offers alternatives
    origin: str  # cldr, cldr-language, cldr-currency, cldr-city, countrynames, geonames,
    # reviewed, overlay, morfeusz2, pymorphy3, rule:compound, config


@dataclass(frozen=True)
class Entry:
    """One concept as the registry holds it."""

    id: str
    kind: str  # country, city, organisation, alias
    label: str
    forms: tuple[Form, ...]
    capital: str | None = None  # a country's capital city (a concept id)
    country: str | None = None  # a city's country
    capital_of: str | None = None
    description: str = ""
    lowercase_ok: frozenset[str] = frozenset()  # languages that may write an acronym "Nato"
    # Words (folded) the user removed in config.toml: they do not name the concept, even
    # when they are another form without its diacritics.
    removed: frozenset[str] = frozenset()


@dataclass
class Registry:
    entries: dict[str, Entry] = field(default_factory=dict)
    # concept id -> its ambiguity rules (ambiguity.toml and the overlays'), as data.
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    cues: frozenset[str] = frozenset()
    connectors: frozenset[str] = frozenset()  # "and", "i", "и", "ve": capitals joined by one
    sources: dict[str, str] = field(default_factory=dict)
    # Whether the Polish and Russian forms were inflected when the data was built (the
    # shipped registry's were); the lexicon inflects those of other registries itself.
    inflected: bool = False


@functools.cache
def shipped() -> Registry:
    """The registry in the package (parsed once per process)."""
    raw = (resources.files("monitor") / "data" / "concepts" / "registry.json.gz").read_bytes()
    return registry_from(json.loads(gzip.decompress(raw)))


def registry_from(document: Mapping[str, Any]) -> Registry:
    registry = Registry(
        sources=dict(document.get("sources", {})), inflected=bool(document.get("inflected"))
    )
    for record in document["concepts"]:
        registry.entries[record["id"]] = Entry(
            id=record["id"],
            kind=record["kind"],
            label=record["label"],
            forms=tuple(Form(*form) for form in record["forms"]),
            capital=record.get("capital"),
            country=record.get("country"),
            capital_of=record.get("capital_of"),
            description=record.get("description", ""),
            lowercase_ok=frozenset(record.get("lowercase_ok", ())),
        )
    rules = document.get("rules", {})
    registry.rules = {key: dict(value) for key, value in rules.get("concepts", {}).items()}
    for concept, extra in rules.get("overlays", {}).items():
        merged = registry.rules.setdefault(concept, {})
        for key, items in extra.items():
            merged[key] = [*merged.get(key, []), *items]
    registry.cues = frozenset(fold(word) for word in rules.get("cues", ()))
    registry.connectors = frozenset(fold(word) for word in rules.get("connectors", ()))
    return registry


def with_changes(
    registry: Registry,
    aliases: Mapping[str, Iterable[str]],
    changes: Mapping[str, Mapping[str, Iterable[str]]],
) -> Registry:
    """``registry`` with the user's ``[aliases]`` and ``[concepts]`` tables laid over it.

    A key is a concept id (``UA``, ``org.nato``, ``city:703448``) or any word that names
    one; an alias key that names none makes a concept of its own.
    """
    entries = dict(registry.entries)
    for key, words in aliases.items():
        for concept in _named(entries, key) or [_own(entries, key)]:
            _add(entries, concept, [Form(ANY, "alias", word, "config") for word in words])
    for key, change in changes.items():
        for concept in _named(entries, key):
            _add(entries, concept, [Form(ANY, "alias", w, "config") for w in change.get("add", ())])
            removed = {fold(word) for word in change.get("remove", ())}
            entry = entries[concept]
            kept = tuple(f for f in entry.forms if fold(f.text) not in removed)
            entries[concept] = dataclasses.replace(
                entry, forms=kept, removed=entry.removed | removed
            )
    return dataclasses.replace(registry, entries=entries)


def _named(entries: Mapping[str, Entry], key: str) -> list[str]:
    if key in entries:
        return [key]
    folded = fold(key)
    return sorted(
        concept
        for concept, entry in entries.items()
        if any(fold(f.text) == folded for f in entry.forms if "|" not in f.text)
    )


def _own(entries: dict[str, Entry], key: str) -> str:
    concept = fold(key)
    entries.setdefault(concept, Entry(concept, "alias", key, (Form(ANY, "alias", key, "config"),)))
    return concept


def _add(entries: dict[str, Entry], concept: str, forms: list[Form]) -> None:
    entry = entries[concept]
    entries[concept] = _replace(entry, (*entry.forms, *forms))


def _replace(entry: Entry, forms: tuple[Form, ...]) -> Entry:
    return dataclasses.replace(entry, forms=forms)
