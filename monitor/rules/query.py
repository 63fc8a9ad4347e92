"""The watch-rule query language: text to an AST and back (pure, no I/O).

Grammar, loosest binding first (``OR`` < ``AND`` < ``NEAR`` < ``NOT``)::

    query     = or_expr ;
    or_expr   = and_expr , { "OR" , and_expr } ;
    and_expr  = near_expr , { [ "AND" ] , near_expr } ;      (* adjacent terms: AND *)
    near_expr = unary , { near , unary } ;                    (* one distance a chain *)
    near      = "NEAR" | "NEAR/" , digits ;                   (* 1..100, NEAR = NEAR/10 *)
    unary     = "NOT" , unary | primary ;
    primary   = word | phrase | prefix | group
              | "title:" , ( word | phrase | prefix | group )
              | "lang:" , ( code | "(" , code , { "OR" , code } , ")" ) ;
    group     = "(" , or_expr , ")" ;
    word      = letter , { letter | joiner , letter } ;       (* not AND, OR, NOT, NEAR *)
    prefix    = letter , letter , { letter | joiner , letter } , "*" ;
    phrase    = '"' , { character - '"' - "\\" | '\\"' | "\\\\" } , '"' ;
    letter    = ? a Unicode letter, mark or digit ? ;
    joiner    = "'" | "\u2019" | "-" ;
    code      = ? an ISO 639-1 code: two lowercase letters ? ;

Keywords are uppercase only: ``and``, ``or``, ``not`` and ``near`` are words.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeAlias

from monitor.rules.query_lexer import (
    QueryToken,
    describe,
    query_error,
    tokenize_query,
)


@dataclass(frozen=True, slots=True)
class Word:
    """A concept as written; the lexicon expands it to inflections and other languages."""

    text: str
    position: int


@dataclass(frozen=True, slots=True)
class Phrase:
    """Words that must appear exactly and in this order."""

    words: tuple[str, ...]
    position: int


@dataclass(frozen=True, slots=True)
class Prefix:
    """Any word that starts with ``stem``."""

    stem: str
    position: int


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class Near:
    """Each adjacent pair of ``children`` at most ``distance`` words apart."""

    children: tuple[Node, ...]
    distance: int


@dataclass(frozen=True, slots=True)
class Title:
    """``child`` must match within the document's title."""

    child: Node


@dataclass(frozen=True, slots=True)
class Lang:
    """The document's language is one of ``codes`` (ISO 639-1)."""

    codes: frozenset[str]


Node: TypeAlias = Word | Phrase | Prefix | And | Or | Not | Near | Title | Lang

MAX_DEPTH = 50  # of parentheses and NOT
FIELDS = ("title:", "lang:")
# ISO 639-1 as published, with the withdrawn "bh" (Bihari) that older metadata still carries.
_ISO_639_1_CODES = """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs
    cu cv cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he
    hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr
    ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng
    nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk
    sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz
    ve vi vo wa wo xh yi yo za zh zu"""
ISO_639_1 = frozenset(_ISO_639_1_CODES.split())

_TERM = "a word, a \"phrase\", '(' or NOT"
_MUST_MATCH = "a query needs at least one word, phrase or prefix that must match"


# Terms, title: and lang: bind tightest (4); parentheses make any group a term.
_LEVELS: dict[type[Node], int] = {Or: 0, And: 1, Near: 2, Not: 3}
_NAMES: dict[type[Node], str] = {Not: "NOT", Lang: "lang:", Title: "title:", And: "an AND group"}
_TERM_STARTS = frozenset({"word", "prefix", "phrase", "field", "(", "NOT"})


@functools.lru_cache(maxsize=20_000)
def parse_query(text: str) -> Node:
    """The AST of ``text``; raises :class:`QueryError` naming the position and what was expected.

    Remembered (the nodes are frozen): a run reads each rule's query three times, for the
    settings, the rule's record and its compilation; an error is not remembered.
    """
    if not text.strip():
        raise query_error(0, f"empty query, expected {_TERM}")
    node = _Parser(tokenize_query(text)).parse()
    if not _has_positive(node):
        raise query_error(0, _MUST_MATCH)
    return node


def format_query(node: Node) -> str:
    """Canonical text of ``node``: explicit AND, NEAR/n and only the parentheses needed."""
    if isinstance(node, Word):
        return node.text
    if isinstance(node, Prefix):
        return node.stem + "*"
    if isinstance(node, Phrase):
        return '"' + " ".join(_escape(word) for word in node.words) + '"'
    if isinstance(node, Lang):
        codes = sorted(node.codes)
        return "lang:" + (codes[0] if len(codes) == 1 else "(" + " OR ".join(codes) + ")")
    if isinstance(node, Title):
        inner = format_query(node.child)
        return "title:" + (
            inner if isinstance(node.child, Word | Phrase | Prefix) else f"({inner})"
        )
    if isinstance(node, Not):
        return "NOT " + _operand(node.child, _level(node))
    if isinstance(node, Near):
        return f" NEAR/{node.distance} ".join(_operand(c, _level(node) + 1) for c in node.children)
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(_operand(child, _level(node)) for child in node.children)


def _level(node: Node) -> int:
    """How tightly ``node`` binds: a child looser than its parent needs parentheses."""
    return _LEVELS.get(type(node), 4)


def _operand(child: Node, minimum: int) -> str:
    text = format_query(child)
    return text if _level(child) >= minimum else f"({text})"


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace('"', '\\"')


class _Parser:
    """Recursive descent, one method per precedence level of the grammar."""

    def __init__(self, tokens: list[QueryToken]) -> None:
        self._tokens = tokens
        self._index = 0
        self._in_title = False
        self._depth = 0

    def parse(self) -> Node:
        node = self._or(None)
        token = self._peek()
        # Every other token starts or joins a term, so only ')' can stop the parse early.
        if token.kind != "end":
            raise query_error(token.position, f"unexpected {describe(token)} with no '(' before it")
        return node

    def _peek(self) -> QueryToken:
        return self._tokens[self._index]

    def _next(self) -> QueryToken:
        token = self._tokens[self._index]
        self._index = min(self._index + 1, len(self._tokens) - 1)
        return token

    # ``after`` is the operator whose operand is being read, for "expected a word after AND".
    def _or(self, after: QueryToken | None) -> Node:
        children = [self._and(after)]
        while self._peek().kind == "OR":
            operator = self._next()
            children.append(self._and(operator))
        return _join(Or, children)

    def _and(self, after: QueryToken | None) -> Node:
        children = [self._near(after)]
        while True:
            token = self._peek()
            if token.kind == "AND":
                children.append(self._near(self._next()))
            elif token.kind in _TERM_STARTS:
                children.append(self._near(None))
            else:
                return _join(And, children)

    def _near(self, after: QueryToken | None) -> Node:
        start = self._peek().position
        first = self._unary(after)
        if self._peek().kind != "NEAR":
            return first
        children = [_near_operand(first, start)]
        distance = self._peek().distance
        while self._peek().kind == "NEAR":
            operator = self._next()
            if operator.distance != distance:
                raise query_error(
                    operator.position,
                    f"a NEAR chain takes one distance, found NEAR/{operator.distance}"
                    f" after NEAR/{distance}",
                )
            start = self._peek().position
            children.append(_near_operand(self._unary(operator), start))
        return Near(tuple(children), distance)

    def _unary(self, after: QueryToken | None) -> Node:
        token = self._peek()
        if token.kind != "NOT":
            return self._primary(after)
        self._nest(self._next())
        child = self._unary(token)
        self._depth -= 1
        # NOT NOT x means x: one form keeps the matcher and format_query simple.
        return child.child if isinstance(child, Not) else Not(child)

    def _nest(self, token: QueryToken) -> None:
        # A bound on '(' and NOT keeps a pathological query a QueryError instead of a
        # RecursionError, here and in whatever walks the AST.
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise query_error(token.position, f"more than {MAX_DEPTH} levels of '(' and NOT")

    def _primary(self, after: QueryToken | None) -> Node:
        token = self._next()
        if token.kind == "word":
            return Word(token.text, token.position)
        if token.kind == "prefix":
            return Prefix(token.text[:-1], token.position)
        if token.kind == "phrase":
            return Phrase(token.words, token.position)
        if token.kind == "(":
            self._nest(token)
            node = self._or(None)
            closing = self._next()
            if closing.kind != ")":
                raise query_error(closing.position, f"unclosed '(' opened at {token.position}")
            self._depth -= 1
            return node
        if token.kind == "field":
            return self._field(token)
        if after is None:
            raise query_error(token.position, f"unexpected {describe(token)}, expected {_TERM}")
        raise query_error(
            after.position, f"expected a word after {after.text}, found {describe(token)}"
        )

    def _field(self, field: QueryToken) -> Node:
        if field.text == "title:":
            operand = self._peek()
            if operand.kind not in {"word", "prefix", "phrase", "("}:
                found = describe(operand)
                raise query_error(field.position, f"expected a word after title:, found {found}")
            outer, self._in_title = self._in_title, True
            child = self._primary(field)
            self._in_title = outer
            return Title(child)
        if field.text == "lang:":
            if self._in_title:
                raise query_error(field.position, "lang: cannot be used inside title:")
            return self._lang()
        known = ", ".join(FIELDS)
        raise query_error(field.position, f"unknown field '{field.text}'; known fields: {known}")

    def _lang(self) -> Lang:
        opening = self._next()
        if opening.kind != "(":
            return Lang(frozenset({_code(opening)}))
        codes = {_code(self._next())}
        while (token := self._next()).kind != ")":
            if token.kind == "end":
                raise query_error(token.position, f"unclosed '(' opened at {opening.position}")
            if token.kind != "OR":
                raise query_error(
                    token.position, f"lang:(...) joins codes with OR, found {describe(token)}"
                )
            codes.add(_code(self._next()))
        return Lang(frozenset(codes))


def _code(token: QueryToken) -> str:
    if token.kind == "word" and token.text in ISO_639_1:
        return token.text
    found = describe(token)
    raise query_error(
        token.position, f"lang: expects ISO 639-1 codes such as pl or ru, found {found}"
    )


def _join(kind: type[And] | type[Or], children: list[Node]) -> Node:
    """``kind`` over ``children`` with nested nodes of the same kind spliced in."""
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _near_operand(node: Node, position: int) -> Node:
    members = node.children if isinstance(node, Or) else (node,)
    for member in members:
        if not isinstance(member, Word | Phrase | Prefix):
            raise query_error(
                position,
                "NEAR joins words, phrases, prefixes or (x OR y) groups of them,"
                f" found {_node_name(member)}",
            )
    return node


def _node_name(node: Node) -> str:
    return _NAMES.get(type(node), "NEAR")


def _has_positive(node: Node) -> bool:
    """Whether ``node`` holds a word, phrase or prefix that is not under a NOT."""
    if isinstance(node, Word | Phrase | Prefix):
        return True
    if isinstance(node, And | Or | Near):
        return any(_has_positive(child) for child in node.children)
    if isinstance(node, Title):
        return _has_positive(node.child)
    return False  # NOT and lang: only filter what other terms found
