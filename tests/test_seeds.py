"""Reading seed files and folders into raw entries (files made in tmp_path)."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from monitor.documents.normalise import normalise_entry
from monitor.documents.shapes import Published, RawEntry
from monitor.seeds import formats as seed_formats
from monitor.seeds import scan as seeds
from monitor.seeds.scan import SeedFile, SeedFileError, display_path, scan_seeds

SEED = Path(__file__).resolve().parent.parent / "seeds" / "000_b61107c3d676957f.txt"
FETCHED = datetime(2024, 3, 1, tzinfo=UTC)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def scan(tmp_path: Path, *paths: Path, **options: int) -> list[SeedFile | SeedFileError]:
    return list(scan_seeds(list(paths) or [tmp_path], base=tmp_path, **options))


def only_entry(tmp_path: Path, path: Path) -> RawEntry:
    (result,) = scan(tmp_path, path)
    assert isinstance(result, SeedFile)
    (entry,) = result.entries
    return entry


# ---------------------------------------------------------------- .txt


def test_the_shipped_seed_keeps_its_month_and_is_polish(tmp_path: Path) -> None:
    path = tmp_path / "seeds" / SEED.name
    path.parent.mkdir()
    shutil.copy(SEED, path)
    (result,) = scan(tmp_path)
    assert isinstance(result, SeedFile)
    assert result.display == f"seeds/{SEED.name}"
    (entry,) = result.entries
    assert entry.published == "2023-10"
    assert entry.guid == f"seed:seeds/{SEED.name}"
    assert entry.content_is_html is False
    assert entry.content is not None and entry.content.lstrip().startswith("Poufną rozmowę")
    document = normalise_entry(entry, source=result.display, fetched_at=FETCHED)
    assert document.published == Published("2023-10", "month")
    assert document.language == "pl"
    assert document.title == (
        "Poufną rozmowę relacjonuje redakcja „Politico”, która powołuje się "
        "na dwóch niezależnych informatorów"
    )
    assert not document.text.startswith("date")


def test_a_short_first_line_before_a_blank_line_is_the_title(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "\n  date 2023-10-02\nTalks resume\n\nThe body.\nMore.\n")
    entry = only_entry(tmp_path, path)
    assert (entry.title, entry.published) == ("Talks resume", "2023-10-02")
    assert entry.content is not None and entry.content.strip() == "The body.\nMore."


def test_a_long_first_line_is_not_a_title(tmp_path: Path) -> None:
    long_line = "word " * 30
    entry = only_entry(tmp_path, write(tmp_path / "a.txt", f"{long_line}\n\nbody"))
    assert entry.title is None
    assert entry.content is not None and "body" in entry.content


def test_without_a_date_token_there_is_no_published_date(tmp_path: Path) -> None:
    entry = only_entry(tmp_path, write(tmp_path / "a.txt", "dates are not tokens here. Body."))
    assert entry.published is None
    assert entry.content == "dates are not tokens here. Body."


def test_an_edited_seed_keeps_its_document_id(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "First version of the text.")
    before = normalise_entry(only_entry(tmp_path, path), source="a.txt", fetched_at=FETCHED)
    write(path, "Second version of the text.")
    after = normalise_entry(only_entry(tmp_path, path), source="a.txt", fetched_at=FETCHED)
    assert after.document_id == before.document_id
    assert after.content_hash != before.content_hash


def test_a_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", b"\xef\xbb\xbfdate 2023 Tekst z BOM.")
    entry = only_entry(tmp_path, path)
    assert entry.published == "2023"
    assert entry.content == " Tekst z BOM."


def test_empty_files_are_read_with_no_entries(tmp_path: Path) -> None:
    for name in ("a.txt", "b.md", "c.json", "d.jsonl", "e.html"):
        write(tmp_path / name, "  \n")
    results = scan(tmp_path)
    assert [r.display for r in results] == ["a.txt", "b.md", "c.json", "d.jsonl", "e.html"]
    assert all(isinstance(r, SeedFile) and r.entries == [] for r in results)


# ---------------------------------------------------------------- .md


def test_markdown_front_matter(tmp_path: Path) -> None:
    text = (
        "---\n"
        'title: "Front title"\n'
        "date: 2023-10-02\n"
        "lang: de-DE\n"
        "author: 'A. Writer'\n"
        "tags:\n"
        "  - ignored\n"
        "---\n"
        "# Heading\n\nBody text.\n"
    )
    entry = only_entry(tmp_path, write(tmp_path / "a.md", text))
    assert entry.title == "Front title"
    assert (entry.published, entry.language, entry.author) == ("2023-10-02", "de-DE", "A. Writer")
    assert entry.guid == "seed:a.md"
    assert entry.content is not None and entry.content.split() == ["Heading", "Body", "text."]


def test_a_thematic_break_at_the_top_is_not_front_matter(tmp_path: Path) -> None:
    text = "---\nNote: this looks like a key.\nBut this line does not.\n---\n\nBody."
    entry = only_entry(tmp_path, write(tmp_path / "a.md", text))
    assert entry.title is None
    assert entry.content is not None
    assert [line for line in entry.content.split("\n") if line] == [
        "Note: this looks like a key.",
        "But this line does not.",
        "Body.",
    ]


def test_front_matter_values_may_hold_dashes_and_colons(tmp_path: Path) -> None:
    text = "---\ntitle: Kyiv---Lviv: a timeline\n...\nBody."
    entry = only_entry(tmp_path, write(tmp_path / "a.md", text))
    assert (entry.title, entry.content) == ("Kyiv---Lviv: a timeline", "Body.")


def test_markdown_front_matter_id_or_url_identifies_the_document(tmp_path: Path) -> None:
    with_id = write(tmp_path / "a.md", "---\nid: article-7\nurl: https://e.com/a\n---\nText.")
    with_url = write(tmp_path / "b.md", "---\nurl: https://e.com/b\n---\nText.")
    assert only_entry(tmp_path, with_id).guid == "article-7"
    entry = only_entry(tmp_path, with_url)
    assert (entry.guid, entry.url) == (None, "https://e.com/b")
    document = normalise_entry(entry, source="b.md", fetched_at=FETCHED)
    assert document.identity == "url:https://e.com/b"


def test_markdown_title_is_the_first_heading_and_syntax_is_removed(tmp_path: Path) -> None:
    text = (
        "# The *real* title #\n\n"
        "Some **bold**, __strong__, *em*, _it_ and ~~gone~~ words; snake_case_name stays.\n"
        'A [link](https://example.com "t") and ![an image](img.png) and `code`.\n\n'
        "> quoted line\n\n"
        "- item one\n"
        "2. item two\n\n"
        "## Second heading\n\n"
        "```python\n"
        "x = a * b  # *not* emphasis\n"
        "```\n\n"
        "***\n"
        "[ref]: https://example.com/ref\n"
    )
    entry = only_entry(tmp_path, write(tmp_path / "a.md", text))
    assert entry.title == "The real title"
    assert entry.content is not None
    lines = [line for line in entry.content.split("\n") if line.strip()]
    assert lines == [
        "Some bold, strong, em, it and gone words; snake_case_name stays.",
        "A link and  and code.",
        "quoted line",
        "item one",
        "item two",
        "Second heading",
        "x = a * b  # *not* emphasis",
    ]


def test_markdown_without_heading_uses_the_short_first_line(tmp_path: Path) -> None:
    entry = only_entry(tmp_path, write(tmp_path / "a.markdown", "Short title\n\nThe body."))
    assert entry.title == "Short title"
    assert entry.content is not None and entry.content.strip() == "The body."


def test_a_heading_after_text_is_not_the_title_only_when_front_matter_names_one(
    tmp_path: Path,
) -> None:
    text = "---\ntitle: T\n---\n# Also here\n\nBody."
    entry = only_entry(tmp_path, write(tmp_path / "a.md", text))
    assert entry.title == "T"
    assert entry.content is not None and "Also here" in entry.content


# ---------------------------------------------------------------- .html

PAGE = """<!DOCTYPE html>
<html lang="pl-PL"><head>
<meta charset="utf-8"><title>Tytuł w head | Serwis</title>
<meta property="og:title" content="Tytuł OG">
<meta property="article:published_time" content="2023-10-02T10:00:00+02:00">
<link rel="canonical" href="https://example.org/artykul?utm_source=x">
</head><body>
<nav><a href="/">Strona główna</a> <a href="/o-nas">O nas</a></nav>
<article>
<p>Pierwszy akapit artykułu jest na tyle długi, żeby ekstraktor uznał go za treść główną.</p>
<p>Drugi akapit &amp; dalsza część opowieści, również dość długa, aby nie została pominięta.</p>
</article>
<div class="comments" id="comments"><p>Komentarz czytelnika, który nie jest częścią artykułu.</p></div>
<footer>Stopka serwisu</footer>
</body></html>"""


def test_html_main_text_and_metadata(tmp_path: Path) -> None:
    entry = only_entry(tmp_path, write(tmp_path / "page.html", PAGE))
    assert entry.title == "Tytuł OG"
    assert entry.url == "https://example.org/artykul?utm_source=x"
    assert entry.published == "2023-10-02T10:00:00+02:00"
    assert entry.language == "pl-PL"
    assert entry.guid == "seed:page.html"
    assert entry.content_is_html is False
    assert entry.content is not None
    paragraphs = entry.content.split("\n\n")
    assert paragraphs[0].startswith("Pierwszy akapit")
    assert paragraphs[1].startswith("Drugi akapit & dalsza")
    for chrome in ("Strona główna", "Komentarz", "Stopka"):
        assert chrome not in entry.content
    document = normalise_entry(entry, source="page.html", fetched_at=FETCHED)
    assert document.published == Published("2023-10-02T08:00:00Z", "second")
    assert document.url == "https://example.org/artykul"
    assert document.language == "pl"


def test_html_falls_back_to_the_whole_body_and_the_head_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seed_formats, "_main_text", lambda tree: (None, "", None))
    page = "<html><head><title>Only &amp; title</title></head><body><p>a</p><p>b</p></body></html>"
    entry = only_entry(tmp_path, write(tmp_path / "page.htm", page))
    assert (entry.title, entry.content) == ("Only & title", "a\n\nb")
    assert entry.published is None and entry.url is None and entry.language is None


def test_html_with_an_xml_declaration_is_read(tmp_path: Path) -> None:
    page = '<?xml version="1.0" encoding="utf-8"?>\n<html><body><p>Tekst strony.</p></body></html>'
    entry = only_entry(tmp_path, write(tmp_path / "page.html", page))
    assert entry.content == "Tekst strony."


# ---------------------------------------------------------------- .json / .jsonl


def test_json_object_fields(tmp_path: Path) -> None:
    item = {
        "id": 7,
        "title": "T",
        "content_html": "<p>x</p>",
        "url": "https://e.com/x",
        "date": "2023-10",
        "lang": "en",
        "author": "A",
    }
    entry = only_entry(tmp_path, write(tmp_path / "a.json", orjson.dumps(item)))
    assert entry == RawEntry(
        guid="7",
        url="https://e.com/x",
        title="T",
        content="<p>x</p>",
        content_is_html=True,
        published="2023-10",
        language="en",
        author="A",
    )


def test_json_plain_text_wins_over_html_and_no_id_means_no_guid(tmp_path: Path) -> None:
    item = {"title": "T", "text": "plain", "content": "<p>html</p>"}
    entry = only_entry(tmp_path, write(tmp_path / "a.json", orjson.dumps(item)))
    assert (entry.content, entry.content_is_html, entry.guid) == ("plain", False, None)


def test_json_list_keeps_good_items_and_reports_bad_ones(tmp_path: Path) -> None:
    items = [{"title": "one"}, "nope", {"title": ["x"]}, {"text": "two"}, {"url": "u"}]
    path = write(tmp_path / "a.json", orjson.dumps(items))
    result, *errors = scan(tmp_path, path)
    assert isinstance(result, SeedFile)
    assert [(e.title, e.content) for e in result.entries] == [("one", None), (None, "two")]
    assert [(e.category, e.message) for e in errors if isinstance(e, SeedFileError)] == [
        ("malformed", "a.json: item 2: expected an object, found str"),
        ("malformed", "a.json: item 3: field 'title' must be a string, found list"),
        ("malformed", "a.json: item 5: has neither a title nor a text"),
    ]


def test_a_json_feed_is_read_item_by_item(tmp_path: Path) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Feed",
        "items": [{"id": "1", "content_text": "Hello.", "date_published": "2023-10-02T10:00:00Z"}],
    }
    entry = only_entry(tmp_path, write(tmp_path / "feed.json", orjson.dumps(feed)))
    assert (entry.guid, entry.content, entry.published) == ("1", "Hello.", "2023-10-02T10:00:00Z")


def test_invalid_json_is_one_malformed_error_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", '{\n  "title": "x",\n  "text": \n}')
    (error,) = scan(tmp_path, path)
    assert isinstance(error, SeedFileError) and error.category == "malformed"
    assert error.message.startswith("a.json: invalid JSON at line 4 column 1")
    assert "\n" not in error.message


def test_jsonl_good_lines_come_through_and_bad_lines_are_named(tmp_path: Path) -> None:
    lines = ['{"title": "a"}', "", "not json", '{"title": 5}', "[1]", '{"id": "x", "text": "b"}']
    path = write(tmp_path / "a.jsonl", "\n".join(lines) + "\n")
    result, *errors = scan(tmp_path, path)
    assert isinstance(result, SeedFile)
    assert [e.title or e.content for e in result.entries] == ["a", "b"]
    messages = [e.message for e in errors if isinstance(e, SeedFileError)]
    assert [m.split(":")[1].strip() for m in messages] == ["line 3", "line 4", "line 5"]
    assert all(e.category == "malformed" for e in errors if isinstance(e, SeedFileError))


def test_jsonl_errors_are_capped_per_file(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"title": "ok"}\n' + "bad\n" * 25)
    result, *errors = scan(tmp_path, path)
    assert isinstance(result, SeedFile) and len(result.entries) == 1
    assert len(errors) == seeds.MAX_ERRORS_PER_FILE + 1
    last = errors[-1]
    assert isinstance(last, SeedFileError)
    assert last.message == "a.jsonl: and 15 more malformed records"


# ---------------------------------------------------------------- folders and failures


def test_folders_are_walked_in_sorted_order_skipping_hidden_and_other_files(
    tmp_path: Path,
) -> None:
    for name in ("c.txt", "a.txt", "b/z.md", "b/a/deep.json", "B.txt", "b/.draft.txt"):
        write(tmp_path / name, '{"title": "x"}' if name.endswith(".json") else "x")
    write(tmp_path / ".git" / "x.txt", "x")
    write(tmp_path / "notes.csv", "x")
    write(tmp_path / "image.png", b"\x89PNG")
    write(tmp_path / "UPPER.TXT", "x")
    results = scan(tmp_path)
    assert [r.display for r in results] == [
        "B.txt",
        "UPPER.TXT",
        "a.txt",
        "b/a/deep.json",
        "b/z.md",
        "c.txt",
    ]
    assert all(isinstance(r, SeedFile) for r in results)


def test_an_undecodable_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "good one")
    write(tmp_path / "b.txt", "zażółć".encode("cp1250"))
    write(tmp_path / "c.txt", "good two")
    results = scan(tmp_path)
    assert [type(r) for r in results] == [SeedFile, SeedFileError, SeedFile]
    error = results[1]
    assert isinstance(error, SeedFileError)
    assert error.category == "undecodable"
    assert error.message.startswith("b.txt: not UTF-8: byte 0xbf at offset 2")


def test_utf16_is_named_as_unsupported_encoding(tmp_path: Path) -> None:
    (error,) = scan(tmp_path, write(tmp_path / "a.txt", "text".encode("utf-16")))
    assert isinstance(error, SeedFileError) and error.category == "undecodable"
    assert "UTF-16" in error.message


def test_files_over_the_limit_are_too_large(tmp_path: Path) -> None:
    write(tmp_path / "big.txt", "x" * 101)
    write(tmp_path / "small.txt", "x" * 100)
    big, small = scan(tmp_path, max_bytes=100)
    assert isinstance(big, SeedFileError) and big.category == "too_large"
    assert big.message == "big.txt: larger than the limit of 100 bytes"
    assert isinstance(small, SeedFile)


def test_missing_and_unsupported_explicit_paths_are_reported(tmp_path: Path) -> None:
    write(tmp_path / "notes.csv", "x")
    missing, unsupported = scan(tmp_path, tmp_path / "gone.txt", tmp_path / "notes.csv")
    assert isinstance(missing, SeedFileError) and missing.category == "unreadable"
    assert missing.message == "gone.txt: cannot read: no such file or directory"
    assert isinstance(unsupported, SeedFileError) and unsupported.category == "unsupported"
    assert unsupported.message.startswith("notes.csv: not a seed file")


def test_a_broken_symlink_is_reported_and_the_rest_goes_in(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to(tmp_path / "nowhere.txt")
    write(tmp_path / "b.txt", "fine")
    broken, good = scan(tmp_path)
    assert isinstance(broken, SeedFileError) and broken.category == "unreadable"
    assert broken.display == "a.txt"
    assert isinstance(good, SeedFile)
    (explicit,) = scan(tmp_path, tmp_path / "a.txt")
    assert isinstance(explicit, SeedFileError) and explicit.category == "unreadable"


@pytest.mark.timeout(10)
def test_a_fifo_is_skipped_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    write(tmp_path / "z.txt", "after the pipe")
    (result,) = scan(tmp_path)
    assert isinstance(result, SeedFile) and result.display == "z.txt"
    (explicit,) = scan(tmp_path, tmp_path / "pipe.txt")
    assert isinstance(explicit, SeedFileError) and explicit.category == "unsupported"


@pytest.mark.timeout(10)
def test_reading_a_fifo_directly_does_not_block(tmp_path: Path) -> None:
    # The race the walk cannot see: a FIFO where a file was when it was listed.
    os.mkfifo(tmp_path / "pipe.txt")
    result = seeds._read(tmp_path / "pipe.txt", "pipe.txt", 100)
    assert isinstance(result, SeedFileError) and result.category == "unsupported"


def test_a_folder_that_vanishes_during_the_walk_is_reported(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "first")
    write(tmp_path / "b" / "c.txt", "never read")
    write(tmp_path / "d.txt", "last")
    walk = scan_seeds([tmp_path], base=tmp_path)
    first = next(walk)
    shutil.rmtree(tmp_path / "b")
    rest = list(walk)
    assert first.display == "a.txt"
    assert [(r.display, type(r).__name__) for r in rest] == [
        ("b", "SeedFileError"),
        ("d.txt", "SeedFile"),
    ]
    assert isinstance(rest[0], SeedFileError) and rest[0].category == "unreadable"


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    write(tmp_path / "a" / "x.txt", "x")
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    assert [r.display for r in scan(tmp_path)] == ["a/x.txt"]


def test_display_is_relative_to_base_or_absolute(tmp_path: Path) -> None:
    inside = tmp_path / "seeds" / "a.txt"
    assert display_path(inside, tmp_path) == "seeds/a.txt"
    outside = tmp_path.parent / "elsewhere.txt"
    assert display_path(outside, tmp_path) == outside.as_posix()
    assert display_path(tmp_path / "seeds" / ".." / "b.txt", tmp_path) == "b.txt"
