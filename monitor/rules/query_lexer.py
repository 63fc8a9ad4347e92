"""The query language's lexer: a query's text into tokens that know where they stand.

Every token keeps its position and its text exactly as written, so an error can name
the character it is about (``at 14: unexpected ')'``). See :mod:`monitor.rules.query`
for the grammar the tokens feed.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal, TypeAlias

from monitor.errors import QueryError

DEFAULT_NEAR = 10
MAX_NEAR = 100

# Turkish writes suffixes after an apostrophe (Ermenistan'a, often with U+2019), and names
# such as Nagorno-Karabakh carry hyphens: inside a word these belong to it.
_JOINERS = frozenset("'\u2019-")

# A token's kind: what it is, or the keyword or bracket itself.
TokenKind: TypeAlias = Literal[
    "word", "prefix", "phrase", "field", "AND", "OR", "NOT", "NEAR", "(", ")", "end"
]

OPERATORS = frozenset({"AND", "OR", "NOT", "NEAR"})
_KEYWORDS: dict[str, TokenKind] = {"AND": "AND", "OR": "OR", "NOT": "NOT"}


@dataclass(frozen=True, slots=True)
class QueryToken:
    kind: TokenKind
    text: str  # exactly as written, so len(text) is how far the token reaches
    position: int
    words: tuple[str, ...] = ()
    distance: int = DEFAULT_NEAR


def query_error(position: int, message: str) -> QueryError:
    return QueryError(f"at {position}: {message}", position=position)


def _is_letter(char: str) -> bool:
    # Marks as well as letters: Arabic vowel signs and Devanagari matras sit inside words.
    return bool(char) and unicodedata.category(char)[0] in "LMN"


def tokenize_query(text: str) -> list[QueryToken]:
    tokens: list[QueryToken] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
            continue
        if char in "()":
            token = QueryToken("(" if char == "(" else ")", char, index)
        elif char == '"':
            token = _phrase(text, index)
        elif _is_letter(char):
            token = _word(text, index)
        else:
            raise _stray(char, index)
        tokens.append(token)
        index += len(token.text)
    tokens.append(QueryToken("end", "", len(text)))
    return tokens


def _word(text: str, start: int) -> QueryToken:
    end = start + 1
    while end < len(text):
        if _is_letter(text[end]):
            end += 1
        elif text[end] in _JOINERS and _is_letter(text[end + 1 : end + 2]):
            end += 2
        else:
            break
    word, following = text[start:end], text[end : end + 1]
    if following == "*":
        if end - start < 2:
            raise query_error(start, "a prefix needs at least 2 characters before '*', as in arme*")
        if _is_letter(text[end + 1 : end + 2]):
            raise query_error(end, "'*' may only end a word, as in arme*")
        return QueryToken("prefix", text[start : end + 1], start)
    if following == ":":
        return QueryToken("field", text[start : end + 1], start)
    if word == "NEAR":
        return _near(text, start, end)
    return QueryToken(_KEYWORDS.get(word, "word"), word, start)


def _near(text: str, start: int, end: int) -> QueryToken:
    if text[end : end + 1] != "/":
        return QueryToken("NEAR", "NEAR", start)
    stop = end + 1
    # Take everything up to a separator so that NEAR/3.5 and NEAR/-2 are read as one bad distance.
    while stop < len(text) and not text[stop].isspace() and text[stop] not in '()"':
        stop += 1
    digits = text[end + 1 : stop]
    if not (digits.isascii() and digits.isdigit() and 1 <= int(digits) <= MAX_NEAR):
        raise query_error(end + 1, f"NEAR distance must be a whole number from 1 to {MAX_NEAR}")
    return QueryToken("NEAR", text[start:stop], start, distance=int(digits))


def _phrase(text: str, start: int) -> QueryToken:
    chars: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and text[index + 1 : index + 2] in ('"', "\\"):
            chars.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            words = tuple("".join(chars).split())
            if not words:
                raise query_error(start, "empty phrase; put words between the quotes")
            return QueryToken("phrase", text[start : index + 1], start, words=words)
        chars.append(char)
        index += 1
    raise query_error(start, f"unterminated phrase opened at {start}")


def _stray(char: str, position: int) -> QueryError:
    if char == "-":
        return query_error(position, "unexpected '-'; to exclude a term write NOT before it")
    if char == "*":
        return query_error(position, "a prefix needs at least 2 characters before '*', as in arme*")
    shown = f"'{char}'" if char.isprintable() else f"U+{ord(char):04X}"
    return query_error(
        position, f"unexpected {shown}; words are letters and digits, with ' or - inside"
    )


def describe(token: QueryToken) -> str:
    if token.kind == "end":
        return "end of query"
    if token.kind == "phrase":
        return "a phrase"
    return token.text if token.kind in OPERATORS else f"'{token.text}'"
