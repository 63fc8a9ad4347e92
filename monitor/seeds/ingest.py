"""Seed documents on disk into the log (``[seeds]`` and ``monitor ingest``).

Documents from many small files are recorded in batches (one transaction
each) so a folder of ten thousand files is not ten thousand commits. A file
that cannot be read becomes a ``SeedFileFailed`` event and the rest still go
in; the same failure of an unchanged file is recorded once, not on every
cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.documents.normalise import normalise_entry
from monitor.documents.recording import record_documents
from monitor.documents.shapes import Document
from monitor.eventlog.events import SeedFileFailed
from monitor.eventlog.recorder import Recorder
from monitor.rules.matcher import match_documents
from monitor.seeds.scan import SeedFileError, scan_seeds

BATCH_DOCUMENTS = 500


@dataclass(slots=True)
class SeedReport:
    files: int = 0
    documents: int = 0
    new: int = 0
    revised: int = 0
    matched: int = 0
    failed: list[SeedFileError] = field(default_factory=list)


def ingest_seeds(
    recorder: Recorder,
    paths: Sequence[Path],
    *,
    base: Path,
    max_bytes: int = 20 * 1024 * 1024,
    on_file: Callable[[str], None] | None = None,
) -> SeedReport:
    """Read every seed file under ``paths`` and record what is new or revised."""
    report = SeedReport()
    pending: list[Document] = []
    now = recorder.clock()
    previous: str | None = None
    for item in scan_seeds(paths, base=base, max_bytes=max_bytes):
        # A JSON file can yield its good entries and then an error per bad record.
        if item.display != previous:
            report.files += 1
            previous = item.display
            if on_file is not None:
                on_file(item.display)
        if isinstance(item, SeedFileError):
            report.failed.append(item)
            _record_failure(recorder, item)
            continue
        for entry in item.entries:
            pending.append(normalise_entry(entry, source=item.display, fetched_at=now))
        if len(pending) >= BATCH_DOCUMENTS:
            _flush(recorder, pending, report)
    _flush(recorder, pending, report)
    return report


def _flush(recorder: Recorder, pending: list[Document], report: SeedReport) -> None:
    if not pending:
        return
    matches, index = match_documents(pending)
    recorded = record_documents(recorder, pending, matches=matches, index=index)
    report.documents += len(pending)
    report.new += recorded.new
    report.revised += recorded.revised
    report.matched += recorded.matched
    pending.clear()


def _record_failure(recorder: Recorder, failure: SeedFileError) -> None:
    try:
        stat = failure.path.stat()
        fingerprint: str | None = f"{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        fingerprint = None
    event = SeedFileFailed(
        path=failure.display,
        category=failure.category,
        message=failure.message,
        fingerprint=fingerprint,
    )
    with recorder.store.reading() as conn:
        on_record = [e.data for e in recorder.log.read(conn, stream=event.stream)]
    if event.payload() in on_record:
        return  # the same unchanged file failing the same way: already on record
    recorder.append([event])
