"""The watch-rule query language: every construct, its errors, and format/parse round trips."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.errors import QueryError
from monitor.rules.query import (
    ISO_639_1,
    And,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    Title,
    Word,
    format_query,
    parse_query,
)

TERM = "a word, a \"phrase\", '(' or NOT"
MUST_MATCH = "a query needs at least one word, phrase or prefix that must match"
NEAR_OPERANDS = "NEAR joins words, phrases, prefixes or (x OR y) groups of them"
LANG_CODES = "lang: expects ISO 639-1 codes such as pl or ru"
PREFIX_TOO_SHORT = "a prefix needs at least 2 characters before '*', as in arme*"
NEAR_RANGE = "NEAR distance must be a whole number from 1 to 100"
STRAY = "words are letters and digits, with ' or - inside"


def W(text: str) -> Word:
    return Word(text, 0)


def P(*words: str) -> Phrase:
    return Phrase(words, 0)


def unpositioned(node: Node) -> Node:
    """``node`` with every position 0, to compare structure alone."""
    if isinstance(node, Word | Phrase | Prefix):
        return dataclasses.replace(node, position=0)
    if isinstance(node, And | Or | Near):
        return dataclasses.replace(node, children=tuple(unpositioned(c) for c in node.children))
    if isinstance(node, Not | Title):
        return dataclasses.replace(node, child=unpositioned(node.child))
    return node


def parse_error(query: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_query(query)
    return caught.value


# --- terms, with their positions ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Armenia", Word("Armenia", 0)),
        ("  Armenia  ", Word("Armenia", 2)),
        ("Azerbejdżan", Word("Azerbejdżan", 0)),
        ("Ormianie", Word("Ormianie", 0)),
        ("Ермения", Word("Ермения", 0)),
        ("Армении", Word("Армении", 0)),
        ("Ermenistan'a", Word("Ermenistan'a", 0)),
        ("Ermenistan’a", Word("Ermenistan’a", 0)),
        ("Nagorno-Karabakh", Word("Nagorno-Karabakh", 0)),
        ("أرمينيا", Word("أرمينيا", 0)),
        ("أَرْمِينِيَا", Word("أَرْمِينِيَا", 0)),  # with vowel marks
        ("亚美尼亚", Word("亚美尼亚", 0)),
        ("アルメニア", Word("アルメニア", 0)),
        ("हिन्दी", Word("हिन्दी", 0)),  # combining vowel signs
        ("G7", Word("G7", 0)),
        ("2024", Word("2024", 0)),
        ("and", Word("and", 0)),
        ("near", Word("near", 0)),
        ("AND-OR", Word("AND-OR", 0)),
        ('"peace treaty"', Phrase(("peace", "treaty"), 0)),
        ('"  peace \t treaty\n"', Phrase(("peace", "treaty"), 0)),
        ('"Armenia"', Phrase(("Armenia",), 0)),
        ('"мирный договор"', Phrase(("мирный", "договор"), 0)),
        ('"the \\"deal\\" holds"', Phrase(("the", '"deal"', "holds"), 0)),
        ('"a\\\\b"', Phrase(("a\\b",), 0)),
        ('"C:\\dir"', Phrase(("C:\\dir",), 0)),
        ('"peace, AND (treaty)"', Phrase(("peace,", "AND", "(treaty)"), 0)),
        ("arme*", Prefix("arme", 0)),
        ("ar*", Prefix("ar", 0)),
        ("Орм*", Prefix("Орм", 0)),
        ("Nagorno-Kar*", Prefix("Nagorno-Kar", 0)),
        ("AND*", Prefix("AND", 0)),
    ],
)
def test_terms(query: str, expected: Node) -> None:
    assert parse_query(query) == expected


def test_positions_are_character_offsets_of_each_term() -> None:
    query = 'Ермения AND "мирный договор" OR (arme* NEAR/3 Ermenistan’a) title:Баку'
    assert parse_query(query) == Or(
        (
            And((Word("Ермения", 0), Phrase(("мирный", "договор"), 12))),
            And(
                (
                    Near((Prefix("arme", 33), Word("Ermenistan’a", 46)), 3),
                    Title(Word("Баку", 66)),
                )
            ),
        )
    )


# --- structure: precedence, implicit AND, flattening ---------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Armenia Azerbaijan", And((W("Armenia"), W("Azerbaijan")))),
        ("a OR b c", Or((W("a"), And((W("b"), W("c")))))),
        ("a b OR c", Or((And((W("a"), W("b"))), W("c")))),
        ("a AND b OR c AND d", Or((And((W("a"), W("b"))), And((W("c"), W("d")))))),
        ("NOT a b", And((Not(W("a")), W("b")))),
        ("a NOT b", And((W("a"), Not(W("b"))))),
        ("a AND NOT b", And((W("a"), Not(W("b"))))),
        ("NOT (a OR b) c", And((Not(Or((W("a"), W("b")))), W("c")))),
        ("NOT NOT a b", And((W("a"), W("b")))),
        ("a NEAR/5 b", Near((W("a"), W("b")), 5)),
        ("a NEAR b", Near((W("a"), W("b")), 10)),
        ("a NEAR/1 b", Near((W("a"), W("b")), 1)),
        ("a NEAR/100 b", Near((W("a"), W("b")), 100)),
        ("a NEAR/05 b", Near((W("a"), W("b")), 5)),
        ("a NEAR/3 b NEAR/3 c", Near((W("a"), W("b"), W("c")), 3)),
        ("a NEAR b NEAR/10 c", Near((W("a"), W("b"), W("c")), 10)),
        ("a NEAR b c", And((Near((W("a"), W("b")), 10), W("c")))),
        ("a OR b NEAR/3 c", Or((W("a"), Near((W("b"), W("c")), 3)))),
        ("(a OR b) NEAR/3 c", Near((Or((W("a"), W("b"))), W("c")), 3)),
        ('"peace talks" NEAR/4 arme*', Near((P("peace", "talks"), Prefix("arme", 0)), 4)),
        ("a near b", And((W("a"), W("near"), W("b")))),
        ("a and b or not c", And(tuple(map(W, ["a", "and", "b", "or", "not", "c"])))),
        ("a (b c)", And((W("a"), W("b"), W("c")))),
        ("(a b) (c d)", And((W("a"), W("b"), W("c"), W("d")))),
        ("(a OR b) OR c", Or((W("a"), W("b"), W("c")))),
        ("a OR (b OR (c OR d))", Or((W("a"), W("b"), W("c"), W("d")))),
        ("a (b OR c)", And((W("a"), Or((W("b"), W("c")))))),
        ("((a))", W("a")),
        ("title:Armenia", Title(W("Armenia"))),
        ("title: Armenia", Title(W("Armenia"))),
        ('title:"peace treaty"', Title(P("peace", "treaty"))),
        ("title:arme*", Title(Prefix("arme", 0))),
        ("title:(Armenia OR Azerbaijan)", Title(Or((W("Armenia"), W("Azerbaijan"))))),
        ("title:(Armenia NOT Russia)", Title(And((W("Armenia"), Not(W("Russia")))))),
        ("title:a b", And((Title(W("a")), W("b")))),
        ("NOT title:a b", And((Not(Title(W("a"))), W("b")))),
        ("lang:pl Armenia", And((Lang(frozenset({"pl"})), W("Armenia")))),
        ("title:Armenia lang:pl", And((Title(W("Armenia")), Lang(frozenset({"pl"}))))),
        ("Armenia lang:(pl OR ru)", And((W("Armenia"), Lang(frozenset({"pl", "ru"}))))),
        ("Armenia lang:(ru OR pl OR ru)", And((W("Armenia"), Lang(frozenset({"pl", "ru"}))))),
        ("Armenia lang:(pl)", And((W("Armenia"), Lang(frozenset({"pl"}))))),
        ("Armenia NOT lang:ru", And((W("Armenia"), Not(Lang(frozenset({"ru"})))))),
        ("Armenia OR NOT Azerbaijan", Or((W("Armenia"), Not(W("Azerbaijan"))))),
    ],
)
def test_structure(query: str, expected: Node) -> None:
    assert unpositioned(parse_query(query)) == expected


@pytest.mark.parametrize(
    ("query", "same_as"),
    [
        ("Armenia Azerbaijan", "Armenia AND Azerbaijan"),
        ("a OR b c", "a OR (b AND c)"),
        ("a b OR c d", "(a AND b) OR (c AND d)"),
        ("a NEAR b", "a NEAR/10 b"),
        ("a NEAR/2 b c", "(a NEAR/2 b) AND c"),
        ("a OR b NEAR c", "a OR (b NEAR c)"),
        ("a (b (c d))", "a b c d"),
    ],
)
def test_equivalent_queries(query: str, same_as: str) -> None:
    assert unpositioned(parse_query(query)) == unpositioned(parse_query(same_as))


# --- canonical text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("Armenia   Azerbaijan", "Armenia AND Azerbaijan"),
        ("a b OR c", "a AND b OR c"),
        ("a OR b c", "a OR b AND c"),
        ("(a OR b) c", "(a OR b) AND c"),
        ("a NEAR b", "a NEAR/10 b"),
        ("(a OR b) NEAR/3 c", "(a OR b) NEAR/3 c"),
        ("a NEAR/2 b c", "a NEAR/2 b AND c"),
        ("x NOT (a b)", "x AND NOT (a AND b)"),
        ("x NOT (a OR b)", "x AND NOT (a OR b)"),
        ("x NOT (a NEAR b)", "x AND NOT (a NEAR/10 b)"),
        ("x NOT title:a", "x AND NOT title:a"),
        ("title:(a b)", "title:(a AND b)"),
        ('title: "a b"', 'title:"a b"'),
        ("title:(title:a)", "title:(title:a)"),
        ("a lang:(ru OR pl)", "a AND lang:(pl OR ru)"),
        ("a lang:(pl)", "a AND lang:pl"),
        ('"  say   \\"hi\\"  "', '"say \\"hi\\""'),
        ('"a\\\\b"', '"a\\\\b"'),
        ("arme*", "arme*"),
        ("Ermenistan'a", "Ermenistan'a"),
    ],
)
def test_format_is_canonical(query: str, canonical: str) -> None:
    node = parse_query(query)
    assert format_query(node) == canonical
    assert unpositioned(parse_query(canonical)) == unpositioned(node)


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "position", "message"),
    [
        ("", 0, f"empty query, expected {TERM}"),
        (" \t\n", 0, f"empty query, expected {TERM}"),
        # a missing operand: after an operator, at the operator; elsewhere at what was found
        ("NOT", 0, "expected a word after NOT, found end of query"),
        ("Armenia AND", 8, "expected a word after AND, found end of query"),
        ("Armenia OR )", 8, "expected a word after OR, found ')'"),
        ("a OR OR b", 2, "expected a word after OR, found OR"),
        ("a AND NEAR b", 2, "expected a word after AND, found NEAR"),
        ("a NEAR/3", 2, "expected a word after NEAR/3, found end of query"),
        ("a NOT AND b", 2, "expected a word after NOT, found AND"),
        ('a AND "x" NOT', 10, "expected a word after NOT, found end of query"),
        ("Armenia AND ( )", 14, f"unexpected ')', expected {TERM}"),
        ("OR Armenia", 0, f"unexpected OR, expected {TERM}"),
        ("NEAR a", 0, f"unexpected NEAR, expected {TERM}"),
        (")", 0, f"unexpected ')', expected {TERM}"),
        ("(", 1, f"unexpected end of query, expected {TERM}"),
        # brackets
        ("(Armenia ", 9, "unclosed '(' opened at 0"),
        ("a (b (c d)", 10, "unclosed '(' opened at 2"),
        ("Armenia)", 7, "unexpected ')' with no '(' before it"),
        ("(a) b)", 5, "unexpected ')' with no '(' before it"),
        # phrases
        ('Armenia "peace', 8, "unterminated phrase opened at 8"),
        ('"a \\"', 0, "unterminated phrase opened at 0"),
        ('""', 0, "empty phrase; put words between the quotes"),
        ('a " \t "', 2, "empty phrase; put words between the quotes"),
        # prefixes
        ("a*", 0, PREFIX_TOO_SHORT),
        ("*", 0, PREFIX_TOO_SHORT),
        ("Armenia *", 8, PREFIX_TOO_SHORT),
        ("arme**", 5, PREFIX_TOO_SHORT),
        ("arm*ia", 3, "'*' may only end a word, as in arme*"),
        # NEAR
        ("Armenia NEAR/0 talks", 13, NEAR_RANGE),
        ("Armenia NEAR/101 talks", 13, NEAR_RANGE),
        ("Armenia NEAR/ talks", 13, NEAR_RANGE),
        ("a NEAR/x b", 7, NEAR_RANGE),
        ("a NEAR/3.5 b", 7, NEAR_RANGE),
        ("a NEAR/-2 b", 7, NEAR_RANGE),
        ("a NEAR/٣ b", 7, NEAR_RANGE),  # an Arabic-Indic digit
        ("a NEAR/3 b NEAR/5 c", 11, "a NEAR chain takes one distance, found NEAR/5 after NEAR/3"),
        ("a NEAR b NEAR/5 c", 9, "a NEAR chain takes one distance, found NEAR/5 after NEAR/10"),
        ("NOT a NEAR b", 0, f"{NEAR_OPERANDS}, found NOT"),
        ("a NEAR NOT b", 7, f"{NEAR_OPERANDS}, found NOT"),
        ("a NEAR lang:pl", 7, f"{NEAR_OPERANDS}, found lang:"),
        ("title:a NEAR b", 0, f"{NEAR_OPERANDS}, found title:"),
        ("(a b) NEAR c", 0, f"{NEAR_OPERANDS}, found an AND group"),
        ("c NEAR (a OR NOT b)", 7, f"{NEAR_OPERANDS}, found NOT"),
        ("c NEAR (a OR b c)", 7, f"{NEAR_OPERANDS}, found an AND group"),
        ("a NEAR (b NEAR c)", 7, f"{NEAR_OPERANDS}, found NEAR"),
        # fields
        ("body:Armenia", 0, "unknown field 'body:'; known fields: title:, lang:"),
        ("a Title:Armenia", 2, "unknown field 'Title:'; known fields: title:, lang:"),
        ("title:", 0, "expected a word after title:, found end of query"),
        ("title:NOT a", 0, "expected a word after title:, found NOT"),
        ("title:lang:pl", 0, "expected a word after title:, found 'lang:'"),
        ("title:(a lang:pl)", 9, "lang: cannot be used inside title:"),
        ("title:(a NOT lang:pl)", 13, "lang: cannot be used inside title:"),
        ("lang:polish", 5, f"{LANG_CODES}, found 'polish'"),
        ("Armenia lang:PL", 13, f"{LANG_CODES}, found 'PL'"),
        ("Armenia lang:xx", 13, f"{LANG_CODES}, found 'xx'"),
        ("Armenia lang:", 13, f"{LANG_CODES}, found end of query"),
        ('Armenia lang:"pl"', 13, f"{LANG_CODES}, found a phrase"),
        ("Armenia lang:pl*", 13, f"{LANG_CODES}, found 'pl*'"),
        ("Armenia lang:()", 14, f"{LANG_CODES}, found ')'"),
        ("Armenia lang:(pl OR)", 19, f"{LANG_CODES}, found ')'"),
        ("Armenia lang:(pl ru)", 17, "lang:(...) joins codes with OR, found 'ru'"),
        ("Armenia lang:(pl AND ru)", 17, "lang:(...) joins codes with OR, found AND"),
        ("Armenia lang:(pl", 16, "unclosed '(' opened at 13"),
        # characters that belong to no word
        ("-Armenia", 0, "unexpected '-'; to exclude a term write NOT before it"),
        ("Armenia -Russia", 8, "unexpected '-'; to exclude a term write NOT before it"),
        ("Nagorno- Karabakh", 7, "unexpected '-'; to exclude a term write NOT before it"),
        ("U.S.", 1, f"unexpected '.'; {STRAY}"),
        ("'Armenia", 0, f"unexpected '''; {STRAY}"),
        ("a\x00", 1, f"unexpected U+0000; {STRAY}"),
        ("a near/5 b", 6, f"unexpected '/'; {STRAY}"),
        # a query must be able to find something by itself
        ("NOT Armenia", 0, MUST_MATCH),
        ("lang:pl", 0, MUST_MATCH),
        ("NOT a AND NOT b", 0, MUST_MATCH),
        ("lang:pl NOT Armenia", 0, MUST_MATCH),
        ("title:(NOT a) lang:pl", 0, MUST_MATCH),
        ("NOT NOT NOT a", 0, MUST_MATCH),
        # nesting
        ("(" * 51 + "a" + ")" * 51, 50, "more than 50 levels of '(' and NOT"),
        ("a " + "NOT " * 51 + "b", 202, "more than 50 levels of '(' and NOT"),
        ("a " + "title:(" * 51 + "b" + ")" * 51, 358, "more than 50 levels of '(' and NOT"),
    ],
)
def test_errors(query: str, position: int, message: str) -> None:
    error = parse_error(query)
    assert (error.position, str(error)) == (position, f"at {position}: {message}")


def test_fifty_levels_of_nesting_are_allowed() -> None:
    assert parse_query("(" * 50 + "a" + ")" * 50) == Word("a", 50)
    assert parse_query("a " + "NOT " * 50 + "b") == And((Word("a", 0), Word("b", 202)))


def test_every_iso_639_1_code_is_a_language() -> None:
    assert len(ISO_639_1) == 184
    assert all(len(code) == 2 and code.isascii() and code.islower() for code in ISO_639_1)
    for code in ("pl", "ru", "tr", "hy", "az", "ka", "en", "de", "ar", "zh"):
        assert parse_query(f"x lang:{code}") == And((Word("x", 0), Lang(frozenset({code}))))


# --- properties ----------------------------------------------------------------------------


def _word_texts(min_size: int) -> st.SearchStrategy[str]:
    piece = st.text(st.characters(categories=["L", "M", "N"]), min_size=1, max_size=5)
    return (
        st.tuples(st.lists(piece, min_size=1, max_size=3), st.sampled_from(["'", "’", "-"]))
        .map(lambda parts: parts[1].join(parts[0]))
        .filter(lambda text: len(text) >= min_size and text not in {"AND", "OR", "NOT", "NEAR"})
    )


_phrase_word = st.text(st.characters(exclude_categories=["Z", "C"]), min_size=1, max_size=6)
_terms: st.SearchStrategy[Node] = st.one_of(
    _word_texts(1).map(lambda text: Word(text, 0)),
    _word_texts(2).map(lambda text: Prefix(text, 0)),
    st.lists(_phrase_word, min_size=1, max_size=3).map(lambda words: Phrase(tuple(words), 0)),
)
_near_operands = st.one_of(
    _terms, st.lists(_terms, min_size=2, max_size=3).map(lambda cs: Or(tuple(cs)))
)
_nears = st.builds(
    lambda cs, d: Near(tuple(cs), d),
    st.lists(_near_operands, min_size=2, max_size=3),
    st.integers(1, 100),
)
_langs = st.frozensets(st.sampled_from(sorted(ISO_639_1)), min_size=1, max_size=3).map(Lang)


def _joined(kind: type[And] | type[Or], children: list[Node]) -> Node:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else [child])
    return kind(tuple(flat))


def _has_lang(node: Node) -> bool:
    if isinstance(node, Lang):
        return True
    if isinstance(node, And | Or | Near):
        return any(map(_has_lang, node.children))
    return isinstance(node, Not | Title) and _has_lang(node.child)


def _must_match(node: Node) -> bool:
    if isinstance(node, Word | Phrase | Prefix):
        return True
    if isinstance(node, And | Or | Near):
        return any(map(_must_match, node.children))
    return isinstance(node, Title) and _must_match(node.child)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    groups = st.lists(children, min_size=2, max_size=3)
    return st.one_of(
        groups.map(lambda cs: _joined(And, cs)),
        groups.map(lambda cs: _joined(Or, cs)),
        children.map(lambda c: c.child if isinstance(c, Not) else Not(c)),
        children.filter(lambda c: not _has_lang(c)).map(Title),
    )


queries = st.recursive(st.one_of(_terms, _nears, _langs), _extend, max_leaves=10).filter(
    _must_match
)


def _assert_positions_point_at_terms(node: Node, text: str) -> None:
    if isinstance(node, Word):
        assert text[node.position : node.position + len(node.text)] == node.text
    elif isinstance(node, Prefix):
        assert text[node.position :].startswith(node.stem + "*")
    elif isinstance(node, Phrase):
        assert text[node.position] == '"'
    elif isinstance(node, And | Or | Near):
        for child in node.children:
            _assert_positions_point_at_terms(child, text)
    elif isinstance(node, Not | Title):
        _assert_positions_point_at_terms(node.child, text)


@given(queries)
@settings(max_examples=300)
def test_format_then_parse_gives_the_same_tree(node: Node) -> None:
    text = format_query(node)
    parsed = parse_query(text)
    assert unpositioned(parsed) == node
    assert format_query(parsed) == text
    _assert_positions_point_at_terms(parsed, text)


_fragments = st.sampled_from(
    [" ", " ", "a", "Ab", "żółw", "Ермения", "Ermenistan'a", "AND", "OR", "NOT", "NEAR",
     "NEAR/3", "NEAR/0", "(", ")", '"', '\\"', "*", "-", "'", "title:", "lang:", "pl", "ru",
     "xx", "body:", ":", "/", "and"]
)  # fmt: skip


@given(st.lists(_fragments, max_size=12).map("".join))
@settings(max_examples=500)
def test_any_text_parses_or_fails_with_a_positioned_query_error(text: str) -> None:
    try:
        node = parse_query(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        assert str(error).startswith(f"at {error.position}: ")
        assert "\n" not in str(error)
    else:
        _assert_positions_point_at_terms(node, text)
        assert unpositioned(parse_query(format_query(node))) == unpositioned(node)
