"""The two shapes a document takes on its way into the log.

A source (a feed, a seed file) yields :class:`RawEntry` values: what the
publisher gave us, HTML and all. :func:`monitor.documents.normalise.normalise_entry`
turns each into a :class:`Document`: clean text, canonical URL, language,
a date that keeps its precision, a stable id and a content hash. Only
documents reach the event log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Precision = Literal["year", "month", "day", "minute", "second"]
DateOrigin = Literal["source", "fetched"]


@dataclass(frozen=True, slots=True)
class RawEntry:
    """One item as a source delivered it, before any cleaning."""

    guid: str | None = None
    url: str | None = None
    title: str | None = None
    # HTML unless ``content_is_html`` is false (plain-text seeds, JSON Feed content_text).
    content: str | None = None
    content_is_html: bool = True
    # The date exactly as the source wrote it; kept so that its precision survives.
    published: str | None = None
    # The same date as the parser understood it (UTC), when it understood it.
    published_parsed: datetime | None = None
    # The language the source declares (item, then feed), if any: a hint, not the answer.
    language: str | None = None
    author: str | None = None


@dataclass(frozen=True, slots=True)
class Published:
    """A publication date with its precision.

    ``value`` is ISO 8601 cut to the precision: ``2023``, ``2023-10``,
    ``2023-10-02``, ``2023-10-02T10:00Z`` or ``2023-10-02T10:00:00Z`` (always UTC).
    ``origin`` is ``fetched`` when the source gave no usable date and the
    fetch time stands in for it.
    """

    value: str
    precision: Precision
    origin: DateOrigin = "source"

    def as_dict(self) -> dict[str, str]:
        return {"value": self.value, "precision": self.precision, "origin": self.origin}


@dataclass(frozen=True, slots=True)
class Document:
    """A normalised document, ready to be recorded."""

    document_id: str
    # How the id was derived: "guid:<guid>", "url:<canonical url>" or "hash:<content hash>".
    identity: str
    source: str
    url: str | None
    title: str
    text: str
    language: str
    published: Published
    content_hash: str
    author: str | None = None
