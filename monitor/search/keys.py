"""The search index's keys: what a stored document is filed under, and what a query asks for.

Both sides come from the matcher itself, so the index can only narrow the search, never
change its answer: a document is filed under every key the rule set's presearch would look
it up by (:meth:`monitor.rules.ruleset.RuleSet._rules_for`: each word's form, form without
diacritics, lemma, Snowball stem, three-letter prefix and name key, and every concept some
word may name), and a query asks for the keys of which any matching document has at least
one (``CompiledRule.keys``). The exact matcher then runs on the candidates alone.

Keys are hashed into short ASCII tokens (``k`` and the CRC-32 in hex) that SQLite's FTS5
and PostgreSQL's text search both take as they are, whatever the script of the word. Two
keys that share a hash only add a candidate, which the matcher then turns down; for the
same reason forms, lemmas, stems and prefixes share one space (an English stem that is
also a Polish word proposes a document the matcher reads and turns down), which files a
document under a third fewer tokens, and FTS5's insertion cost grows with them.

One difference from the presearch: a name is filed under its first :data:`MIN_STEM` letters
only (the presearch tries each of the name key's prefixes), and a query's name under the
same; a name key shorter than that finds nothing in the matcher either.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from monitor.rules.analysed import Analysis, WordInfo
from monitor.rules.analysis import WORDS_KEPT
from monitor.rules.mentions import Mentions
from monitor.rules.names import MIN_SKELETON, MIN_STEM
from monitor.rules.ruleset import CompiledRule


@dataclass(frozen=True, slots=True)
class IndexTexts:
    """Index texts made alongside matching: ``document_id -> tokens`` for one lexicon."""

    fingerprint: str
    texts: Mapping[str, str]


# A prefix query ("ab*") shorter than this has no key: it is run over every document.
PREFIX = 3
# What sets concepts and name keys apart from words (which hold neither character).
CONCEPT = "\x01"
NAME = "\x02"

# language -> word -> its tokens: documents share most of their words.
_tokens: dict[str, dict[str, tuple[str, ...]]] = {}
_cached = 0


def token(value: str) -> str:
    """One key as the index stores it."""
    return "k%x" % zlib.crc32(value.encode())  # noqa: UP031  (twice as fast here)


def document_tokens(doc: Analysis) -> str:
    """Every token ``doc`` is filed under, space-separated (the index's text)."""
    global _cached
    if _cached > WORDS_KEPT:
        _tokens.clear()
        _cached = 0
    cache = _tokens.setdefault(doc.language, {})
    parts = list(map(cache.get, doc.info))
    if None in parts:
        for index, word in enumerate(doc.info):
            if parts[index] is None:
                parts[index] = cache[word] = _word_tokens(word, doc.info[word])
                _cached += 1
    found: set[str] = set().union(*parts)  # type: ignore[arg-type]  # no None is left
    mentions = doc.mentions
    concepts = mentions.candidates() if isinstance(mentions, Mentions) else mentions.keys()
    found.update(token(CONCEPT + concept) for concept in concepts)
    return " ".join(found)


def _word_tokens(word: str, info: WordInfo) -> tuple[str, ...]:
    # Forms, lemmas, stems and prefixes share one space: a stem or prefix that is also a
    # word (most are) costs no second token, and a clash only adds a candidate.
    keys = {word, info.stripped, word[:PREFIX]}
    if info.lemma is not None:
        keys.add(info.lemma)
    if info.stem is not None:
        keys.add(info.stem)
    if info.consonants:
        if len(info.consonants) >= MIN_SKELETON:
            keys.add(NAME + info.consonants)
    elif len(info.name) >= MIN_STEM:
        keys.add(NAME + info.name[:MIN_STEM])
    return tuple(map(token, keys))


def query_tokens(rule: CompiledRule) -> list[str] | None:
    """The tokens of which every document ``rule`` matches holds one; None: no such set
    (a query of only NOT or ``lang:``, or a very short prefix), so every document is read."""
    if rule.keys is None:
        return None
    found = set()
    for kind, value in rule.keys:
        if kind == "p" and len(value) < PREFIX:
            return None
        key = _query_key(kind, value)
        if key is not None:
            found.add(token(key))
    return sorted(found)


def _query_key(kind: str, value: str) -> str | None:
    if kind == "c":
        return CONCEPT + value
    if kind == "k":
        return NAME + value
    if kind == "n":
        # Names are filed at MIN_STEM letters; a shorter name key is no prefix the
        # presearch tries, so it finds nothing and needs no token.
        return NAME + value[:MIN_STEM] if len(value) >= MIN_STEM else None
    return value  # forms, forms without diacritics, stems, prefixes: one space


def forget() -> None:
    """Drop the word cache (the lexicon changed: lemmas and concepts may differ)."""
    global _cached
    _tokens.clear()
    _cached = 0
