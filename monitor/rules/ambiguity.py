"""How the matcher decides what an ambiguous mention names (see README, "How ambiguous
names are decided"). Each check is general; what it applies to is data per concept and
language, in ``monitor/data/concepts/ambiguity.toml`` and the overlays:

- a **name** is written with a capital in scripts that have capitals ("Turkey", not
  "turkey" the bird), an **acronym** in capitals ("NATO", not Italian "nato", born) unless
  the concept's data let a language write "Nato"; in a field written all in capitals only
  the acronyms of the document's language count;
- a **capital** stands for its state only when it is capitalised and a cue word
  (authorities, said, talks, …) or another state's capital is within ``CUE_WINDOW``
  words: "Yerevan accuses Baku", "władze w Erywaniu", but not "the chess World Cup in
  Baku" or Polish "baku" (a fuel tank);
- a name that is also a **given name** in the document's language is a person's when
  another capitalised name stands right next to it in a sentence ("Jordan Henderson",
  "Michael Jordan"), unless the field is in title case;
- a mention inside an **exclusion** phrase names something else ("East Azerbaijan" is a
  province of Iran, "Chicken Kiev" a dish), in the languages the exclusion names, and at
  the start of a sentence only where it says so (Italian "Nato a Roma", born in Rome);
- a mention inside a **longer name** of something else is not the shorter name ("Guinea"
  in "Papua New Guinea");
- a **false friend** drops every mention in a document that has its context words and
  none of its ``unless`` words ("Armenia, Quindío" in a text about Colombia, "Georgia"
  near Atlanta and a governor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from monitor.rules import morphology
from monitor.rules.analysed import Analysis, Mention
from monitor.rules.lexicon import PROPER, Exclusion, FalseFriend, Lexicon
from monitor.rules.text import has_case, is_capitalised

CUE_WINDOW = 5


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a mention does not count; ``throughout``: nor do the document's other mentions
    of the same word ("Michael Jordan" makes a later "Jordan" him too)."""

    reason: str
    throughout: bool = False


def why_not(
    analysis: Analysis,
    lexicon: Lexicon,
    mention: Mention,
    capitals: dict[int, str],
    covered: dict[int, list[Mention]],
) -> Refusal | None:
    longer = _inside_longer(mention, covered)
    if longer is not None:
        return Refusal(f"part of the longer name {longer!r}, which names something else")
    concept = lexicon.concepts.get(mention.hit.concept)
    if mention.hit.category in PROPER and not _written_as_a_name(analysis, mention, concept):
        return Refusal("not written as a name is (in capitals, or with a capital)")
    if mention.hit.category == "capital" and not _stands_for_state(
        analysis, lexicon, mention, capitals
    ):
        return Refusal(
            "a capital with no cue word or other capital nearby: the city, not the state"
        )
    if concept is not None and _foreign_name(analysis, lexicon, mention, concept):
        return Refusal(
            f"not the name of {concept.id} in {analysis.language!r}, which names it otherwise: "
            "another place of that name"
        )
    if concept is not None and _a_persons_name(analysis, lexicon, mention, concept):
        return Refusal("a person's name here: another name stands next to it", throughout=True)
    index = lexicon.exclusion_index.get(mention.hit.concept, {})
    exclusion = _excluded(analysis, index, mention.position)
    if exclusion is not None:
        phrase = " ".join(exclusion.words)
        return Refusal(
            f"inside the phrase {phrase!r}, which names something else", exclusion.throughout
        )
    return None


def _foreign_name(analysis: Analysis, lexicon: Lexicon, mention: Mention, concept: Any) -> bool:
    """A form the data marks ``native_only`` counts only in documents of a language that
    names the concept so: "Georgia" is the country in English and Spanish texts, the US
    state in Turkish, Dutch or Polish ones (Gürcistan, Georgië, Gruzja)."""
    if not concept.native_only or analysis.language == "und" or mention.length != 1:
        return False
    word = analysis.folded[mention.position]
    if word not in concept.native_only:
        return False
    own = morphology.kin(analysis.language)
    return not any(
        hit.concept == concept.id and not hit.languages.isdisjoint(own)
        for hit in lexicon.forms.get(word, ())
    )


def _in_capitals(analysis: Analysis, position: int) -> bool:
    """Whether the field is written in capitals ("EL PRESIDENTE DE LA UE"): then capitals
    say nothing of an acronym."""
    _, offset = _field(analysis, position)
    key = ("in capitals", offset)
    found = analysis.memo.get(key)
    if found is None:
        last = analysis.title_length if offset == 0 else len(analysis.folded)
        cased = [w for w in analysis.words[offset:last] if len(w) > 2 and has_case(w)]
        found = len(cased) >= 3 and sum(1 for w in cased if w.isupper()) / len(cased) >= 0.8
        analysis.memo[key] = found
    return bool(found)


def _inside_longer(mention: Mention, covered: dict[int, list[Mention]]) -> str | None:
    for other in covered.get(mention.position, ()):
        if other.hit.concept != mention.hit.concept and (
            other.length > mention.length
            and other.position <= mention.position
            and mention.position + mention.length <= other.position + other.length
        ):
            return other.hit.concept
    return None


def _written_as_a_name(analysis: Analysis, mention: Mention, concept: Any) -> bool:
    """A name in a script with capitals starts with one; an acronym is in capitals."""
    written = analysis.words[mention.position]
    if not has_case(written):
        return True  # a script without case (Arabic, Georgian, Chinese)
    language = analysis.language
    if concept is not None and language in concept.lowercase:
        return True
    if mention.hit.category == "acronym" and mention.length == 1:
        if not written.isupper() and concept is not None and language in concept.lowercase_acronyms:
            return written[:1].isupper()
        # In a field all in capitals, only the acronyms of the document's own language count
        # (Spanish "EL" is not the Estonian acronym of the EU), and not those of two letters
        # ("TELL US").
        if written.isupper() and _in_capitals(analysis, mention.position):
            return len(written) > 2 and bool(mention.hit.languages & {language, "*"})
        return written.isupper()
    return written[:1].isupper()


_SENTENCE_END = re.compile(r"[.!?:;\u2026\"\u201c\u201d\u00ab\u00bb(\[]\s*$")


def _a_persons_name(analysis: Analysis, lexicon: Lexicon, mention: Mention, concept: Any) -> bool:
    """Whether a name that is also a given name stands for a person here: another
    capitalised word right next to it in one sentence ("Jordan Henderson", "Michael
    Jordan"), in a field that is not written in title case."""
    if analysis.folded[mention.position] not in concept.given_name or mention.length != 1:
        return False
    position = mention.position
    if _title_case(analysis, position):
        return False
    for other in (position - 1, position + mention.length):
        if not 0 <= other < len(analysis.folded) or not analysis.same_field(other, position):
            continue
        low, high = min(other, position), max(other, position + mention.length - 1)
        if _text_between(analysis, low, high).strip():
            continue  # a comma, a full stop: not one name
        word = analysis.words[other]
        details = analysis.info.get(analysis.folded[other])
        if not word[:1].isupper() or analysis.folded[other] in lexicon.cues:
            continue
        if details is not None and details.hits:
            continue  # another concept ("Jordan Israel" in a list), not a surname
        if other < position and _starts_sentence(analysis, other):
            continue  # "Today Jordan said": the first word of a sentence has its capital anyway
        return True
    return False


def _field(analysis: Analysis, position: int) -> tuple[str, int]:
    """The text of the field that holds ``position``, and the index of its first token."""
    if position < analysis.title_length:
        return analysis.title, 0
    return analysis.text, analysis.title_length


def _text_between(analysis: Analysis, first: int, last: int) -> str:
    """The characters between token ``first`` and the token after it, up to token ``last``."""
    text, _ = _field(analysis, first)
    tokens = analysis.tokens
    return text[tokens[first].end : tokens[first + 1].start] if first < last else ""


def _starts_sentence(analysis: Analysis, position: int) -> bool:
    text, offset = _field(analysis, position)
    before = text[: analysis.tokens[position].start]
    return position == offset or _SENTENCE_END.search(before) is not None


def _title_case(analysis: Analysis, position: int) -> bool:
    """Whether the field is written in title case: most of its longer words capitalised."""
    _, offset = _field(analysis, position)
    last = analysis.title_length if offset == 0 else len(analysis.folded)
    longer = [w for w in analysis.words[offset:last] if len(w) > 3]
    capitals = sum(1 for w in longer if w[:1].isupper())
    return len(longer) >= 3 and capitals / len(longer) >= 0.6


def _stands_for_state(
    analysis: Analysis, lexicon: Lexicon, mention: Mention, capitals: dict[int, str]
) -> bool:
    position = mention.position
    if not is_capitalised(analysis.words[position]):
        return False
    low, high = max(position - CUE_WINDOW, 0), position + CUE_WINDOW + 1
    for other in range(low, min(high, len(analysis.folded))):
        if other == position or not analysis.same_field(other, position):
            continue
        if analysis.folded[other] in lexicon.cues:
            return True
        if capitals.get(other, mention.hit.concept) != mention.hit.concept and _joined(
            analysis, lexicon, min(other, position), max(other, position)
        ):
            return True  # "Baku and Yerevan": two capitals joined stand for their states
    return False


def _joined(analysis: Analysis, lexicon: Lexicon, first: int, last: int) -> bool:
    """Whether nothing but a connector ("and", "i", "и", "ve") or a hyphen stands between
    two words: "Baku and Yerevan", "Baku-Yerevan", not "London with Baku"."""
    between = analysis.folded[first + 1 : last]
    return len(between) <= 1 and all(word in lexicon.connectors for word in between)


def _excluded(
    analysis: Analysis, index: dict[str, list[tuple[Exclusion, int]]], position: int
) -> Exclusion | None:
    for exclusion, offset in index.get(analysis.folded[position], ()):
        start = position - offset
        if start < 0 or not _phrase_at(analysis.folded, start, exclusion.words):
            continue
        if exclusion.languages and analysis.language not in exclusion.languages:
            continue
        if exclusion.sentence_start and not _starts_sentence(analysis, start):
            continue
        return exclusion
    return None


def _phrase_at(folded: list[str], start: int, phrase: tuple[str, ...]) -> bool:
    """Whether the document's words from ``start`` are ``phrase`` (a token ending in "*" is
    a prefix: "eyalet*" is eyaleti, eyaletindeki …)."""
    if start + len(phrase) > len(folded):
        return False
    for word, token in zip(folded[start : start + len(phrase)], phrase, strict=True):
        if word != token and not (token.endswith("*") and word.startswith(token[:-1])):
            return False
    return True


def false_friend(analysis: Analysis, lexicon: Lexicon, concept: str) -> FalseFriend | None:
    """The false friend the document's context points to, if any."""
    for friend in lexicon.false_friends.get(concept, ()):
        if friend.languages and analysis.language not in friend.languages:
            continue
        if _has_any(analysis, friend.context) and not _has_any(analysis, friend.unless):
            return friend
    return None


def _has_any(analysis: Analysis, phrases: tuple[tuple[str, ...], ...]) -> bool:
    folded = analysis.folded
    for phrase in phrases:
        if not phrase:
            continue
        first = phrase[0]
        if first.endswith("*"):
            starts = [
                p
                for word in analysis.info
                if word.startswith(first[:-1])
                for p in analysis.where(word)
            ]
        else:
            starts = analysis.where(first)
        if any(_phrase_at(folded, start, phrase) for start in starts):
            return True
    return False
