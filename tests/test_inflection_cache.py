"""Rule words' Polish and Russian inflections are worked out in a child process and kept on
disk, so a daemon never loads morfeusz2 or pymorphy3 (monitor/rules/inflection_cache.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from monitor.rules import inflection_cache, morphology

BUILD = textwrap.dedent(
    """
    import json, sys
    from monitor.config.settings import Settings
    from monitor.rules.rulebook import build_matcher
    from monitor.rules.ruleset import _leaves
    from monitor.rules.word_terms import WordTerm

    settings = Settings.model_validate({
        "rules": [{"name": "r", "query": "Orlen OR (wybory AND NOT выборы)", "channels": []}],
        "aliases": {"Orlen": ["Orlenu"]},
        "channels": [],
    })
    matcher = build_matcher(settings, {})
    forms = {
        leaf.word: {language: list(found) for language, found in leaf.inflections.items()}
        for leaf in _leaves(matcher.ruleset.rules[0].root)
        if isinstance(leaf, WordTerm)
    }
    print(json.dumps({
        "forms": forms,
        "loaded": sorted(m for m in ("morfeusz2", "pymorphy3") if m in sys.modules),
    }))
    """
)


def build(cache: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", BUILD],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MONITOR_CACHE": str(cache)},
    )
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_a_daemon_compiles_rules_without_loading_the_generators(tmp_path: Path) -> None:
    first = build(tmp_path)  # the words are new: a child works them out
    again = build(tmp_path)  # known: read from disk, no child
    assert first["loaded"] == [] and again["loaded"] == []
    assert first["forms"] == again["forms"]
    forms = first["forms"]
    assert isinstance(forms, dict)
    # The same forms as the generators give in this process.
    for word, languages in forms.items():
        for language, found in languages.items():
            expected = morphology.inflections.__wrapped__(word, language) - {word.casefold()}
            assert set(found) == expected, (word, language)
    assert "orlenu" in forms["Orlen"]["pl"] and "wyborach" in forms["wybory"]["pl"]
    assert "выборах" in forms["выборы"]["ru"]
    assert list(tmp_path.glob("inflections-*.marshal"))


def test_words_are_inflected_here_when_the_child_cannot_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MONITOR_CACHE", str(tmp_path))
    monkeypatch.setattr(morphology, "_known", {})
    monkeypatch.setattr(inflection_cache, "CHILD_TIMEOUT", 0.001)  # it cannot even start
    inflection_cache.prepare(["Kowalski"])
    assert not morphology.known("pl", "Kowalski")
    assert "inflecting here" in caplog.text
    assert "kowalskiego" in morphology.inflections("Kowalski", "pl")  # in this process
    assert not list(tmp_path.glob("inflections-*.marshal"))
