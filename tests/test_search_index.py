"""The search index: it narrows a preview to candidates and never changes its answer.

Real news (the labelled sets of tests/fixtures, 16 languages) is recorded in a real
SQLite file and a real PostgreSQL schema; every query's preview through the index must
match exactly the documents the rules' matcher matches reading every document.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import run_cli as cli

from monitor.app.wiring import open_log
from monitor.documents.recording import record_documents
from monitor.documents.shapes import Document, Published
from monitor.eventlog.log import EventLog
from monitor.eventlog.recorder import Recorder
from monitor.eventlog.store import Store
from monitor.readmodels.documents import stored_documents
from monitor.rules.lexicon_cache import default_lexicon
from monitor.rules.matcher import Matcher, activate, match_documents
from monitor.rules.ruleset import RuleSet, compile_query
from monitor.search import index
from monitor.search.keys import query_tokens
from monitor.search.preview import Searcher

FIXTURES = Path(__file__).resolve().parent / "fixtures"
QUERIES = [
    "Armenia AND Azerbaijan",
    "Ukraine",
    "Georgia",
    "Turkey",
    "Germany",
    "Kyiv",
    "NATO",
    "Zelensky",
    '"European Union"',
    "Ukraine AND NOT Russia",
    "(Kyiv OR Moscow) AND talks",
    "Armenia NEAR/5 Azerbaijan",
    "title:Georgia",
    "ukrain*",
    "Erdogan",
    "peace",
    "Brussels",
    "peace AND lang:pl",
    "uk*",
]
FINGERPRINT = "test"


def real_documents() -> list[Document]:
    found = []
    for name in ("concepts/labelled.jsonl", "rules/own-armenia-azerbaijan.jsonl"):
        for number, line in enumerate((FIXTURES / name).read_text(encoding="utf-8").splitlines()):
            item = json.loads(line)
            key = f"{name}:{number}"
            found.append(
                Document(
                    document_id=hashlib.sha256(key.encode()).hexdigest()[:16],
                    identity=f"guid:{key}",
                    source=name.split("/")[0],
                    url=f"https://e.org/{number}",
                    title=item.get("title", ""),
                    text=item["text"],
                    language=item["lang"],
                    published=Published("2023-10-02T10:00:00Z", "second"),
                    content_hash=f"h{number}",
                )
            )
    return found


def full_scan(store: Store, query: str) -> set[str]:
    lexicon = default_lexicon()
    matcher = Matcher(RuleSet.build([compile_query(query, lexicon)]), lexicon)
    with store.reading() as conn:
        return {d.document_id for d in stored_documents(conn) if matcher.match(d)}


def searcher(store: Store) -> Searcher:
    return Searcher(store, default_lexicon(), FINGERPRINT)


@pytest.fixture(scope="module")
def documents() -> list[Document]:
    return real_documents()


@pytest.fixture
def recorder(store_url: str) -> Iterator[Recorder]:
    opened = open_log(store_url)
    try:
        yield opened
    finally:
        opened.store.dispose()


@pytest.fixture
def store(recorder: Recorder) -> Store:
    return recorder.store


def record(recorder: Recorder, documents: list[Document]) -> None:
    for start in range(0, len(documents), 100):
        record_documents(recorder, documents[start : start + 100])


def test_every_query_finds_through_the_index_what_reading_everything_finds(
    recorder: Recorder, store: Store, documents: list[Document]
) -> None:
    record(recorder, documents)
    search = searcher(store)
    assert search.catch_up() == len(documents)  # nothing was filed while recording
    for query in QUERIES:
        expected = full_scan(store, query)
        result = search.preview(query, limit=10_000)
        assert result.exact and {d.document_id for d, _ in result.matches} == expected, query
        assert result.total == len(expected)
        if query_tokens(search.compile(query)) is not None:
            # The index narrowed the search (an unindexable query reads every document).
            assert result.indexed and result.candidates < len(documents), query
    some = search.preview("Ukraine", limit=10_000)
    assert some.total > 20 and sum(some.languages.values()) == some.total
    assert len(some.languages) >= 5


def test_documents_recorded_with_their_tokens_need_no_second_analysis(
    recorder: Recorder, store: Store, documents: list[Document]
) -> None:
    lexicon = default_lexicon()
    search = searcher(store)
    assert search.catch_up() == 0  # builds the (empty) index for this lexicon
    activate(Matcher(RuleSet.build([compile_query("Ukraine", lexicon)]), lexicon, FINGERPRINT))
    batch = documents[:150]
    matches, texts = match_documents(batch)
    record_documents(recorder, batch, matches=matches, index=texts)
    with store.reading() as conn:
        current = index.state(conn)
        head = EventLog().head(conn)
    assert current is not None and current.seq == head and current.documents == 150
    assert search.catch_up() == 0  # filed in the recording transaction
    assert {d.document_id for d, _ in search.preview("Ukraine", limit=500).matches} == (
        full_scan(store, "Ukraine")
    )


def test_a_revised_document_is_found_by_its_new_words_only(
    recorder: Recorder, store: Store
) -> None:
    first = real_documents()[0]
    revised = dataclasses.replace(
        first, title="Kyiv talks", text="Talks in Kyiv went on all night.", content_hash="other"
    )
    record(recorder, [first])
    search = searcher(store)
    search.catch_up()
    assert search.preview("Stetson").total == 1
    record(recorder, [revised])
    assert search.catch_up() == 1
    assert [d.title for d, _ in search.preview("Kyiv").matches] == ["Kyiv talks"]
    assert search.preview("Stetson").total == 0  # only the first version said it


def test_another_lexicon_rebuilds_the_index(
    recorder: Recorder, store: Store, documents: list[Document]
) -> None:
    record(recorder, documents[:40])
    assert searcher(store).catch_up() == 40
    other = Searcher(store, default_lexicon(), "other aliases")
    assert other.catch_up() == 40
    with store.reading() as conn:
        current = index.state(conn)
    assert current is not None and current.fingerprint == "other aliases"


def test_a_budget_stops_reading_and_says_the_total_is_an_estimate(
    recorder: Recorder, store: Store, documents: list[Document]
) -> None:
    record(recorder, documents)
    search = searcher(store)
    search.catch_up()
    result = search.preview("uk*", limit=5, budget=0.0)  # read one document, then stop
    assert not result.exact and result.verified == 1 and result.candidates == len(documents)
    assert not result.indexed and len(result.matches) <= 1


def test_rules_test_and_replay_go_through_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    seed = Path(__file__).resolve().parents[1] / "seeds" / "000_b61107c3d676957f.txt"
    (seeds / seed.name).write_bytes(seed.read_bytes())
    config = tmp_path / "config.toml"
    config.write_text('[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = ["seeds"]\n')
    assert cli(capsys, "--config", str(config), "ingest", str(seeds))[0] == 0
    code, out, _ = cli(capsys, "--config", str(config), "rules", "test", "Armenia AND Azerbaijan")
    assert code == 0 and "1 of 1 stored document(s) match; the index proposed 1" in out
    code, out, _ = cli(capsys, "--config", str(config), "rules", "test", "Georgia AND Armenia")
    assert code == 0 and "0 of 1 stored document(s) match; the index proposed 0" in out
    code, out, _ = cli(capsys, "--config", str(config), "replay")
    assert code == 0 and "1 document version(s) in the search index" in out
