"""Names across scripts and spellings: one key for Zelensky, Зеленский and Selenskyj (pure).

A name's key is its letters in ASCII (anyascii, for every script), lower case, with the
spellings that languages use for the same sounds folded together: the Slavic surname
endings (-skyy, -skyi, -skij, -skyj, -sky, -ski), sz/sh/sch, cz/ch/tsch, zh, w/v, j/y/i,
a leading s for z (German "Selenskyj", Hungarian "Zelenszkij"), doubled letters. A
document word is a form of a rule's name when its key starts with the name's stem (its key
without the final vowels) and adds at most :data:`MAX_ENDING` letters, in a language
whose names inflect (Zełenskiego, Зеленського, Selenskyjs, Zelenszkijjel); elsewhere
(English, French, Spanish …) its key must be the name's key itself, so that "Orlene" (a
hurricane) is not Orlen. Unrelated names stay apart because the whole stem must be there:
Zieliński, Зелинский, Zelenograd and Zelenka are not Zelensky.

Scripts that write few vowels (Arabic, Persian, Hebrew, Urdu) are compared by their
consonants: زيلينسكي and Zelensky share z-l-n-s-k. Names those scripts spell otherwise
need ``[aliases]``.
"""

from __future__ import annotations

import functools
import re

MAX_ENDING = 5
# A stem this short would find too many other words by its start (Roka -> "rok").
MIN_STEM = 5
# Consonants a name must have for its skeleton to be compared (abjad scripts).
MIN_SKELETON = 4
_ENDINGS = re.compile(r"(sk|ck|tsk|zk|c)(ii|i)$")
_DOUBLES = re.compile(r"(.)\1+")
_VOWELS = "aeiou"
_SOUNDS = (
    ("tsch", "c"), ("tch", "c"), ("sch", "s"), ("cz", "c"), ("ch", "c"), ("sz", "s"),
    ("sh", "s"), ("zh", "z"), ("kh", "h"), ("ph", "f"), ("ck", "k"), ("w", "v"), ("y", "i"),
    ("j", "i"),
)  # fmt: skip
_ABJAD = re.compile(r"[\u0590-\u05ff\u0600-\u06ff\u0750-\u077f\ufb1d-\ufdff\ufe70-\ufeff]")
# Arabic and Persian letters that join a word in front: and, so, with/in, for/to, like, the.
_CLITICS = re.compile(r"^(?:[وف]?(?:[بلك]|ال|لل|بال|كال)|[وف])(?=..)")


@functools.lru_cache(maxsize=16_384)
def name_key(word: str) -> str:
    """The spelling-independent key of a word (empty for a word with no letters)."""
    from anyascii import anyascii

    key = "".join(c for c in anyascii(word).lower() if c.isalpha())
    for spelling, sound in _SOUNDS:
        key = key.replace(spelling, sound)
    key = _DOUBLES.sub(r"\1", key)
    key = _ENDINGS.sub(r"\1i", key)
    if key.startswith("s") and not key.startswith(("sk", "st", "sp", "sm", "sn", "sl")):
        key = "z" + key[1:]
    return key


def name_stem(word: str) -> str | None:
    """The stem a document word's key must start with; None for a name too short to bear one."""
    stem = name_key(word).rstrip(_VOWELS)
    return stem if len(stem) >= MIN_STEM else None


def skeleton(word: str) -> str:
    """A word's consonants, for scripts that leave vowels out (Arabic ي and و are vowels here)."""
    if _ABJAD.search(word):
        word = _CLITICS.sub("", word)
    return "".join(c for c in name_key(word) if c not in "aeiouvh")


def is_abjad(word: str) -> bool:
    return _ABJAD.search(word) is not None


def is_name_form(stem: str, key: str, word: str, *, inflects: bool) -> bool:
    """Whether ``word`` is the name of ``key`` (its stem ``stem``) in some spelling, and, in
    a language whose names inflect (``inflects``), in some inflection.

    A Slavic surname in -ski is a man's; its feminine (Zelenska, Зеленская, Зеленська) is
    another person, his wife or a namesake, and is left out.
    """
    if is_abjad(word):
        consonants = skeleton(key)
        return len(consonants) >= MIN_SKELETON and skeleton(word) == consonants
    found = name_key(word)
    if not inflects:
        return found == key
    if not found.startswith(stem) or len(found) - len(stem) > MAX_ENDING:
        return False
    return not (stem.endswith("sk") and found[len(stem) : len(stem) + 1] == "a")


def key_prefixes(key: str) -> list[str]:
    """The stems a word of key ``key`` can be a form of: the key less up to
    :data:`MAX_ENDING` letters, none shorter than :data:`MIN_STEM` (presearch keys)."""
    return [key[:size] for size in range(max(MIN_STEM, len(key) - MAX_ENDING), len(key) + 1)]


def looks_like_a_name(word: str) -> bool:
    """A rule word written as a name is: a capital first, letters only."""
    return word[:1].isupper() and word.isalpha() and not word.isupper()
