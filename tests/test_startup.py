"""Commands start at once: a light command imports none of the heavy modules it does not
need, and `monitor --help` imports no command at all (each command loads when it runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from monitor.cli import COMMANDS, SUMMARIES, cli
from monitor.cli.rules import SUMMARIES as RULE_SUMMARIES
from monitor.cli.rules import TOOLS

ROOT = Path(__file__).resolve().parents[1]
# What only some commands need: the feed pipeline, morphology, the web stack, the outbox's
# senders and templates, migrations.
HEAVY = (
    "feedparser",
    "trafilatura",
    "lxml",
    "apprise",
    "apscheduler",
    "simplemma",
    "morfeusz2",
    "pymorphy3",
    "Stemmer",
    "marisa_trie",
    "py3langid",
    "numpy",
    "httpx",
    "jinja2",
    "starlette",
    "uvicorn",
    "tomlkit",
    "alembic",
    "ijson",
)
# Not even these for --help: the database, the settings models, tables.
BASE = ("sqlalchemy", "sqlmodel", "pydantic", "rich")
PROBE = """
import json, sys
from monitor.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = [name for name in json.loads(sys.stdin.read()) if name in sys.modules]
print("\\nIMPORTED " + json.dumps(heavy))
"""


def imported(folder: Path, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps([*HEAVY, *BASE]),
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("IMPORTED "))
    return list(json.loads(line.removeprefix("IMPORTED ")))


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    made = tmp_path_factory.mktemp("startup")
    shutil.copy(ROOT / "config.toml", made / "config.toml")
    shutil.copytree(ROOT / "seeds", made / "seeds")
    subprocess.run(
        [sys.executable, "-m", "monitor", "ingest", "seeds"],
        cwd=made,
        check=True,
        timeout=300,
        capture_output=True,
    )
    return made


def test_help_imports_no_command(folder: Path) -> None:
    assert imported(folder, "--help") == []


@pytest.mark.parametrize(
    "command", [["status"], ["events", "--limit", "5"], ["rules", "list"], ["deliveries"]]
)
def test_a_light_command_imports_no_heavy_module(folder: Path, command: list[str]) -> None:
    loaded = imported(folder, *command)
    assert [name for name in loaded if name in HEAVY] == []


def test_help_summaries_are_the_commands_own(folder: Path) -> None:
    ctx = click.Context(cli)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.help is not None
        assert SUMMARIES[name] == command.help.strip().splitlines()[0], name
    rules = cli.get_command(ctx, "rules")
    assert isinstance(rules, click.Group)
    for name in TOOLS:
        tool = rules.get_command(ctx, name)
        assert tool is not None and tool.help is not None
        assert RULE_SUMMARIES[name] == tool.help.strip().splitlines()[0], name
