"""Case forms of Ukrainian place and organisation names, by rule (for build_concepts.py).

No Ukrainian morphology dictionary with a permissive licence is packaged (pymorphy3's
Ukrainian dictionary is GPLv3), and Snowball has no Ukrainian stemmer. Names of places
decline by a few regular patterns, which these rules follow: Україна -> України, Україні,
Україну, Україною; Грузія -> Грузії, Грузію, Грузією; Азербайджан -> Азербайджану,
Азербайджані, Азербайджаном; Київ -> Києва, Києві (the і/ї of a last closed syllable
becomes о/є: Львів -> Львова, Харків -> Харкова). A rule can make a form that no one
writes (Азербайджана); it costs nothing, since it names nothing else. In a name of several
words the adjectives before the head noun agree with it (Європейський Союз -> Європейського
Союзу, Південна Африка -> Південної Африки) and the words after it stay as they are
(Організація Об'єднаних Націй -> Організації Об'єднаних Націй).
"""

from __future__ import annotations

import re

NAME = "rule:uk"
_VOWELS = "аеєиіїоуюяь'’"
_SOFTENED = {"к": "ц", "г": "з", "х": "с"}  # Африка -> Африці
_HUSHING = "жчшщ"
_CLOSED = re.compile(r"^(.*)([іїі])([^аеєиіїоуюяь'’]+)$")


def noun_forms(word: str) -> list[str]:
    """The case forms of a noun that is a name (singular, or plural in -и)."""
    lower = word.lower()
    if lower.endswith("ія"):
        stem = word[:-1]
        return [stem + e for e in ("ї", "ю", "єю", "є")]
    if lower.endswith("я"):
        stem = word[:-1]
        return [stem + e for e in ("і", "ю", "ею", "е")]
    if lower.endswith("а"):
        stem = word[:-1]
        last = stem[-1:].lower()
        genitive = "і" if last in _HUSHING else "и"
        locative = stem[:-1] + _SOFTENED[last] + "і" if last in _SOFTENED else stem + "і"
        instrumental = "ею" if last in _HUSHING else "ою"
        return [stem + genitive, locative, stem + "у", stem + instrumental, stem + "о"]
    if lower.endswith("и"):  # Нідерланди, Філіппіни, Штати
        stem = word[:-1]
        return [stem + e for e in ("ів", "ам", "ами", "ах")]
    if lower.endswith("ь"):
        stems = _stems(word[:-1])
        return [s + e for s in stems for e in ("я", "ю", "ем", "і")]
    if lower.endswith("й"):
        stem = word[:-1]
        return [stem + e for e in ("я", "ю", "єм", "ї")]
    if lower[-1:] and lower[-1] not in _VOWELS:
        return [s + e for s in _stems(word) for e in ("а", "у", "ові", "ом", "і", "е")]
    return []  # Токіо, Монако: not declined


def _stems(stem: str) -> list[str]:
    """A stem, and its form with the vowel of a closed last syllable alternated."""
    found = _CLOSED.match(stem)
    if found is None:
        return [stem]
    vowel = "є" if found.group(2) == "ї" else "о"
    return [stem, found.group(1) + vowel + found.group(3)]


def adjective_forms(word: str) -> list[str]:
    lower = word.lower()
    if lower.endswith("ий"):
        stem = word[:-2]
        return [stem + e for e in ("ого", "ому", "им", "ім")]
    if lower.endswith("ій"):
        stem = word[:-2]
        return [stem + e for e in ("ього", "ьому", "ім")]
    if lower.endswith("а"):
        stem = word[:-1]
        return [stem + e for e in ("ої", "ій", "у", "ою")]
    if lower.endswith("е"):
        stem = word[:-1]
        return [stem + e for e in ("ого", "ому", "им", "ім")]
    if lower.endswith("і"):
        stem = word[:-1]
        return [stem + e for e in ("их", "им", "ими")]
    return []


def _adjective(word: str, last: bool) -> bool:
    lower = word.lower()
    return lower.endswith(("ий", "ій")) or (not last and lower.endswith(("а", "е", "і")))


def name_slots(text: str) -> list[list[str]]:
    """Per word of a name, the word and its forms: adjectives up to the head noun agree, the
    head declines, the rest stays."""
    words = text.split()
    slots: list[list[str]] = []
    head_seen = False
    for index, word in enumerate(words):
        if head_seen or "-" in word:
            slots.append([word])
            continue
        if len(words) > 1 and _adjective(word, index == len(words) - 1):
            slots.append([word, *adjective_forms(word)])
        else:
            slots.append([word, *noun_forms(word)])
            head_seen = True
    return slots
