"""The hits of a rule word that names a concept: its mentions that count, each with how it
was found and where the form came from (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.rules.analysed import Analysis, Mention
from monitor.rules.lexicon import FormHit
from monitor.rules.text import fold
from monitor.rules.word_terms import Hit


def concept_hits(
    word: str, concepts: Iterable[str], languages: frozenset[str], doc: Analysis
) -> list[Hit]:
    """``word`` (as the rule writes it, in ``languages``) found through its concepts."""
    return [
        Hit(word, m.position, _via(word, languages, m, doc), _concept_origin(m, doc))
        for concept in concepts
        for m in doc.mentions.get(concept, ())
    ]


def _via(word: str, languages: frozenset[str], mention: Mention, doc: Analysis) -> str:
    category = mention.hit.category
    if mention.via != "form":
        return mention.via  # lemma or diacritics
    if category in ("capital", "alias", "demonym", "adjective"):
        return category
    if doc.folded[mention.position] == fold(word):
        return "surface"
    if languages & mention.hit.languages & {doc.language}:
        return "inflection"
    return "translation"


# (id of a meaning, via, language) -> (the meaning, its origin): by identity, since hashing
# a meaning hashes all its fields; the meaning kept beside it so a reused id is told apart.
_ORIGINS: dict[tuple[int, str, str], tuple[FormHit, str]] = {}


def _concept_origin(mention: Mention, doc: Analysis) -> str:
    hit = mention.hit
    key = (id(hit), mention.via, doc.language)
    known = _ORIGINS.get(key)
    if known is None or known[0] is not hit:
        if len(_ORIGINS) > 65_536:
            _ORIGINS.clear()
        known = _ORIGINS[key] = (hit, origin(hit, mention.via, doc.language))
    return known[1]


def origin(hit: FormHit, via: str, language: str) -> str:
    """ "UA: pl name, from morfeusz2": the concept, the form's kind and languages, its source."""
    languages = sorted(hit.languages)
    shown = ", ".join(languages[:4]) + (f" +{len(languages) - 4}" if len(languages) > 4 else "")
    how = {"stem": f", by its Snowball stem ({language})", "lemma": ", by its lemma"}
    return f"{hit.concept}: {shown} {hit.category}, from {hit.origin}{how.get(via, '')}"
