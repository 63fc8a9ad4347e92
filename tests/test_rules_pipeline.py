"""Rules end to end: rule events, matches recorded with their documents, never twice;
the rules commands (list, test, explain, backfill) through the real command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from clirun import run_cli as cli
from feedserver import FeedServer

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_b61107c3d676957f.txt"
RULE = (
    '[[rules]]\nname = "{name}"\nquery = "{query}"\nchannels = ["files"]\nschedule = "immediate"\n'
)
FEED = """<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>
<link>http://127.0.0.1/</link><description>d</description>
<item><title>Армения и Азербайджан возобновили переговоры</title><link>http://127.0.0.1/ru1</link>
<guid>ru1</guid><description>Переговоры Армении и Азербайджана прошли в Брюсселе.</description></item>
<item><title>Der Wetterbericht für morgen</title><link>http://127.0.0.1/de1</link><guid>de1</guid>
<description>Morgen wird es in Berlin sonnig und warm.</description></item>
</channel></rss>"""

# On a machine that has never built the lemma dictionaries, the first test builds them
# (tens of seconds per language); after that they load from the cache in milliseconds.
pytestmark = pytest.mark.timeout(900)


def write_config(folder: Path, rules: str, feed_url: str | None = None) -> Path:
    feed = f'[[feeds]]\nname = "ru"\nurl = "{feed_url}"\n' if feed_url else ""
    config = folder / "config.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///monitor.db"\n[seeds]\npaths = ["seeds"]\n{feed}{rules}'
        '[[channels]]\nname = "files"\ntype = "file"\npath = "digests"\n',
        encoding="utf-8",
    )
    return config


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
    return tmp_path


def events(capsys: pytest.CaptureFixture[str], config: Path, *types: str) -> list[dict[str, Any]]:
    args = [a for t in types for a in ("--type", t)]
    code, out, err = cli(capsys, "--config", str(config), "events", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_seed_and_feed_match_once_with_terms_and_snippets(
    project: Path, feed_server: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    feed_server.static("/feed.xml", FEED.encode(), headers={"Content-Type": "application/rss+xml"})
    rules = RULE.format(name="armenia-azerbaijan", query="Armenia AND Azerbaijan")
    config = write_config(project, rules, feed_server.url("/feed.xml"))
    assert cli(capsys, "--config", str(config), "run", "--once")[0] == 0
    (defined,) = events(capsys, config, "RuleDefined")
    assert defined["data"]["version"] == 1 and defined["stream"] == "rule:armenia-azerbaijan"
    matched = events(capsys, config, "RuleMatched")
    assert sorted(m["data"]["language"] for m in matched) == ["pl", "ru"]
    seed = next(m["data"] for m in matched if m["data"]["language"] == "pl")
    assert seed["rule"] == "armenia-azerbaijan" and seed["rule_version"] == 1
    words = {(t["word"], t["via"]) for t in seed["terms"]}
    # "Armenia" is Polish too, so "Armenię" is an inflection; "Azerbaijan" is not Polish.
    assert ("Azerbejdżanu", "translation") in words and ("Armenię", "inflection") in words
    assert ("Armenii", "inflection") in words and ("Ormian", "demonym") in words
    snippet = seed["snippets"][0]
    start, end = snippet["highlights"][0]
    assert snippet["text"][start:end] in {"Azerbejdżanu", "Armenię", "Armenii", "Azerbejdżanem"}
    # Matches come right after the document that made them, in the same stream order.
    ingested = events(capsys, config, "DocumentIngested")
    assert {m["data"]["document_id"] for m in matched} <= {
        d["data"]["document_id"] for d in ingested
    }
    assert cli(capsys, "--config", str(config), "run", "--once")[0] == 0
    assert len(events(capsys, config, "RuleMatched")) == 2  # nothing matched twice
    assert len(events(capsys, config, "RuleDefined")) == 1  # an unchanged rule is not redefined


def test_rule_changes_and_removal_are_events(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(project, RULE.format(name="r", query="Armenia"))
    cli(capsys, "--config", str(config), "run", "--once")
    write_config(project, RULE.format(name="r", query="Armenia AND Azerbaijan"))
    cli(capsys, "--config", str(config), "run", "--once")
    write_config(project, "")
    cli(capsys, "--config", str(config), "run", "--once")
    log = events(capsys, config, "RuleDefined", "RuleRemoved")
    assert [(e["type"], e["data"]["version"]) for e in log] == [
        ("RuleDefined", 1),
        ("RuleDefined", 2),
        ("RuleRemoved", 2),
    ]
    assert log[1]["data"]["query"] == "Armenia AND Azerbaijan"


def test_ingest_command_matches_rules(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(project, RULE.format(name="aa", query="Armenia AND Azerbaijan"))
    extra = tmp_path / "extra.txt"
    extra.write_text("Армения и Азербайджан подписали мирный договор.", encoding="utf-8")
    code, out, _ = cli(capsys, "--config", str(config), "ingest", str(extra))
    assert code == 0 and "1 new match(es)" in out
    (match,) = events(capsys, config, "RuleMatched")
    assert match["data"]["language"] == "ru" and match["data"]["backfill"] is False


def test_rules_commands(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(project, "")
    cli(capsys, "--config", str(config), "run", "--once")
    (doc,) = events(capsys, config, "DocumentIngested")
    doc_id = doc["data"]["document_id"]

    code, out, _ = cli(
        capsys, "--config", str(config), "rules", "test", "Armenia NEAR/3 Azerbaijan"
    )
    assert code == 0 and "1 of 1 stored document(s) match" in out and "[Azerbejdżanu]" in out
    code, out, _ = cli(capsys, "--config", str(config), "rules", "test", "Georgia")
    assert code == 0 and "0 of 1" in out
    code, _, err = cli(capsys, "--config", str(config), "rules", "test", "Armenia AND (")
    assert code == 2 and "bad query: at 13: unexpected end of query" in err

    # A rule added after the document was stored: nothing matched it yet; backfill does.
    write_config(project, RULE.format(name="aa", query="Armenia AND Azerbaijan"))
    code, out, _ = cli(capsys, "--config", str(config), "rules", "list")
    assert code == 0 and "aa" in out and "Armenia AND Azerbaijan" in out
    code, out, _ = cli(capsys, "--config", str(config), "rules", "backfill", "aa")
    assert code == 0 and "1 new match(es)" in out
    (match,) = events(capsys, config, "RuleMatched")
    assert match["data"]["backfill"] is True and match["data"]["document_id"] == doc_id
    code, out, _ = cli(capsys, "--config", str(config), "rules", "backfill", "aa")
    assert "0 new match(es)" in out and "1 already matched" in out

    code, out, _ = cli(capsys, "--config", str(config), "rules", "explain", "aa", doc_id)
    assert code == 0 and "MATCHES: Armenia AND Azerbaijan" in out
    assert "'Azerbejdżanu' (body" in out and "translation" in out
    code, _, err = cli(capsys, "--config", str(config), "rules", "explain", "nope", doc_id)
    assert code == 2 and "no rule named 'nope'" in err
