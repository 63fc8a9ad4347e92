"""Names across scripts and spellings: one key for Zelensky, Зеленский and Selenskyj (pure).

A name's key is its letters in ASCII (anyascii, for every script), lower case, with the
spellings that languages use for the same sounds folded together: the Slavic surname
endings (-skyy, -skyi, -skij, -skyj, -sky, -ski), w/v, a leading s for z (German
"Selenskyj"), doubled letters. A document word is a form of a rule's name when its key
starts with the name's stem (its key without the final vowels) and adds at most
:data:`MAX_ENDING` letters: Zełenskiego, Зеленського, Selenskyjs, Zelensky'nin (split at
the apostrophe). Unrelated names stay apart because the whole stem must be there:
Zieliński, Зелинский, Zelenograd and Zelenka are not Zelensky.

Scripts that do not write vowels (Arabic, Persian) do not reach a Latin key this way:
those need ``[aliases]``.
"""

from __future__ import annotations

import functools
import re

MAX_ENDING = 5
# A stem this short would find too many other words by its start (Roka -> "rok").
MIN_STEM = 5
_ENDINGS = re.compile(r"(sk|ck|tsk|zk)(yy|yi|iy|ij|yj|y|i|ii|ij|iy)$")
_DOUBLES = re.compile(r"(.)\1+")
_VOWELS = "aeiouy"


@functools.lru_cache(maxsize=262_144)
def name_key(word: str) -> str:
    """The spelling-independent key of a word (empty for a word with no letters)."""
    from anyascii import anyascii

    key = "".join(c for c in anyascii(word).lower() if c.isalpha())
    key = key.replace("w", "v").replace("kh", "h").replace("ph", "f").replace("ck", "k")
    key = _ENDINGS.sub(r"\1i", key)
    if key.startswith("s") and not key.startswith(("sh", "sch", "sk", "st", "sp", "sm", "sn")):
        key = "z" + key[1:]
    return _DOUBLES.sub(r"\1", key)


def name_stem(word: str) -> str | None:
    """The stem a document word's key must start with; None for a name too short to bear one."""
    stem = name_key(word).rstrip(_VOWELS)
    return stem if len(stem) >= MIN_STEM else None


def is_name_form(stem: str, word: str) -> bool:
    """Whether ``word`` is the name of ``stem`` in some spelling and inflection.

    A Slavic surname in -ski is a man's; its feminine (Zelenska, Зеленская, Зеленська) is
    another person, his wife or a namesake, and is left out.
    """
    key = name_key(word)
    if not key.startswith(stem) or len(key) - len(stem) > MAX_ENDING:
        return False
    return not (stem.endswith("sk") and key[len(stem) : len(stem) + 1] == "a")


def looks_like_a_name(word: str) -> bool:
    """A rule word written as a name is: a capital first, letters only."""
    return word[:1].isupper() and word.isalpha() and not word.isupper()
