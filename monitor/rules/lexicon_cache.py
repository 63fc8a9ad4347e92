"""The compiled lexicon on disk: built once per registry and configuration, then read fast.

Compiling the registry into a :class:`~monitor.rules.lexicon.Lexicon` (folding and
indexing over a hundred thousand forms, stemming them per language) takes seconds; reading
the result back takes a fraction of one. The compiled tables are kept as plain data
(``marshal``: strings, numbers, tuples and dicts, nothing that runs code) in the user's
cache folder (``$MONITOR_CACHE`` overrides it), under a name made from everything they
depend on: the registry's bytes, the user's ``[aliases]`` and ``[concepts]``, the stemmer's
version and :data:`FORMAT`. A cache that cannot be read or written is rebuilt, or skipped,
with a log line: it never stops the program.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import marshal
from collections.abc import Callable, Iterable, Iterator, Mapping
from importlib import metadata, resources
from pathlib import Path
from typing import Any, TypeVar

from monitor.cache import cache_folder, save_bytes
from monitor.rules.lexicon import (
    Concept,
    Exclusion,
    FalseFriend,
    FormHit,
    Lexicon,
    Phrase,
    index_exclusions,
)
from monitor.rules.lexicon_build import lexicon_of
from monitor.rules.registry import shipped, with_changes

log = logging.getLogger("monitor.rules.lexicon")
# Bump when the compiled tables change shape or meaning.
FORMAT = 6
_COMPILERS = ("lexicon_build.py", "lexicon.py", "registry.py", "text.py", "morphology.py")


@functools.lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The shipped registry's lexicon, without any user changes."""
    return cached_lexicon({}, {})


def build_lexicon(
    aliases: Mapping[str, Iterable[str]] | None = None,
    changes: Mapping[str, Mapping[str, Iterable[str]]] | None = None,
) -> Lexicon:
    """The shipped registry's lexicon, with the user's ``[aliases]`` and ``[concepts]``."""
    if not aliases and not changes:
        return default_lexicon()
    return cached_lexicon(aliases or {}, changes or {})


def cached_lexicon(
    aliases: Mapping[str, Iterable[str]],
    changes: Mapping[str, Mapping[str, Iterable[str]]],
) -> Lexicon:
    """The shipped registry with the user's changes, compiled, from the cache if it is there."""
    path = cache_folder() / f"lexicon-{lexicon_key(aliases, changes)}.marshal"
    try:
        return from_plain(marshal.loads(path.read_bytes()))
    except FileNotFoundError:
        pass
    except (OSError, ValueError, EOFError, TypeError, KeyError) as error:
        log.warning("compiled lexicon %s unreadable (%s): compiling it again", path, error)
    log.info("compiling the concept lexicon (first use of this registry and configuration)")
    lexicon = lexicon_of(with_changes(shipped(), aliases, changes))
    _save(path, to_plain(lexicon))
    return lexicon


def lexicon_key(aliases: Mapping[str, Any], changes: Mapping[str, Any]) -> str:
    """What the compiled lexicon of these user changes depends on, as a short digest."""
    digest = hashlib.sha256(_shipped())
    user = json.dumps([aliases, changes], sort_keys=True, ensure_ascii=False, default=list)
    digest.update(user.encode())
    return digest.hexdigest()[:20]


@functools.cache
def _shipped() -> bytes:
    """The digest of what ships: the registry, the stemmer's version and the code that
    compiles the tables (a changed rule of folding or stemming recompiles). Read once per
    process: the console asks for the key on every preview."""
    digest = hashlib.sha256()
    digest.update(
        (resources.files("monitor") / "data" / "concepts" / "registry.json.gz").read_bytes()
    )
    digest.update(f"{FORMAT}:{metadata.version('PyStemmer')}".encode())
    for module in _COMPILERS:
        digest.update((resources.files("monitor") / "rules" / module).read_bytes())
    return digest.digest()


def _save(path: Path, plain: Any) -> None:
    save_marshal(path, plain, "lexicon-*.marshal", "the compiled lexicon")


def save_marshal(path: Path, plain: Any, family: str, what: str) -> None:
    """Write ``plain`` to ``path`` atomically (see :func:`monitor.cache.save_bytes`)."""
    save_bytes(path, marshal.dumps(plain), family, what)


def to_plain(lexicon: Lexicon) -> dict[str, Any]:
    """The lexicon as plain data; every distinct meaning once, forms referring to it by number."""
    numbers: dict[FormHit, int] = {}

    def ids(hits: Iterable[FormHit]) -> tuple[int, ...]:
        return tuple(numbers.setdefault(hit, len(numbers)) for hit in hits)

    plain = {
        "format": FORMAT,
        "forms": {form: ids(hits) for form, hits in lexicon.forms.items()},
        "stripped": {form: ids(hits) for form, hits in lexicon.stripped.items()},
        "phrases": {
            first: tuple((tuple(tuple(sorted(s)) for s in p.slots), ids([p.hit])[0]) for p in found)
            for first, found in lexicon.phrases.items()
        },
        "phrase_stems": {
            language: {
                first: tuple(
                    (tuple(tuple(sorted(s)) for s in p.slots), ids([p.hit])[0]) for p in found
                )
                for first, found in table.items()
            }
            for language, table in lexicon.phrase_stems.items()
        },
        "stems": {
            language: {stem: ids(hits) for stem, hits in table.items()}
            for language, table in lexicon.stems.items()
        },
        "unspaced": tuple((form, ids([hit])[0]) for form, hit in lexicon.unspaced),
        "exclusions": {
            concept: tuple(
                (e.words, tuple(sorted(e.languages)), e.sentence_start, e.throughout) for e in found
            )
            for concept, found in lexicon.exclusions.items()
        },
        "false_friends": {
            concept: tuple(
                (
                    f.description,
                    f.context,
                    f.unless,
                    tuple(sorted(f.languages)),
                    tuple(sorted(f.forms)),
                )
                for f in friends
            )
            for concept, friends in lexicon.false_friends.items()
        },
        "concepts": {
            c.id: (
                c.kind,
                c.description,
                c.label,
                c.capital,
                c.country,
                tuple(sorted(c.given_name)),
                tuple(sorted(c.lowercase)),
                tuple(sorted(c.lowercase_acronyms)),
                tuple(sorted(c.native_only)),
                tuple(sorted(c.removed)),
            )
            for c in lexicon.concepts.values()
        },
        "cues": tuple(sorted(lexicon.cues)),
        "connectors": tuple(sorted(lexicon.connectors)),
        "removed": lexicon.removed,
    }
    plain["hits"] = tuple(
        (h.concept, h.category, tuple(sorted(h.languages)), h.origin, h.restricted)
        for h in sorted(numbers, key=numbers.__getitem__)
    )
    return plain


V = TypeVar("V")


class Decoded(Mapping[str, V]):
    """A table read from the cache, each entry decoded when it is first asked for: a daemon
    asks for a few thousand of the hundred thousand forms, so loading stays fast."""

    def __init__(
        self,
        raw: dict[str, Any],
        decode: Callable[[Any], V],
        names_in: Callable[[Any, str], bool] | None = None,
    ) -> None:
        self._raw = raw
        self._decode = decode
        self._done: dict[str, V] = {}
        self._names_in = names_in  # whether a raw entry names something in a language

    def values_in(self, language: str) -> Iterator[V]:
        """The entries that name something in ``language``, the others left undecoded: a
        process that needs one language's entries does not hold all of them."""
        names_in = self._names_in
        for key, raw in self._raw.items():
            if names_in is None or names_in(raw, language):
                yield self[key]

    def __getitem__(self, key: str) -> V:
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._decode(self._raw[key])
        return found

    def get(self, key: str, default: Any = None) -> Any:
        # Without the exception Mapping.get raises and catches on every miss.
        found = self._done.get(key)
        if found is not None:
            return found
        raw = self._raw.get(key)
        if raw is None:
            return default
        found = self._done[key] = self._decode(raw)
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def from_plain(plain: Mapping[str, Any]) -> Lexicon:
    if plain.get("format") != FORMAT:
        raise ValueError(f"format {plain.get('format')!r}, expected {FORMAT}")
    languages: dict[tuple[str, ...], frozenset[str]] = {}
    hits = [
        FormHit(
            concept, category, languages.setdefault(langs, frozenset(langs)), origin, restricted
        )
        for concept, category, langs, origin, restricted in plain["hits"]
    ]

    def table(mapping: dict[str, tuple[int, ...]]) -> Decoded[tuple[FormHit, ...]]:
        return Decoded(mapping, lambda value: tuple(hits[i] for i in value))

    def phrases(mapping: dict[str, Any]) -> Decoded[tuple[Phrase, ...]]:
        return Decoded(
            mapping,
            lambda found: tuple(
                Phrase(tuple(frozenset(s) for s in slots), hits[i]) for slots, i in found
            ),
            lambda found, language: any(language in hits[i].languages for _, i in found),
        )

    lexicon = Lexicon(
        concepts={
            concept: Concept(
                concept,
                kind,
                description,
                label,
                capital,
                country,
                frozenset(given),
                frozenset(lower),
                frozenset(acronyms),
                frozenset(native),
                frozenset(removed),
            )
            for concept, (
                kind,
                description,
                label,
                capital,
                country,
                given,
                lower,
                acronyms,
                native,
                removed,
            ) in plain["concepts"].items()
        },
        forms=table(plain["forms"]),
        stripped=table(plain["stripped"]),
        phrases=phrases(plain["phrases"]),
        phrase_stems={
            language: phrases(found) for language, found in plain["phrase_stems"].items()
        },
        stems={language: table(found) for language, found in plain["stems"].items()},
        unspaced=[(form, hits[i]) for form, i in plain["unspaced"]],
        exclusions={
            concept: tuple(
                Exclusion(words, frozenset(langs), start, throughout)
                for words, langs, start, throughout in found
            )
            for concept, found in plain["exclusions"].items()
        },
        false_friends={
            concept: tuple(
                FalseFriend(description, context, unless, frozenset(langs), frozenset(forms))
                for description, context, unless, langs, forms in friends
            )
            for concept, friends in plain["false_friends"].items()
        },
        cues=frozenset(plain["cues"]),
        connectors=frozenset(plain["connectors"]),
        removed=bool(plain.get("removed")),
    )
    index_exclusions(lexicon)
    return lexicon
