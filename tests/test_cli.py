"""The command line: exit codes, event JSON, filters, ingest, replay (DESIGN.md contracts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from clirun import run_cli

SEED = Path(__file__).resolve().parents[1] / "seeds" / "000_b61107c3d676957f.txt"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / SEED.name).write_bytes(SEED.read_bytes())
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\nurl = "sqlite:///state/monitor.db"\n[seeds]\npaths = ["seeds"]\n',
        encoding="utf-8",
    )
    return config


def events(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> list[dict[str, Any]]:
    code, out, err = run_cli(capsys, "--config", str(config), "events", "--json", *extra)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_run_once_ingests_the_seed_and_a_second_run_adds_nothing(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "--config", str(project), "run", "--once")
    assert code == 0
    assert "1 new" in out
    (event,) = events(capsys, project)
    assert event["type"] == "DocumentIngested"
    assert event["stream"] == f"document:{event['data']['document_id']}"
    data = event["data"]
    assert data["source"] == "seeds/000_b61107c3d676957f.txt"
    assert data["language"] == "pl"
    assert data["published"] == {"value": "2023-10", "precision": "month", "origin": "source"}
    assert "Azerbejdżanu" in data["text"]
    assert (project.parent / "state" / "monitor.db").exists()  # relative to the config file
    code, _, _ = run_cli(capsys, "--config", str(project), "run", "--once")
    assert code == 0
    assert len(events(capsys, project)) == 1


def test_events_filters(project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "more"
    docs.mkdir()
    for n in range(3):
        (docs / f"{n}.txt").write_text(
            f"Dokument numer {n} o Armenii.\n\nTreść {n}.", encoding="utf-8"
        )
    (docs / "bad.txt").write_bytes(b"caf\xe9 au lait")
    code, out, err = run_cli(capsys, "--config", str(project), "ingest", str(docs))
    assert code == 0
    assert "3 new" in out and "1 failed" in out and "bad.txt" in err
    everything = events(capsys, project)
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)
    assert {e["type"] for e in everything} == {"DocumentIngested", "SeedFileFailed"}
    failed = events(capsys, project, "--type", "SeedFileFailed")
    assert len(failed) == 1 and failed[0]["data"]["category"] == "undecodable"
    after = events(capsys, project, "--after", str(everything[1]["seq"]))
    assert after == everything[2:]
    assert events(capsys, project, "--limit", "2") == everything[:2]
    code, out, _ = run_cli(capsys, "--config", str(project), "events")
    assert code == 0 and len(out.splitlines()) == 4 and "SeedFileFailed" in out


def test_unknown_event_type_is_a_usage_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "--config", str(project), "events", "--type", "Nope")
    assert code == 2 and "unknown event type 'Nope'" in err


def test_invalid_config_exits_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[[feeds]]\nname = "x"\nurll = "http://127.0.0.1:1/"\n', encoding="utf-8")
    code, _, err = run_cli(capsys, "--config", str(config), "run", "--once")
    assert code == 2
    assert f"{config}: feeds[0].urll: unknown key (did you mean 'url'?)" in err


def test_config_from_environment(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", str(project))
    code, _, err = run_cli(capsys, "run", "--once")
    assert code == 0, err
    assert len(events(capsys, project)) == 1


def test_unusable_database_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{blocker}/monitor.db"\n[seeds]\npaths = []\n')
    code, _, err = run_cli(capsys, "--config", str(config), "run", "--once")
    assert code == 1
    assert "cannot create the database folder" in err


def test_replay_rebuilds(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "--config", str(project), "run", "--once")
    code, out, _ = run_cli(capsys, "--config", str(project), "replay")
    assert code == 0 and "replayed 1 event(s)" in out


def test_console_script_and_module_entry_point(project: Path) -> None:
    for command in (
        [sys.executable, "-m", "monitor"],
        [str(Path(sys.executable).parent / "monitor")],
    ):
        done = subprocess.run(
            [*command, "--config", str(project), "events", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""


def test_a_corrupt_or_empty_database_is_one_line_and_never_reinitialised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = tmp_path / "monitor.db"
    config = tmp_path / "config.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{database}"\n[seeds]\npaths = []\n')
    database.write_bytes(b"not SQLite at all " * 500)
    code, _, err = run_cli(capsys, "--config", str(config), "status")
    assert code == 1 and err.strip().count("\n") == 0
    assert str(database) in err and "file is not a database" in err
    database.write_bytes(b"")
    os.utime(database, (time.time() - 60, time.time() - 60))
    for args in (["status"], ["run", "--once"], ["events"]):
        code, _, err = run_cli(capsys, "--config", str(config), *args)
        assert code == 1, args
        assert err.strip() == (
            f"monitor: {database} is an empty file, not a database: restore it from a backup, "
            "or remove it to start a new one"
        )
    assert database.stat().st_size == 0  # left as it was
