"""The file channel: stable names, whole files, failures as outcomes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from alerts.channels.file import digest_file_name, write_digest_file
from alerts.message import Message

NAME = "2024-05-01T123456Z_armenia-azerbaijan_0123abcd.md"


def _message(text: str = "# Digest\n\nЕреван, Bakı\n", **changes: Any) -> Message:
    message = Message(
        digest_id="0123abcd4567ef89",
        rule="armenia-azerbaijan",
        channel="files",
        subject="armenia-azerbaijan: 2 new matches",
        documents=2,
        parts={"file": text},
        created_at="2024-05-01T12:34:56Z",
    )
    return replace(message, **changes)


def _everything_in(folder: Path) -> list[str]:
    # Hidden names included: that is where a temporary file would hide.
    return sorted(path.name for path in folder.iterdir())


def test_writes_the_file_part_under_a_name_from_the_message(tmp_path: Path) -> None:
    folder = tmp_path / "digests" / "nested"
    outcome = write_digest_file(folder, _message(), extension="md")
    assert outcome.ok
    assert outcome.detail == str(folder / NAME)
    assert (folder / NAME).read_text(encoding="utf-8") == "# Digest\n\nЕреван, Bakı\n"
    assert _everything_in(folder) == [NAME]


def test_name_is_stable_for_the_same_message() -> None:
    message = _message()
    assert digest_file_name(message, "md") == NAME
    assert digest_file_name(Message.from_json(message.to_json()), "md") == NAME
    assert digest_file_name(message, ".html") == NAME.removesuffix(".md") + ".html"


@pytest.mark.parametrize(
    ("created_at", "stamp"),
    [
        ("2024-05-01T14:34:56+02:00", "2024-05-01T123456Z"),
        ("2024-05-01T12:34:56.999999", "2024-05-01T123456Z"),
        ("", "undated"),
        ("yesterday", "undated"),
    ],
)
def test_time_in_the_name_is_utc_or_undated(created_at: str, stamp: str) -> None:
    name = digest_file_name(_message(created_at=created_at), "md")
    assert name == f"{stamp}_armenia-azerbaijan_0123abcd.md"


def test_rule_is_made_safe_for_a_file_name() -> None:
    name = digest_file_name(_message(rule="../a b/c"), "md")
    assert name == "2024-05-01T123456Z_.._a_b_c_0123abcd.md"
    assert "/" not in name


def test_second_write_of_the_same_message_leaves_one_file(tmp_path: Path) -> None:
    assert write_digest_file(tmp_path, _message("first"), extension="md").ok
    outcome = write_digest_file(tmp_path, _message("second"), extension="md")
    assert outcome.ok
    assert _everything_in(tmp_path) == [NAME]
    assert (tmp_path / NAME).read_text(encoding="utf-8") == "second"


def test_folder_under_a_regular_file_is_an_io_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    folder = blocker / "digests"
    outcome = write_digest_file(folder, _message(), extension="md")
    assert not outcome.ok
    assert outcome.category == "io"
    assert str(folder / NAME) in outcome.message
    assert _everything_in(tmp_path) == ["not-a-folder"]


def test_failed_rename_leaves_no_temporary_file(tmp_path: Path) -> None:
    # A folder where the file should go: the write succeeds, the rename over it cannot.
    (tmp_path / NAME).mkdir()
    outcome = write_digest_file(tmp_path, _message(), extension="md")
    assert outcome.category == "io"
    assert NAME in outcome.message
    assert _everything_in(tmp_path) == [NAME]
    assert (tmp_path / NAME).is_dir()


def test_message_without_a_file_part_is_internal(tmp_path: Path) -> None:
    outcome = write_digest_file(tmp_path, _message(parts={"markdown": "x"}), extension="md")
    assert (outcome.ok, outcome.category) == (False, "internal")
    assert _everything_in(tmp_path) == []
