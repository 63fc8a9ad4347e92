"""What the log says of stored documents: which are known, their text, every current version."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.documents.shapes import Document, Published
from monitor.eventlog.log import events_table
from monitor.eventlog.store import in_chunks
from monitor.readmodels.tables import documents_table


def known_documents(conn: Connection, document_ids: Iterable[str]) -> dict[str, str]:
    """``document_id -> content_hash`` for those of ``document_ids`` already stored."""
    found: dict[str, str] = {}
    column = documents_table.c
    for chunk in in_chunks(document_ids):
        query = sa.select(column.document_id, column.content_hash).where(
            column.document_id.in_(chunk)
        )
        found.update({doc_id: digest for doc_id, digest in conn.execute(query)})
    return found


def document_texts(conn: Connection, document_ids: Iterable[str]) -> dict[str, str]:
    """``document_id -> text`` of the current version, read from the event it came from."""
    found: dict[str, str] = {}
    docs, events = documents_table.c, events_table.c
    for chunk in in_chunks(document_ids):
        query = (
            sa.select(docs.document_id, events.data)
            .join(events_table, events.seq == docs.last_seq)
            .where(docs.document_id.in_(chunk))
        )
        for doc_id, data in conn.execute(query):
            found[doc_id] = str(data["text"])
    return found


def stored_documents(
    conn: Connection,
    *,
    since: datetime | None = None,
    ids: Iterable[str] | None = None,
    batch: int = 500,
) -> Iterator[Document]:
    """Every stored document in its current version (text from the log), oldest first."""
    docs, events = documents_table.c, events_table.c
    last = 0
    while True:
        query = (
            sa.select(documents_table, events.data)
            .join(events_table, events.seq == docs.last_seq)
            .where(docs.first_seq > last)
            .order_by(docs.first_seq)
            .limit(batch)
        )
        if since is not None:
            query = query.where(docs.ingested_at >= since)
        if ids is not None:
            query = query.where(docs.document_id.in_(list(ids)))
        rows = conn.execute(query).mappings().all()
        for row in rows:
            yield Document(
                document_id=row["document_id"],
                identity=row["identity"],
                source=row["source"],
                url=row["url"],
                title=row["title"],
                text=str(row["data"]["text"]),
                language=row["language"],
                published=Published(
                    row["published"], row["published_precision"], row["published_origin"]
                ),
                content_hash=row["content_hash"],
                author=row["author"],
            )
        if len(rows) < batch:
            return
        last = rows[-1]["first_seq"]


def newest_ids(
    conn: Connection, *, source: str | None = None, limit: int | None = None
) -> list[str]:
    """Stored documents' ids, newest first (of one source, at most ``limit``)."""
    column = documents_table.c
    query = sa.select(column.document_id).order_by(column.first_seq.desc()).limit(limit)
    if source is not None:
        query = query.where(column.source == source)
    return [str(row[0]) for row in conn.execute(query)]


def documents_in_order(conn: Connection, ids: Sequence[str]) -> list[Document]:
    """The stored documents of ``ids``, in that order (ids not stored are left out)."""
    found = {d.document_id: d for d in stored_documents(conn, ids=ids, batch=max(len(ids), 1))}
    return [found[i] for i in ids if i in found]


def count_documents(conn: Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(documents_table)).scalar() or 0)
