"""The concept registry and what rule words make of it, on the shipped data.

What the registry holds (every country and territory with names in many languages, the
capitals and large cities, the organisations, demonyms and adjectives), that it is built
from the reviewed files as they are now, and that the rule words of the issue find what a
reader finds: across languages, inflections and scripts, and not the look-alikes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from clirun import run_cli

from monitor.rules.analysis import analyse
from monitor.rules.explain import explain
from monitor.rules.lexicon_cache import build_lexicon, default_lexicon
from monitor.rules.registry import shipped
from monitor.rules.ruleset import compile_query, evaluate
from monitor.rules.text import words

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "monitor" / "data" / "concepts"
pytestmark = pytest.mark.timeout(600)


def matches(query: str, text: str, language: str, title: str = "") -> bool:
    lexicon = default_lexicon()
    return (
        evaluate(compile_query(query, lexicon).root, analyse(title, text, language, lexicon))
        is not None
    )


# -- the registry -------------------------------------------------------------------------


def test_the_registry_is_built_from_the_reviewed_files_as_they_are() -> None:
    """contrib/build_concepts.py records a hash of every file it read: a reviewed file
    changed since means the registry is stale (rebuild it, see monitor/data/concepts/)."""
    recorded = {k: v for k, v in shipped().sources.items() if k.endswith(".toml")}
    present = {
        str(path.relative_to(DATA)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in DATA.rglob("*.toml")
    }
    assert recorded == present


def test_every_country_and_territory_with_names_in_many_languages() -> None:
    entries = shipped().entries
    countries = [e for e in entries.values() if e.kind == "country"]
    assert len(countries) >= 245
    assert all(re.fullmatch(r"[A-Z]{2}", e.id) for e in countries)
    assert {"EU", "UN"} <= set(entries)
    languages = [len({f.language for f in e.forms if f.origin == "cldr"}) for e in countries]
    assert sum(1 for n in languages if n >= 40) >= 0.95 * len(countries)


def test_capitals_and_large_cities_with_stable_ids() -> None:
    entries = shipped().entries
    cities = [e for e in entries.values() if e.kind == "city"]
    assert len(cities) >= 1000
    assert all(re.fullmatch(r"city:\d+", e.id) and e.country in entries for e in cities)
    capitals = [e for e in cities if e.capital_of]
    assert len(capitals) >= 190
    assert all(entries[e.capital_of].capital == e.id for e in capitals)
    kyiv = entries["city:703448"]
    assert kyiv.capital_of == "UA" and kyiv.label == "Kyiv"


@pytest.mark.parametrize(
    "word",
    ["NATO", "EU", "UN", "OSCE", "WHO", "IMF", "OPEC", "ASEAN", "G7", "G20", "ICC",
     '"African Union"', '"Council of Europe"'],
)  # fmt: skip
def test_the_organisations_the_issue_names(word: str) -> None:
    lexicon = default_lexicon()
    term = compile_query(word, lexicon).root
    assert getattr(term, "concepts", None), f"{word} names no concept"
    organisations = [e for e in shipped().entries.values() if e.kind == "organisation"]
    assert len(organisations) >= 60


def test_demonyms_and_adjectives_for_every_country_in_fifteen_languages() -> None:
    countries = {e.id for e in shipped().entries.values() if e.kind == "country"}
    covered: dict[str, set[str]] = defaultdict(set)
    for entry in shipped().entries.values():
        for form in entry.forms:
            if entry.id in countries and form.category in ("demonym", "adjective"):
                covered[form.language].add(entry.id)
    wide = sorted(language for language, found in covered.items() if len(found) >= 150)
    assert len(wide) >= 15, wide


def test_forms_say_where_they_came_from() -> None:
    origins = Counter(f.origin for e in shipped().entries.values() for f in e.forms)
    for origin in ("cldr", "cldr-language", "cldr-currency", "cldr-city", "countrynames",
                   "geonames", "reviewed", "overlay", "morfeusz2", "pymorphy3", "rule:uk"):  # fmt: skip
        assert origins[origin] > 0, origin


# -- what a rule word finds ---------------------------------------------------------------

FOUND = [
    ("Ukraine", "pl", "Rosja ponownie zaatakowała infrastrukturę energetyczną Ukrainy."),
    ("Ukraine", "ru", "Власти Украины сообщили о новых ударах по энергосистеме."),
    ("Ukraine", "tr", "Almanya Ukrayna'ya yeni hava savunma sistemleri gönderecek."),
    ("Ukraine", "uk", "Президент України провів нараду з військовими."),
    ("Germany", "pl", "Niemcy zapowiedziały nowy pakiet pomocy wojskowej."),
    ("Germany", "de", "Deutschlands Wirtschaft ist im dritten Quartal geschrumpft."),
    ("Germany", "ru", "Германия выделит дополнительные средства на оборону."),
    ("Germany", "fr", "L'Allemagne a annoncé une hausse de son budget militaire."),
    ("Georgia", "pl", "W Gruzji trwają protesty przeciwko ustawie o zagranicznych agentach."),
    ("Georgia", "ru", "Грузия подала заявку на вступление в Евросоюз."),
    ("Turkey", "pl", "Turcja zablokowała przystąpienie Szwecji do sojuszu."),
    ("Turkey", "de", "Die Türkei hat die Zinsen erneut angehoben."),
    ("Turkey", "ru", "Турция закрыла проливы для военных кораблей."),
    ("Turkey", "tr", "Türkiye ekonomisi üçüncü çeyrekte büyüdü."),
    ("Kyiv", "en", "Explosions were heard in Kiev early on Monday."),
    ("Kyiv", "pl", "W Kijowie ogłoszono alarm przeciwlotniczy."),
    ("NATO", "fr", "L'OTAN renforce sa présence sur le flanc est."),
    ("NATO", "ru", "Саммит НАТО пройдёт в Гааге."),
    ("Zelensky", "pl", "Prezydent Zełenski spotkał się z premierem."),
    ("Zelensky", "pl", "Rozmowa Zełenskiego z kanclerzem trwała godzinę."),
    ("Zelensky", "ru", "Президент Зеленский выступил с обращением."),
    ("Zelensky", "uk", "Звернення Зеленського до нації вийшло ввечері."),
    ("Zelensky", "de", "Präsident Selenskyj hat am Montag Berlin besucht."),
    ("Zelensky", "en", "President Zelenskyy addressed the parliament."),
    ("Zelensky", "cs", "Prezident Zelenský jednal s premiérem."),
    ('"European Union"', "pl", "Unia Europejska nałożyła nowe sankcje."),
    ('"European Union"', "en", "EU leaders agreed on a new sanctions package."),
    ('"European Union"', "ru", "Евросоюз ввёл новые санкции против Москвы."),
    ('"European Union"', "de", "Die Kommission der Europäischen Union legte einen Entwurf vor."),
    ("Orlen", "pl", "Akcje Orlenu wzrosły po publikacji wyników."),
    ("Orlen", "pl", "Zarząd kieruje Orlenem od dwóch lat."),
    ("Orlen", "ru", "Акции Орлена выросли на бирже в Варшаве."),
    ("Orlen", "de", "Orlens Gewinn stieg im dritten Quartal deutlich."),
]
NOT_FOUND = [
    ("Georgia", "en", "Kemp wins re-election in Georgia as governor."),
    ("Turkey", "en", "Brine the Thanksgiving turkey overnight before roasting it."),
    ("China", "en", "The cabinet holds her grandmother's bone china and fine china."),
    ("Niger", "en", "Oil spills have polluted the Niger Delta for decades."),
    ("Jordan", "en", "Michael Jordan won six championships with the Chicago Bulls."),
    ("Kyiv", "en", "Chicken Kiev is back on the menu of London's pubs."),
    ("NATO", "it", "Nato a Roma nel 1950, il regista ha girato molti film."),
    ("Guinea", "en", "The drug was tested on guinea pigs before the trial."),
    ("Zelensky", "pl", "Minister Zieliński przedstawił projekt budżetu."),
    ("Zelensky", "ru", "Актёр Зелинский сыграл главную роль."),
    ("Zelensky", "en", "Residents of Zelenograd protested against the new road."),
    ("Zelensky", "cs", "Trenér Zelenka byl s výkonem spokojen."),
    ("Orlen", "en", "Hurricane Orlene strengthened into a Category 3 storm."),
    ("Roka", "pl", "W tym roku padało więcej niż rok temu."),
    ("Valu", "fr", "Cela peut valoir la peine d'attendre."),
    ("Germany", "ru", "Германий используют в производстве полупроводников."),
]


@pytest.mark.parametrize(("query", "language", "text"), FOUND)
def test_a_rule_word_finds_its_forms(query: str, language: str, text: str) -> None:
    assert matches(query, text, language)


@pytest.mark.parametrize(("query", "language", "text"), NOT_FOUND)
def test_a_rule_word_leaves_look_alikes_alone(query: str, language: str, text: str) -> None:
    assert not matches(query, text, language)


@pytest.mark.parametrize(
    "word",
    ["Rolls-Royce", "Coca-Cola", "Mercedes-Benz", "O'Brien", "Al-Qaeda", '"Côte d\'Ivoire"',
     "break-up", "Nagorno-Karabakh"],
)  # fmt: skip
def test_words_with_hyphens_and_apostrophes_find_the_texts_that_hold_them(word: str) -> None:
    written = word.strip('"')
    assert matches(word, f"Reports about {written} came in on Monday.", "en")
    assert words(written) == words(f"{written}.")  # one tokeniser for queries and documents


def test_explain_names_where_every_form_came_from() -> None:
    lexicon = default_lexicon()
    doc = analyse("", "Rosja zaatakowała Ukrainę, a Zełenski zwołał naradę.", "pl", lexicon)
    text = "\n".join(explain(compile_query("Ukraine AND Zelensky", lexicon), doc))
    assert "'Ukrainę'" in text and "UA: pl name, from morfeusz2" in text
    assert "'Zełenski'" in text and "name key zelensk" in text


# -- inspecting and changing concepts -----------------------------------------------------


def test_concepts_show_lists_forms_per_language_with_their_origin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "--config", str(tmp_path / "none.toml"), "concepts", "show",
                           "Ukraine", "--lang", "pl,ru")  # fmt: skip
    assert code == 0
    assert out.startswith("UA  country")
    assert re.search(r"pl +name +.*Ukraina \(cldr\)", out)
    assert re.search(r"Ukrainy.*\(morfeusz2\)", out) and re.search(r"Украины.*\(pymorphy3\)", out)
    assert "ukraiński (cldr-language)" in out and "\n  de " not in out


def test_concepts_show_for_a_word_that_is_no_concept(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(capsys, "--config", str(tmp_path / "none.toml"), "concepts", "show",
                           "Orlen")  # fmt: skip
    assert code == 0
    assert "names no concept" in out and "orlenu" in out and "morfeusz2" in out


def test_forms_added_and_removed_in_the_config_show_and_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\nurl = "sqlite:///monitor.db"\n\n'
        '[concepts.UA]\nadd = ["Ukrainiana"]\nremove = ["Ucrânia"]\n',
        encoding="utf-8",
    )
    code, out, _ = run_cli(capsys, "--config", str(config), "concepts", "show", "Ukraine")
    assert code == 0
    assert "Ukrainiana (config)" in out and "Ucrânia" not in out
    lexicon = build_lexicon({}, {"UA": {"add": ["Ukrainiana"], "remove": ["Ucrânia"]}})
    rule = compile_query("Ukraine", lexicon)
    said = analyse("", "A Ucrânia pediu mais apoio aos aliados europeus.", "pt", lexicon)
    added = analyse("", "Ukrainiana was named in the report.", "en", lexicon)
    assert evaluate(rule.root, said) is None and evaluate(rule.root, added) is not None
