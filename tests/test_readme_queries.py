"""Every example of the README's query section, against a text that holds it and one that
does not (the table under "Examples" in "Query language")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.documents.normalise import detect_language
from monitor.rules.analysis import analyse
from monitor.rules.lexicon_cache import default_lexicon
from monitor.rules.ruleset import compile_query, evaluate

README = Path(__file__).resolve().parents[1] / "README.md"
_ROW = re.compile(r"^\| `(?P<query>[^|]+)` \| `(?P<yes>[^|]+)` \| `(?P<no>[^|]+)` \|$")
pytestmark = pytest.mark.timeout(600)


def examples() -> list[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Query language") : text.index("### Concepts")]
    table = section[section.index("Examples (") :]
    found = [m.groups() for line in table.splitlines() if (m := _ROW.match(line))]
    return [(q, yes, no) for q, yes, no in found]


def test_the_readme_has_the_examples_the_issue_names() -> None:
    queries = {query for query, _, _ in examples()}
    assert len(queries) >= 12
    for word in ("Rolls-Royce", "O'Brien", '"Côte d\'Ivoire"', "Nagorno-Karabakh", "break-up"):
        assert word in queries


def _matches(query: str, document: str) -> bool:
    found = re.fullmatch(r"\[(\w+)\] (.*)", document)
    assert found is not None, document
    language, rest = found.groups()
    title, _, body = rest.rpartition(" // ")
    lexicon = default_lexicon()
    detected = detect_language(f"{title}\n{body}", hint=language)
    doc = analyse(title, body, detected, lexicon)
    return evaluate(compile_query(query, lexicon).root, doc) is not None


@pytest.mark.parametrize(("query", "yes", "no"), examples())
def test_an_example_matches_its_text_and_not_the_other(query: str, yes: str, no: str) -> None:
    assert _matches(query, yes), f"{query} should match {yes}"
    assert not _matches(query, no), f"{query} should not match {no}"
