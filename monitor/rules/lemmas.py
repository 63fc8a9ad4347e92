"""Lemmas of words in a known language, through simplemma.

simplemma's plain dictionaries take hundreds of megabytes per language (about
370 MB for Polish alone); its marisa-trie dictionaries hold the same data in
a few megabytes each, built once per language on first use (tens of seconds)
and kept in the user's cache folder (``$MONITOR_LEMMA_CACHE`` overrides it).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from pathlib import Path
from typing import Any

from monitor.rules.text import fold

log = logging.getLogger("monitor.rules.lemmas")
CACHE_ENV = "MONITOR_LEMMA_CACHE"
# Every language simplemma can lemmatise.
SUPPORTED = frozenset(
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
# Lemmatised by default: the news languages that have neither a dictionary nor a Snowball
# stemmer (monitor/rules/morphology.py). Each dictionary is built on first use (seconds to
# tens of seconds, a few hundred MB while building), so only the languages a user asks for
# in ``[matching] lemma_languages`` are.
COMMON = frozenset({"uk", "bg", "sk", "sl", "lv", "mk", "sq"})
_lock = threading.Lock()
_lemmatizer: Any = None
_factory: Any = None
_enabled: frozenset[str] = COMMON


def configure(languages: frozenset[str]) -> bool:
    """Lemmatise these languages (those simplemma supports) from now on; True if that changed."""
    global _enabled
    wanted = frozenset(languages) & SUPPORTED
    if wanted == _enabled:
        return False
    _enabled = wanted
    lemma.cache_clear()
    return True


def _load() -> Any:
    global _lemmatizer, _factory
    with _lock:
        if _lemmatizer is None:
            from simplemma import Lemmatizer
            from simplemma.strategies import DefaultStrategy
            from simplemma.strategies.dictionaries import TrieDictionaryFactory

            factory = TrieDictionaryFactory(
                cache_max_size=len(SUPPORTED), disk_cache_dir=os.environ.get(CACHE_ENV) or None
            )
            _factory = factory
            strategy = DefaultStrategy(dictionary_factory=factory)
            # Our own cache (below) replaces simplemma's, so its is switched off.
            _lemmatizer = Lemmatizer(cache_max_size=0, lemmatization_strategy=strategy)
        return _lemmatizer


@functools.lru_cache(maxsize=16_384)
def lemma(word: str, language: str) -> str | None:
    """The folded lemma of ``word`` in ``language``, or None for a language we do not lemmatise."""
    if language not in _enabled:
        return None
    return fold(str(_load().lemmatize(word, lang=language)))


def enabled() -> frozenset[str]:
    return _enabled


def warm() -> None:
    """Load (and on first use build) the enabled dictionaries now, before workers fork."""
    folder = _cache_folder()
    missing = sorted(
        code for code in _enabled if folder is None or not (folder / f"{code}.dic").exists()
    )
    if missing:
        log.warning(
            "building lemma dictionaries for %s: first use only, up to tens of seconds each; "
            "they are kept in %s",
            ", ".join(missing),
            folder,
        )
    for language in sorted(_enabled):
        lemma("test", language)


def _cache_folder() -> Path | None:
    _load()
    # simplemma does not publish where its factory keeps the tries; ask it, carefully.
    folder = getattr(_factory, "_cache_dir", None)
    return Path(folder) if folder is not None else None
