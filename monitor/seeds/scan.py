"""Seed documents: files and folders on disk, read into raw entries.

This is the edge where seeds meet the file system; turning an entry into a
document is :mod:`monitor.documents.normalise`'s job. One file that cannot be read
never stops the others: it becomes a :class:`SeedFileError` in the stream.

Walking: folders are walked recursively in sorted order, so that a replay
ingests in the same order. Inside folders, hidden names (``.git``,
``.draft.txt``), files with other suffixes, FIFOs, sockets and devices are
skipped silently and symlinked folders are not followed (no loops); a
dangling symlink with a seed suffix is reported as unreadable. A path given
explicitly is always reported when it cannot be used.

Encoding: UTF-8, with or without a BOM. Legacy encodings are not guessed (a
wrong guess silently garbles text and the words rules match): anything else
is reported as undecodable with the byte offset of the first bad byte.

Formats, by suffix:

``.txt``
    The seed format. Optional first token ``date YYYY[-MM[-DD]]`` whose
    precision survives normalisation; a short first line (up to 120
    characters) followed by a blank line is the title, otherwise the title is
    the first sentence. The guid is ``seed:<path>``, so an edited seed is a
    revision of the same document.
``.md`` / ``.markdown``
    Optional front matter between ``---`` lines with ``key: value`` pairs
    (title, date or published, url, language or lang, id, author; no YAML
    beyond that). Title: front matter, else the first ``#`` heading, else as
    for ``.txt``. Markdown syntax is lightly removed. Guid ``seed:<path>``
    unless the front matter gives an id (used) or a url (then the URL
    identifies the document).
``.html`` / ``.htm``
    Main text by trafilatura (comments left out), or the whole body when it
    finds nothing; title, date, canonical URL and ``<html lang>`` from the
    page's metadata. Guid ``seed:<path>``.
``.json`` / ``.jsonl``
    One object, a list of objects, a JSON Feed, or one object per line, with
    fields title, text (or content_text; content, content_html or html for
    HTML), url, published (or date, date_published), id (or guid), language
    (or lang), author. The id is the guid; without one, the URL or the
    content identifies the entry. A bad record does not lose the good ones:
    the file's :class:`SeedFile` holds every good entry and a ``malformed``
    :class:`SeedFileError` follows for each bad record (line or item number),
    at most ``MAX_ERRORS_PER_FILE`` of them and then one that counts the rest.
    JSON that does not parse at all is one ``malformed`` error.

An empty file (or one holding only whitespace) is a :class:`SeedFile` with no
entries, not an error.
"""

from __future__ import annotations

import codecs
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitor.documents.shapes import RawEntry
from monitor.seeds.formats import PARSERS

SEED_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"})
MAX_ERRORS_PER_FILE = 10


@dataclass(frozen=True, slots=True)
class SeedFile:
    """A file read successfully (it may hold no entries)."""

    path: Path
    display: str  # as recorded in events: relative to base when inside it, POSIX separators
    entries: list[RawEntry]


@dataclass(frozen=True, slots=True)
class SeedFileError:
    """A file, or one record of it, that could not be read."""

    path: Path
    display: str
    category: str  # "unreadable" | "undecodable" | "malformed" | "unsupported" | "too_large"
    message: str  # one line that names the file and the problem


SeedResult = SeedFile | SeedFileError


def scan_seeds(
    paths: Sequence[Path], *, base: Path, max_bytes: int = 20 * 1024 * 1024
) -> Iterator[SeedFile | SeedFileError]:
    """Every seed file under ``paths``, read, in a deterministic order."""
    for path in paths:
        display = display_path(path, base)
        try:
            mode = path.stat().st_mode
        except OSError as error:
            yield _error(path, display, "unreadable", f"cannot read: {_reason(error)}")
            continue
        if stat.S_ISDIR(mode):
            yield from _scan_folder(path, base, max_bytes)
        elif path.suffix.lower() not in SEED_SUFFIXES:
            supported = ", ".join(sorted(SEED_SUFFIXES))
            yield _error(path, display, "unsupported", f"not a seed file (use {supported})")
        else:
            yield from _scan_file(path, display, max_bytes)


def display_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` when inside it, else absolute; POSIX separators."""
    # abspath, not resolve: a symlinked seed keeps the name it has in the folder.
    absolute = Path(os.path.abspath(path))  # noqa: PTH100
    try:
        return absolute.relative_to(os.path.abspath(base)).as_posix()  # noqa: PTH100
    except ValueError:
        return absolute.as_posix()


def _scan_folder(folder: Path, base: Path, max_bytes: int) -> Iterator[SeedResult]:
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:  # the folder vanished or cannot be listed
        yield _error(folder, display_path(folder, base), "unreadable", _reason(error))
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _scan_folder(path, base, max_bytes)
        elif path.suffix.lower() not in SEED_SUFFIXES or entry.is_dir():
            continue
        elif entry.is_file():
            yield from _scan_file(path, display_path(path, base), max_bytes)
        elif entry.is_symlink() and not path.exists():
            yield _error(path, display_path(path, base), "unreadable", "broken symbolic link")


def _scan_file(path: Path, display: str, max_bytes: int) -> Iterator[SeedResult]:
    data = _read(path, display, max_bytes)
    if isinstance(data, SeedFileError):
        yield data
        return
    text = _decode(path, display, data)
    if isinstance(text, SeedFileError):
        yield text
        return
    if not text.strip():
        yield SeedFile(path, display, [])
        return
    entries, problems = PARSERS[path.suffix.lower()](text, display)
    if entries is not None:
        yield SeedFile(path, display, entries)
    for problem in problems[:MAX_ERRORS_PER_FILE]:
        yield _error(path, display, "malformed", problem)
    if len(problems) > MAX_ERRORS_PER_FILE:
        more = len(problems) - MAX_ERRORS_PER_FILE
        yield _error(path, display, "malformed", f"and {more} more malformed records")


def _read(path: Path, display: str, max_bytes: int) -> bytes | SeedFileError:
    # O_NONBLOCK: a FIFO that slipped in between listing and opening must not
    # block the daemon; fstat then rejects anything that is not a regular file.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        return _error(path, display, "unreadable", f"cannot open: {_reason(error)}")
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return _error(path, display, "unsupported", "not a regular file")
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            return _error(path, display, "unreadable", f"cannot read: {_reason(error)}")
    if len(data) > max_bytes:  # checked on what was read: the file may be growing
        return _error(path, display, "too_large", f"larger than the limit of {max_bytes} bytes")
    return data


def _decode(path: Path, display: str, data: bytes) -> str | SeedFileError:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _error(path, display, "undecodable", "UTF-16 is not supported; save as UTF-8")
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = start + error.start
        return _error(
            path,
            display,
            "undecodable",
            f"not UTF-8: byte 0x{data[offset]:02x} at offset {offset} "
            "(seed files must be UTF-8; other encodings are not guessed)",
        )


def _error(path: Path, display: str, category: str, problem: str) -> SeedFileError:
    return SeedFileError(path, display, category, f"{display}: {problem}")


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)).lower()
