"""Lemmas of words in a known language, through simplemma.

simplemma's plain dictionaries take hundreds of megabytes per language (about
370 MB for Polish alone); its marisa-trie dictionaries hold the same data in
a few megabytes each, built once per language on first use (tens of seconds)
and kept in the user's cache folder (``$MONITOR_LEMMA_CACHE`` overrides it).
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any

from monitor.rules.text import fold

CACHE_ENV = "MONITOR_LEMMA_CACHE"
# The languages lemmatised; others are matched on surface forms and the lexicon only.
LANGUAGES = frozenset(
    [
        "ar",
        "bg",
        "ca",
        "cs",
        "cy",
        "da",
        "de",
        "el",
        "en",
        "es",
        "et",
        "fa",
        "fi",
        "fr",
        "ga",
        "gd",
        "gl",
        "he",
        "hi",
        "hu",
        "hy",
        "id",
        "is",
        "it",
        "ka",
        "la",
        "lb",
        "lt",
        "lv",
        "mk",
        "ml",
        "ms",
        "nb",
        "nl",
        "nn",
        "pl",
        "pt",
        "ro",
        "ru",
        "sk",
        "sl",
        "sq",
        "sv",
        "sw",
        "tl",
        "tr",
        "uk",
    ]
)
_lock = threading.Lock()
_lemmatizer: Any = None


def _load() -> Any:
    global _lemmatizer
    with _lock:
        if _lemmatizer is None:
            from simplemma import Lemmatizer
            from simplemma.strategies import DefaultStrategy
            from simplemma.strategies.dictionaries import TrieDictionaryFactory

            factory = TrieDictionaryFactory(
                cache_max_size=len(LANGUAGES), disk_cache_dir=os.environ.get(CACHE_ENV) or None
            )
            strategy = DefaultStrategy(dictionary_factory=factory)
            # Our own cache (below) replaces simplemma's, so its is switched off.
            _lemmatizer = Lemmatizer(cache_max_size=0, lemmatization_strategy=strategy)
        return _lemmatizer


@functools.lru_cache(maxsize=262_144)
def lemma(word: str, language: str) -> str | None:
    """The folded lemma of ``word`` in ``language``, or None for a language we do not lemmatise."""
    if language not in LANGUAGES:
        return None
    return fold(str(_load().lemmatize(word, lang=language)))


# Loaded up front by the daemon (before it forks its workers); others load on first use.
COMMON = frozenset({"en", "pl", "ru", "uk", "de", "fr", "tr", "es", "it", "pt"})


def warm(languages: frozenset[str] = COMMON) -> None:
    """Load (and on first use build) the dictionaries of ``languages`` now."""
    for language in sorted(languages & LANGUAGES):
        lemma("test", language)
