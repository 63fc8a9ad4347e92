"""Seeds into the log: new, revised, failed once, and the rest of the folder still goes in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.app.wiring import open_log, recorder_for
from monitor.eventlog.log import EventLog
from monitor.eventlog.recorder import Recorder
from monitor.eventlog.store import Store
from monitor.seeds.ingest import ingest_seeds


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return recorder_for(open_log(f"sqlite:///{tmp_path / 'm.db'}").store)


def types(store: Store) -> list[str]:
    with store.reading() as conn:
        return [e.type for e in EventLog().read(conn)]


def test_a_bad_file_is_recorded_once_and_the_rest_goes_in(
    tmp_path: Path, recorder: Recorder
) -> None:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "Armenia i Azerbejdżan rozmawiają o pokoju w Brukseli.", encoding="utf-8"
    )
    (folder / "b.txt").write_bytes(b"\xff\xfe\x00broken")
    (folder / "c.jsonl").write_text(
        '{"title": "Jeden", "text": "Tekst"}\nnot json\n', encoding="utf-8"
    )
    report = ingest_seeds(recorder, [folder], base=tmp_path)
    assert report.files == 3
    assert report.new == 2
    assert sorted(f.category for f in report.failed) == ["malformed", "undecodable"]
    assert types(recorder.store).count("SeedFileFailed") == 2
    again = ingest_seeds(recorder, [folder], base=tmp_path)
    assert again.new == 0 and len(again.failed) == 2
    assert types(recorder.store).count("SeedFileFailed") == 2  # unchanged files: not again
    bad = folder / "b.txt"
    bad.write_bytes(b"\xffstill broken")
    os.utime(bad, ns=(1, 1))
    ingest_seeds(recorder, [folder], base=tmp_path)
    assert types(recorder.store).count("SeedFileFailed") == 3  # a changed file fails anew


def test_an_edited_seed_is_a_revision_of_the_same_document(
    tmp_path: Path, recorder: Recorder
) -> None:
    seed = tmp_path / "note.txt"
    seed.write_text("date 2024-05-01 Pierwsza wersja tekstu o Armenii.", encoding="utf-8")
    assert ingest_seeds(recorder, [seed], base=tmp_path).new == 1
    seed.write_text(
        "date 2024-05-01 Druga wersja tekstu o Armenii i Azerbejdżanie.", encoding="utf-8"
    )
    report = ingest_seeds(recorder, [seed], base=tmp_path)
    assert (report.new, report.revised) == (0, 1)
    with recorder.store.reading() as conn:
        first, second = EventLog().read(conn)
    assert first.stream == second.stream and second.version == 2
    assert second.type == "DocumentRevised" and "text" in second.data["changed"]
    assert second.data["published"]["precision"] == "day"
