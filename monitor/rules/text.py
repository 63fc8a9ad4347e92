"""Words as the matcher sees them: tokens, casefolding and diacritic folding (pure).

A token is a run of letters and digits. Apostrophes and hyphens end a token,
so Turkish ``Ermenistan'a`` yields ``Ermenistan`` (its case suffix becomes a
token of its own), English ``Armenia's`` yields ``Armenia`` and the compound
``azersko-ormiańskich`` yields both halves.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

# Letters and digits, plus the combining marks that \w leaves out (Devanagari vowel signs,
# Arabic harakat, Hebrew niqqud), which would otherwise split a word in two.
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
    "\u0900-\u0963\u0966-\u0dff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff"
)
_TOKEN = re.compile(rf"[\w{_MARKS}]+")  # twice as fast as an alternation; "_" handled below
_TOKEN_NO_UNDERSCORE = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
# Scripts written without spaces: their words are found as substrings, not tokens.
# Chinese, Japanese, Thai, Lao, Khmer, Myanmar.
_UNSPACED = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1780-\u17ff"
    r"\u1000-\u109f]"
)
# Letters that NFKD does not take apart but that people drop when typing without diacritics.
_PLAIN = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "\u0131": "i",
        "ð": "d",
        "þ": "th",
    }
)


@dataclass(frozen=True, slots=True)
class Token:
    text: str  # as written
    start: int  # character offset in its field
    end: int


def _pattern(text: str) -> re.Pattern[str]:
    # An underscore is a word character to \w but not a letter to us.
    return _TOKEN_NO_UNDERSCORE if "_" in text else _TOKEN


def words(text: str) -> list[str]:
    """The tokens' text only: what matching needs, several times faster than :func:`tokenize`."""
    return _pattern(text).findall(text)


def tokenize(text: str) -> list[Token]:
    return [Token(m.group(), m.start(), m.end()) for m in _pattern(text).finditer(text)]


@functools.lru_cache(maxsize=16_384)
def fold(word: str) -> str:
    """Casefolded and NFC; Turkish ``İ`` loses the dot that casefolding leaves behind."""
    return unicodedata.normalize("NFC", word.casefold().replace("\u0307", ""))


# Letters that look like a letter with a diacritic but are letters of their own, which no
# one drops when typing: Cyrillic й (германий, germanium, is not Германии), Ukrainian ї,
# Belarusian ў.
_KEEP = frozenset("йїў")


@functools.lru_cache(maxsize=16_384)
def strip_diacritics(word: str) -> str:
    """``fold(word)`` without diacritics: ``Azerbejdżanu`` -> ``azerbejdzanu``."""
    folded = fold(word).translate(_PLAIN)
    if not _KEEP.isdisjoint(folded):
        return "".join(c if c in _KEEP else _plain_letter(c) for c in folded)
    return _plain_letter(folded)


def _plain_letter(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def has_unspaced_script(text: str) -> bool:
    return _UNSPACED.search(text) is not None


# Georgian has had capital letters (Mtavruli) in Unicode since 2018, but news is not
# written with them: its ordinary letters are "lower case" to Python and caseless to a reader.
_CASELESS = re.compile(r"[\u10a0-\u10ff\u1c90-\u1cbf\u2d00-\u2d2f]")


def has_case(word: str) -> bool:
    """Whether the word's first letter belongs to a script that writes capitals."""
    first = word[:1]
    return (first.isupper() or first.islower()) and _CASELESS.match(first) is None


def is_capitalised(word: str) -> bool:
    """Upper case first letter, or a script without case (Arabic, Georgian, Chinese…)."""
    return word[:1].isupper() or (word[:1].isalpha() and not has_case(word))
