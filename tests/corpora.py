"""The shared feed corpora (../shared/corpora), as cases a test server can serve.

Each case is one file with the headers it must be served with: the ``Header:``
lines of its leading comment (feedparser's suite), ``text/xml`` by default,
``application/feed+json`` for JSON, and gzip files both with and without
their ``Content-Encoding``. Nothing here is copied into the repository.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
REAL_FEEDS = CORPORA / "real-feeds"
FEED_SUFFIXES = {".xml", ".rdf", ".atom", ".rss", ".json", ".gz"}


_COMMENT = re.compile(r"<!--(.*?)-->", re.DOTALL)
_HEADER = re.compile(r"^Header:\s+([^:]+):(.*)$", re.MULTILINE)
# Byte patterns that say how the leading comment itself is encoded (XML 1.0 appendix F).
_SNIFF = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\x00<", "utf-16-be"),
    (b"<\x00", "utf-16-le"),
)


@dataclass(frozen=True)
class Case:
    name: str  # path below the corpora folder, plus " (raw)" for gzip served undeclared
    body: bytes
    headers: dict[str, str]

    @property
    def route(self) -> str:
        return "/" + self.name.replace(" ", "-")


def _text(data: bytes) -> str:
    for prefix, codec in _SNIFF:
        if data.startswith(prefix):
            return data.decode(codec, errors="ignore").lstrip("\ufeff")
    return data.decode("utf-8", errors="ignore")


def _served_headers(path: Path, data: bytes) -> dict[str, str]:
    if path.suffix == ".json":
        return {"Content-Type": "application/feed+json"}
    comment = _COMMENT.search(_text(data[:4000]))
    headers = {"Content-Type": "text/xml"}  # what feedparser's own suite serves by default
    for name, value in _HEADER.findall(comment.group(1) if comment else ""):
        headers = {k: v for k, v in headers.items() if k.lower() != name.strip().lower()}
        headers[name.strip()] = value.strip()
    return headers


def corpus_cases() -> list[Case]:
    if not CORPORA.is_dir():
        return []
    cases = []
    for folder in ("feedparser-tests", "real-feeds"):
        for path in sorted((CORPORA / folder).rglob("*")):
            if not path.is_file() or path.suffix not in FEED_SUFFIXES:
                continue
            name = path.relative_to(CORPORA).as_posix()
            data = path.read_bytes()
            headers = _served_headers(path, data)
            if path.suffix == ".gz":
                cases.append(Case(f"{name} (raw)", data, headers))
                headers = {**headers, "Content-Encoding": "gzip"}
            cases.append(Case(name, data, headers))
    return cases


CASES = corpus_cases()
