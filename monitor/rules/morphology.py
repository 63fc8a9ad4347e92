"""Each language's morphology: how the forms of one word are found (words in, forms out).

A rule word and a document word meet through the morphology of the document's language,
and a word's forms come from the word's own analysis, never from mapping every document
word onto the lemma of some other word (that made the rule word "Roka" match Polish
"roku", of the year):

- **Polish**: morfeusz2 (the SGJP dictionary) generates every form of a known word; an
  unknown word (a company, a surname) gets the endings of its declension class
  (:data:`POLISH_ENDINGS`), minus any form the dictionary knows as another word.
- **Russian**: pymorphy3 generates every form; its guesser inflects unknown words too.
- **Snowball stemmers** (German, French, Spanish, Italian, Portuguese, Dutch, Swedish,
  Czech, Turkish, Romanian, Hungarian, Greek, Arabic, …): two words meet when their stems
  are equal; a stem shorter than :data:`MIN_STEM` decides nothing.
- **simplemma** for the other languages configured (``[matching] lemma_languages``): a
  document word meets the rule word when its lemma *is* the rule word.

The dictionaries load on first use. Only the compiling of rules and concepts needs
morfeusz2 and pymorphy3; reading a document needs only the stemmers and simplemma.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from monitor.rules.text import fold

log = logging.getLogger("monitor.rules.morphology")

# ISO 639-1 -> Snowball algorithm. Polish and Russian have dictionaries instead.
SNOWBALL = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "et": "estonian", "fi": "finnish",
    "fr": "french", "de": "german", "el": "greek", "hi": "hindi", "hu": "hungarian",
    "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian", "ne": "nepali",
    "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "fa": "persian",
    "pt": "portuguese", "ro": "romanian", "sr": "serbian", "es": "spanish", "sv": "swedish",
    "ta": "tamil", "tr": "turkish", "yi": "yiddish", "hr": "serbian", "bs": "serbian",
}  # fmt: skip
GENERATED = frozenset({"pl", "ru"})
# Languages whose names of places inflect (German "Deutschlands", Czech "Německa"): there a
# name's stem finds its forms. In English, French, Spanish, Italian and Portuguese names do
# not inflect, and a name's stem would find common words ("turkeys", the birds).
# Arabic and Persian are here for their clitics: "بالنيجر" (in Niger) stems to نيجر.
INFLECTED_NAMES = frozenset(
    {"cs", "da", "de", "el", "et", "fi", "hu", "lt", "nl", "no", "nb", "nn", "ro", "sr", "sv",
     "tr", "hy", "eu", "ga", "ar", "fa", "hr", "bs"}
)  # fmt: skip
# Languages whose names take endings (with no stemmer of their own among them: Ukrainian,
# Slovak …): a name's other spellings may add an ending there ("Zełenskiego").
_NAMES_TAKE_ENDINGS = (
    INFLECTED_NAMES
    | GENERATED
    | frozenset(
        {"uk", "be", "bg", "sk", "sl", "hr", "bs", "lv", "mk", "sq", "ka", "he", "ur", "hi", "und"}
    )
)
MIN_STEM = 4
# Languages that write the same common words: a Bosnian adjective is also Croatian and
# Serbian (Latin script), a Malay one Indonesian, a Danish one Norwegian.
_KIN = (frozenset({"bs", "hr", "sr"}), frozenset({"da", "nb", "nn", "no"}), frozenset({"id", "ms"}))


# Letters that join a word in front of it: Arabic and Persian "and", "so", "with", "for",
# "like" and the article (بالنيجر: in Niger; لأوكرانيا: for Ukraine), Hebrew "the", "in",
# "to", "and", "from", "that", "as" (בגרמניה: in Germany). Longest first.
_CLITICS = {
    "ar": ("وبال", "وال", "بال", "كال", "فال", "لل", "ال", "و", "ف", "ب", "ل", "ك"),
    "fa": ("و", "ب"),
    "ur": ("و",),
    "he": ("וב", "ול", "ומ", "וה", "שב", "של", "שה", "כש", "מה", "לה", "בה", "ב", "ל", "ו", "מ", "ש", "ה", "כ"),  # noqa: RUF001
}  # fmt: skip


def without_clitics(word: str, language: str) -> list[str]:
    """``word`` without the letters its language joins in front of words, longest first."""
    return [
        word[len(clitic) :]
        for clitic in _CLITICS.get(language, ())
        if word.startswith(clitic) and len(word) - len(clitic) >= 3
    ]


def kin(language: str) -> frozenset[str]:
    """``language`` and the languages whose common words it shares."""
    for group in _KIN:
        if language in group:
            return group
    return frozenset({language})


# Endings of Polish nouns for a word the dictionary does not know, by the word's ending:
# the longest matching key decides. Each value lists (what to cut, what to add).
POLISH_ENDINGS: dict[str, tuple[tuple[str, str], ...]] = {
    # Orlen, Boeing, Gazprom: masculine hard stems.
    "": (("", "a"), ("", "u"), ("", "owi"), ("", "em"), ("", "ie"), ("", "y"), ("", "ów"),
         ("", "om"), ("", "ami"), ("", "ach")),
    # Nowak-like stems in -k/-g take -iem and -i.
    "k": (("", "a"), ("", "u"), ("", "owi"), ("", "iem"), ("", "u"), ("", "i"), ("", "ów")),
    "g": (("", "a"), ("", "u"), ("", "owi"), ("", "iem"), ("", "u"), ("", "i"), ("", "ów")),
    # Tesla, Toyota: feminine -a.
    "a": (("a", "y"), ("a", "i"), ("a", "ę"), ("a", "ą"), ("a", "ie"), ("a", "o")),
    "ka": (("a", "i"), ("ka", "ce"), ("a", "ę"), ("a", "ą"), ("a", "o")),
    # Zełenski, Kowalski: adjectival surnames.
    "ski": (("i", "iego"), ("i", "iemu"), ("i", "im"), ("ski", "scy"), ("i", "ich"), ("i", "imi")),
    "cki": (("i", "iego"), ("i", "iemu"), ("i", "im"), ("cki", "ccy"), ("i", "ich"), ("i", "imi")),
    "y": (("y", "ego"), ("y", "emu"), ("y", "ym"), ("y", "i"), ("y", "ych"), ("y", "ymi")),
    # Renault, Peugeot written as pronounced: left alone (the dictionary or the surface).
    "o": (),
    "e": (),
    "i": (),
    "u": (),
}  # fmt: skip


@functools.cache
def _stemmer(language: str) -> Any:
    import Stemmer

    return Stemmer.Stemmer(SNOWBALL[language])


@functools.lru_cache(maxsize=16_384)
def stem(word: str, language: str) -> str | None:
    """The Snowball stem of a folded word, or None where there is no stemmer or it is short."""
    if language not in SNOWBALL or language in GENERATED:
        return None
    found = str(_stemmer(language).stemWord(word))
    return found if len(found) >= MIN_STEM else None


def stems_names(language: str) -> bool:
    return language in INFLECTED_NAMES


def names_take_endings(language: str) -> bool:
    """Whether a name takes case endings in ``language`` (not in English, French, Spanish…)."""
    return language in _NAMES_TAKE_ENDINGS


_lock = threading.Lock()


@functools.cache
def _morfeusz() -> Any:
    with _lock:
        import morfeusz2

        return morfeusz2.Morfeusz(generate=True)


@functools.cache
def _pymorphy() -> Any:
    with _lock:
        import pymorphy3

        return pymorphy3.MorphAnalyzer()


# Inflections worked out elsewhere (monitor.rules.inflection_cache: in a short-lived child
# process, or read back from disk), so that a daemon never loads the generators itself.
_known: dict[tuple[str, str], frozenset[str]] = {}


def remember(found: Mapping[tuple[str, str], Iterable[str]]) -> None:
    """Take the inflections of (language, word) pairs worked out elsewhere."""
    for key, forms in found.items():
        _known[key] = frozenset(forms)


def known(language: str, word: str) -> bool:
    return (language, word) in _known


@functools.lru_cache(maxsize=4_096)
def inflections(word: str, language: str) -> frozenset[str]:
    """Every form of ``word`` (as written) in ``language``, folded; empty where the language
    has no generation (Polish and Russian do)."""
    found = _known.get((language, word))
    if found is not None:
        return found
    if language == "pl":
        return frozenset(fold(form) for form in _polish(word))
    if language == "ru":
        return frozenset(fold(form) for form in _russian(word))
    return frozenset()


def _polish(word: str) -> set[str]:
    morfeusz = _morfeusz()
    analyses = morfeusz.analyse(word)
    lemmas = {
        lemma
        for _start, _end, (_form, lemma, tag, _kinds, _quals) in analyses
        if fold(lemma.split(":", 1)[0]) == fold(word) and tag.split(":", 1)[0] in ("subst", "adj")
    }
    if lemmas:
        return {form for lemma in lemmas for form, *_ in morfeusz.generate(lemma)}
    if any(tag != "ign" for _s, _e, (_f, _l, tag, _k, _q) in analyses):
        return {word}  # a form of some other word: it is not a name of its own to inflect
    if not word[:1].isupper():
        return {word}  # an unknown common word is not Polish ("turkey"): nothing to guess
    return {word, *(_guessed_polish(word))}


def _guessed_polish(word: str) -> list[str]:
    """Forms of an unknown word by its ending, minus those the dictionary knows as other
    words ("Roka" would otherwise give "roku", of the year)."""
    lowered = word.lower()
    ending = max((e for e in POLISH_ENDINGS if lowered.endswith(e)), key=len)
    guesses = []
    for cut, add in POLISH_ENDINGS[ending]:
        if cut and not lowered.endswith(cut):
            continue
        guesses.append(word[: len(word) - len(cut)] + add)
    morfeusz = _morfeusz()
    return [
        guess
        for guess in guesses
        if all(tag == "ign" for _s, _e, (_f, _l, tag, _k, _q) in morfeusz.analyse(guess))
    ]


def _russian(word: str) -> set[str]:
    if not any("\u0400" <= c <= "\u04ff" for c in word):
        return set()  # a Latin name reaches Russian text through its transliteration key
    lowered = word.lower()
    found: set[str] = set()
    for parse in _pymorphy().parse(word):
        if parse.normal_form not in (lowered, lowered.replace("\u0451", "\u0435")):
            continue
        found.update(form.word for form in parse.lexeme if form.tag.POS == parse.tag.POS)
    if not found:
        # Not a lemma itself (an inflected rule word): the forms of its most likely lemma.
        best = _pymorphy().parse(word)[0]
        found.update(form.word for form in best.lexeme if form.tag.POS == best.tag.POS)
    return found


def loaded() -> list[str]:
    """The dictionaries loaded in this process (for a start-up log line)."""
    return [
        name
        for name, cached in (("morfeusz2", _morfeusz), ("pymorphy3", _pymorphy))
        if cached.cache_info().currsize
    ]
