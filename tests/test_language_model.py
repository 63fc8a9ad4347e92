"""The language model mapped from the cache folder: the same answers as py3langid's own
tables, compiled on first use, recompiled when the file is damaged, and loaded the old way
when the folder cannot be written."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from monitor.documents import language_model
from monitor.documents.language import _Model

LABELLED = Path(__file__).resolve().parent / "fixtures" / "concepts" / "labelled.jsonl"


def samples() -> list[str]:
    """Real news in many languages (the labelled set), and three sentences last."""
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    texts = [f"{row['title']}. {row['text']}" for row in rows]
    texts += [
        "Ministrowie spraw zagranicznych Armenii i Azerbejdżanu spotkali się w Brukseli.",
        "Министры иностранных дел Армении и Азербайджана встретились в Брюсселе.",
        "Die Außenminister Armeniens und Aserbaidschans trafen sich in Brüssel.",
    ]
    return [t for t in texts if t.strip()]


def model(tables: language_model.Tables) -> _Model:
    return _Model.of(tables)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MONITOR_CACHE", str(tmp_path))
    return tmp_path


def test_the_mapped_model_answers_as_the_packaged_one(cache: Path) -> None:
    mapped = language_model.tables()
    assert isinstance(mapped.nextmove, memoryview)  # from the file, not loaded
    [compiled] = cache.glob("langid-*.bin")
    again = language_model.tables()
    assert isinstance(again.nextmove, memoryview)
    assert list(cache.glob("langid-*.bin")) == [compiled]  # compiled once
    packaged = model(language_model._from_package())
    texts = samples()
    assert len(texts) >= 400
    answers = [model(mapped).classify(t) for t in texts]
    assert answers == [packaged.classify(t) for t in texts]
    assert len({a for a, _ in answers}) >= 10


def test_a_damaged_file_is_compiled_again(cache: Path, caplog: pytest.LogCaptureFixture) -> None:
    language_model.tables()
    [compiled] = cache.glob("langid-*.bin")
    size = compiled.stat().st_size
    with compiled.open("r+b") as file:
        file.truncate(size // 2)
    with caplog.at_level(logging.WARNING, logger="monitor.language"):
        again = language_model.tables()
    assert "unreadable" in caplog.text and "compiling it again" in caplog.text
    assert compiled.stat().st_size == size
    assert model(again).classify(samples()[-1])[0] == "de"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_loads_the_packaged_model(
    cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache.chmod(0o500)
    try:
        with caplog.at_level(logging.WARNING, logger="monitor.cache"):
            loaded = language_model.tables()
    finally:
        cache.chmod(0o700)
    assert "cannot keep the language model" in caplog.text
    assert not isinstance(loaded.nextmove, memoryview)
    assert model(loaded).classify(samples()[-1])[0] == "de"


def test_a_folder_that_is_a_file_loads_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("MONITOR_CACHE", str(blocker / "cache"))
    with caplog.at_level(logging.WARNING, logger="monitor.cache"):
        loaded = language_model.tables()
    assert "cannot keep the language model" in caplog.text
    assert model(loaded).classify(samples()[-2])[0] == "ru"
