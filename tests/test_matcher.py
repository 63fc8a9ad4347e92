"""The matcher on a small lexicon of its own: concepts, words, phrases, prefixes, NEAR, fields,
the presearch index, and the ambiguity checks (capitals, exclusions, false friends)."""

from __future__ import annotations

import pytest

from monitor.documents.shapes import Document, Published
from monitor.rules.analysed import Analysis
from monitor.rules.analysis import analyse
from monitor.rules.explain import explain
from monitor.rules.lexicon import Lexicon
from monitor.rules.lexicon_build import lexicon_from
from monitor.rules.matcher import Matcher
from monitor.rules.ruleset import RuleSet, compile_query, evaluate
from monitor.rules.snippets import mark

CONCEPTS = [
    {
        "id": "armenia",
        "kind": "country",
        "languages": {
            "en": {
                "names": ["Armenia"],
                "demonyms": ["Armenian", "Armenians"],
                "adjectives": ["Armenian"],
                "capital": ["Yerevan"],
            },
            "pl": {
                "names": ["Armenia", "Armenii", "Armenię"],
                "demonyms": ["Ormianie", "Ormian"],
                "adjectives": ["ormiański"],
                "compounds": ["ormiańsko"],
                "capital": ["Erywań", "Erywaniu"],
            },
            "es": {"names": ["Armenia"], "demonyms": ["armenios"]},
            "zh": {"names": ["亚美尼亚"]},
        },
        "false_friends": [
            {
                "description": "Armenia, a city in Quindío, Colombia",
                "context": ["Quindío", "Colombia"],
                "unless": ["Ereván", "Yerevan"],
            }
        ],
    },
    {
        "id": "azerbaijan",
        "kind": "country",
        "languages": {
            "en": {"names": ["Azerbaijan"], "adjectives": ["Azerbaijani"], "capital": ["Baku"]},
            "pl": {
                "names": ["Azerbejdżan", "Azerbejdżanu"],
                "adjectives": ["azerski"],
                "compounds": ["azersko"],
                "capital": ["Baku"],
            },
            "ru": {"names": ["Азербайджан", "Азербайджана"]},
        },
        "exclusions": [
            {
                "description": "Iranian provinces",
                "phrases": ["East Azerbaijan", "West Azerbaijan", "Azerbejdżan Wschodni"],
            }
        ],
    },
]
CUES = {
    "languages": {
        "en": {"cues": ["says", "said", "authorities", "accuses"]},
        "pl": {"cues": ["władze"]},
    }
}

# On a machine that has never built the lemma dictionaries, the first test builds them
# (tens of seconds per language); after that they load from the cache in milliseconds.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return lexicon_from(CONCEPTS, CUES, aliases={"armenia": ["Hayastan"], "Karabakh": ["Artsakh"]})


def doc(lexicon: Lexicon, text: str, title: str = "", language: str = "en") -> Analysis:
    return analyse(title, text, language, lexicon)


def matches(lexicon: Lexicon, query: str, text: str, title: str = "", language: str = "en") -> bool:
    rule = compile_query(query, lexicon)
    return evaluate(rule.root, doc(lexicon, text, title, language)) is not None


@pytest.mark.parametrize(
    ("query", "text", "language", "expected"),
    [
        (
            "Armenia AND Azerbaijan",
            "Przedstawiciele Armenii i Azerbejdżanu spotkali się.",
            "pl",
            True,
        ),
        ("Armenia AND Azerbaijan", "Inwazja Azerbejdżanu na Armenię.", "pl", True),
        ("Armenia AND Azerbaijan", "Only Armenia is named here.", "en", False),
        ("Armenia", "Ormianie protestowali.", "pl", True),
        ("Azerbaijan", "stosunki azersko-ormiańskie", "pl", True),
        ("Armenia", "stosunki azersko-ormiańskie", "pl", True),
        ("Armenia", "Relations with Hayastan improved.", "en", True),  # alias
        ("Karabakh", "The Artsakh authorities said.", "en", True),  # alias of a new concept
        ("Azerbaijan", "Переговоры Азербайджана.", "ru", True),
        ("Armenia", "亚美尼亚总理表示。", "zh", True),
        ("Azerbaijan", "AZERBEJDZANU bez polskich znaków", "pl", True),  # diacritics fallback
        ("Armenia", "Polska armia i armii manewry.", "pl", False),
    ],
)
def test_concepts_across_languages_and_forms(
    lexicon: Lexicon, query: str, text: str, language: str, expected: bool
) -> None:
    assert matches(lexicon, query, text, language=language) is expected


def test_capital_counts_for_the_state_only_with_a_cue(lexicon: Lexicon) -> None:
    assert matches(lexicon, "Azerbaijan", "Baku said the talks would resume.")
    assert matches(lexicon, "Azerbaijan AND Armenia", "Yerevan accuses Baku of shelling.")
    assert not matches(lexicon, "Azerbaijan", "The chess World Cup is held in Baku this year.")
    assert not matches(
        lexicon, "Azerbaijan", "Kierowca zatankował do pełna baku samochodu.", language="pl"
    )
    assert matches(lexicon, "Armenia", "Tak uważają władze w Erywaniu.", language="pl")


def test_exclusions_and_false_friends(lexicon: Lexicon) -> None:
    assert not matches(lexicon, "Azerbaijan", "Tabriz is the capital of East Azerbaijan province.")
    assert matches(lexicon, "Azerbaijan", "East Azerbaijan borders the Republic of Azerbaijan.")
    assert not matches(
        lexicon, "Armenia", "Armenia, Quindío, es una ciudad de Colombia.", language="es"
    )
    assert matches(
        lexicon, "Armenia", "Armenia, en Colombia, y Ereván, capital de Armenia.", language="es"
    )


def test_words_phrases_prefixes_and_lemmas(lexicon: Lexicon) -> None:
    assert matches(lexicon, "elections", "The election was held.")  # lemma of the document word
    assert matches(lexicon, "wybory", "Frekwencja w wyborach była wysoka.", language="pl")
    assert matches(lexicon, '"peace treaty"', "They signed a peace treaty today.")
    assert not matches(lexicon, '"peace treaty"', "A treaty of peace was signed.")
    assert matches(lexicon, "negotiat*", "Negotiations resumed.")
    assert matches(lexicon, "cafe", "Ein Café am Markt.", language="de")  # diacritics fallback


def test_near_title_lang_and_not(lexicon: Lexicon) -> None:
    text = "Armenia and Azerbaijan talks. " + "filler " * 30 + "Azerbaijan again."
    assert matches(lexicon, "Armenia NEAR/3 Azerbaijan", text)
    assert not matches(lexicon, "Armenia NEAR/3 Azerbaijan", "Armenia " + "x " * 10 + "Azerbaijan")
    assert matches(lexicon, "title:Armenia", "Body.", title="Armenia votes")
    assert not matches(lexicon, "title:Armenia", "Armenia in the body only.", title="Votes")
    assert matches(lexicon, "Armenia lang:en", "Armenia votes")
    assert not matches(lexicon, "Armenia lang:pl", "Armenia votes")
    assert not matches(lexicon, "Armenia NOT Azerbaijan", "Armenia and Azerbaijan")
    # A NEAR never spans the title and the body.
    assert not matches(lexicon, "Armenia NEAR/2 Azerbaijan", "Azerbaijan", title="Armenia")


def test_presearch_only_evaluates_rules_that_could_match(lexicon: Lexicon) -> None:
    rules = [compile_query(f"word{n} OR other{n}", lexicon, name=f"r{n}") for n in range(200)]
    rules.append(compile_query("Armenia AND Azerbaijan", lexicon, name="aa"))
    rules.append(compile_query("NOT Armenia AND lang:pl AND xy*", lexicon, name="prefix"))
    ruleset = RuleSet.build(rules)
    analysis = doc(lexicon, "Armenia and Azerbaijan: word7 appears.")
    assert {r.name for r in ruleset.candidates(analysis)} == {"r7", "aa"}
    assert [r.name for r, _ in ruleset.match(analysis)] == ["r7", "aa"]


def test_matcher_gives_terms_and_marked_snippets(lexicon: Lexicon) -> None:
    ruleset = RuleSet.build(
        [compile_query("Armenia AND Azerbaijan", lexicon, name="aa", version=3)]
    )
    document = Document(
        document_id="d1",
        identity="guid:1",
        source="s",
        url=None,
        title="Rozmowy Armenii i Azerbejdżanu",
        text="Długi tekst. " * 20 + "Ormianie protestowali.",
        language="pl",
        published=Published("2023", "year"),
        content_hash="h",
    )
    (match,) = Matcher(ruleset, lexicon).match(document)
    assert match.rule == "aa" and match.rule_version == 3
    vias = {(t["word"], t["via"]) for t in match.terms}
    assert ("Armenii", "inflection") in vias
    assert ("Azerbejdżanu", "translation") in vias
    assert ("Ormianie", "demonym") in vias
    assert mark(match.snippets[0]) == "Rozmowy [Armenii] i [Azerbejdżanu]"
    assert any("[Ormianie]" in mark(s) for s in match.snippets)


def test_explain_says_why_not(lexicon: Lexicon) -> None:
    rule = compile_query("Armenia AND Azerbaijan", lexicon)
    lines = explain(rule, doc(lexicon, "Armenians marched. The chess World Cup is held in Baku."))
    text = "\n".join(lines)
    assert lines[0].startswith("DOES NOT MATCH")
    assert "'Armenians' (body, word 0): demonym" in text
    assert "'Baku'" in text and "the city, not the state" in text


def test_words_forgotten_mid_document_are_analysed_again(
    lexicon: Lexicon, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the bound on remembered words is reached while a document is read, the words
    read before are analysed again, so the indexes of stems and lemmas still hold every
    word of the document and rules find their forms in it."""
    monkeypatch.setattr("monitor.rules.analysis.WORDS_KEPT", 20)
    rules = RuleSet.build(
        [
            compile_query("election", lexicon, name="lemma"),
            compile_query("Armenia AND Azerbaijan", lexicon, name="concepts"),
            compile_query('"peace treaty"', lexicon, name="phrase"),
        ]
    )
    texts = [
        "After the elections Armenia and Azerbaijan signed a peace treaty in Yerevan.",
        "Observers of the elections say Azerbaijan and Armenia will sign a peace treaty soon.",
    ]
    for n in range(4):  # 13 and 15 words: each document reaches the bound of 20 midway
        analysis = doc(lexicon, texts[n % 2])
        assert sorted(r.name for r, _ in rules.match(analysis)) == ["concepts", "lemma", "phrase"]
        cached = lexicon.word_cache["en"]
        assert set(analysis.info) <= set(cached)
        assert all(analysis.info[word] is cached[word] for word in analysis.info)
        stem = analysis.info["elections"].stem
        assert stem is not None and analysis.words_with_stem(stem) == ["elections"]
