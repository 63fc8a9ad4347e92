"""The search index: a projection of stored documents' analysed words, for previews.

Each version of a document (``DocumentIngested``, ``DocumentRevised``) is filed under its
tokens (:mod:`monitor.search.keys`). SQLite keeps them in an FTS5 table without content or
positions (``search_index``, rowid = the version's seq) beside ``search_versions`` (seq ->
document id, one row per current version); PostgreSQL in an ``integer[]`` column with a GIN
index (the tokens as numbers: a ``tsvector`` of the same tokens took twice the room). A
query's tokens give the candidate documents, newest first, in milliseconds; the
exact matcher decides on those alone.

The tokens come from the analysis the matcher did anyway: live ingestion hands them over
(:func:`index_appended`, in the transaction that records the documents), so the index costs
no second analysis. What was recorded without them (no rule was active, the index was
behind, or the lexicon changed) is analysed by :func:`catch_up`, which every reader of the
index runs first, in batches, outside any write lock. The index is valid for one lexicon
(the registry, ``[aliases]``, ``[concepts]`` and the lemma languages, see
:func:`monitor.rules.rulebook.lexicon_fingerprint`): another one rebuilds it from the log on
its next use. ``monitor replay`` rebuilds it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.eventlog.events import StoredEvent
from monitor.eventlog.log import EventLog, events_table
from monitor.eventlog.store import Store
from monitor.search.keys import IndexTexts

DOCUMENT_EVENTS = ("DocumentIngested", "DocumentRevised")
BATCH = 500

# (title, text, language) -> the index text of that document (analysis + tokens).
Tokenise = Callable[[str, str, str], str]
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class IndexState:
    seq: int  # every event up to here is in the index
    fingerprint: str  # the lexicon it was made with
    documents: int


_SQLITE_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS search_index USING fts5("
    "tokens, content='', detail='none', columnsize=0, tokenize='ascii')",
    "CREATE TABLE IF NOT EXISTS search_versions ("
    "seq INTEGER PRIMARY KEY, document_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_search_versions_document ON search_versions (document_id)",
)
_POSTGRES_DDL = (
    "CREATE TABLE IF NOT EXISTS search_index ("
    "seq BIGINT PRIMARY KEY, document_id TEXT NOT NULL, tokens INTEGER[] NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ix_search_index_tokens ON search_index USING GIN (tokens)",
    "CREATE INDEX IF NOT EXISTS ix_search_index_document ON search_index (document_id)",
)
_STATE_DDL = (
    "CREATE TABLE IF NOT EXISTS search_state ("
    "id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, fingerprint TEXT NOT NULL)"
)
_TABLES = ("search_index", "search_versions", "search_state")


def ensure(conn: Connection) -> None:
    """Create the index's tables where they are missing."""
    postgres = conn.dialect.name == "postgresql"
    for statement in (*(_POSTGRES_DDL if postgres else _SQLITE_DDL), _STATE_DDL):
        conn.exec_driver_sql(statement)


def state(conn: Connection) -> IndexState | None:
    """How far the index has got, or None when it was never built."""
    if not _exists(conn):
        return None
    row = conn.exec_driver_sql("SELECT seq, fingerprint FROM search_state WHERE id = 1").first()
    if row is None:
        return None
    table = "search_index" if conn.dialect.name == "postgresql" else "search_versions"
    count = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0
    return IndexState(int(row[0]), str(row[1]), int(count))


def _locked_state(conn: Connection) -> IndexState | None:
    """The state, held until the transaction ends (PostgreSQL: two filers of the same batch
    would otherwise both see it unfiled; SQLite has one writer at a time anyway)."""
    lock = " FOR UPDATE" if conn.dialect.name == "postgresql" else ""
    query = f"SELECT seq, fingerprint FROM search_state WHERE id = 1{lock}"
    row = conn.exec_driver_sql(query).first()
    return None if row is None else IndexState(int(row[0]), str(row[1]), -1)


def _exists(conn: Connection) -> bool:
    return bool(sa.inspect(conn).has_table("search_state"))


def index_appended(
    conn: Connection, stored: Sequence[StoredEvent], texts: IndexTexts | None
) -> None:
    """File the documents of events just appended in this transaction, when the index is
    current up to them and every one of them comes with its tokens; otherwise leave them
    to :func:`catch_up` (which reads them back from the log)."""
    if texts is None or not stored:
        return
    documents = [e for e in stored if e.type in DOCUMENT_EVENTS]
    if not documents or any(e.data["document_id"] not in texts.texts for e in documents):
        return
    if not _exists(conn):
        return
    current = _locked_state(conn)
    if current is None or current.fingerprint != texts.fingerprint:
        return
    before = stored[0].seq - 1
    if current.seq != before and _documents_between(conn, current.seq, before):
        return
    _write(
        conn,
        [(e.seq, e.data["document_id"], texts.texts[e.data["document_id"]]) for e in documents],
    )
    _advance(conn, stored[-1].seq)


def _documents_between(conn: Connection, low: int, high: int) -> bool:
    """Whether a document event lies in ``(low, high]``: other writers' events (deliveries,
    polls of unchanged feeds) move the log on without giving the index anything to do."""
    column = events_table.c
    query = (
        sa.select(column.seq)
        .where(column.seq > low, column.seq <= high, column.type.in_(DOCUMENT_EVENTS))
        .limit(1)
    )
    return conn.execute(query).first() is not None


def catch_up(
    store: Store,
    fingerprint: str,
    tokenise: Tokenise,
    *,
    progress: Progress | None = None,
) -> int:
    """Bring the index up to the head of the log for this lexicon; returns how many
    document versions it filed. Analysis happens outside any transaction that writes: a
    batch is written only if nobody else filed it meanwhile (else it is dropped, and the
    next batch starts from where the other writer got to)."""
    log = EventLog()
    with store.transaction() as conn:
        ensure(conn)
        current = state(conn)
        if current is None or current.fingerprint != fingerprint:
            _reset(conn, fingerprint)
    filed = 0
    while True:
        with store.reading() as conn:
            start = state(conn)
            assert start is not None
            head = log.head(conn)
            if start.seq >= head:
                return filed
            events = list(log.read(conn, after=start.seq, types=DOCUMENT_EVENTS, limit=BATCH))
        rows = [
            (
                e.seq,
                e.data["document_id"],
                tokenise(e.data["title"], e.data["text"], e.data["language"]),
            )
            for e in events
        ]
        reached = events[-1].seq if len(events) == BATCH else head
        with store.transaction() as conn:
            again = _locked_state(conn)
            if again is None or again.fingerprint != fingerprint:
                continue  # rebuilt for another lexicon meanwhile: the loop starts over
            if again.seq != start.seq:
                continue
            _write(conn, rows)
            _advance(conn, reached)
        filed += len(rows)
        if progress is not None:
            progress(len(rows))


def rebuild(store: Store, fingerprint: str, tokenise: Tokenise, **options: Any) -> int:
    """Drop the index and file every stored document again (``monitor replay``)."""
    with store.transaction() as conn:
        drop(conn)
    return catch_up(store, fingerprint, tokenise, **options)


def drop(conn: Connection) -> None:
    for table in _TABLES:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def _reset(conn: Connection, fingerprint: str) -> None:
    drop(conn)
    ensure(conn)
    insert = "INSERT INTO search_state (id, seq, fingerprint) VALUES (1, 0, :fingerprint)"
    conn.execute(sa.text(insert), {"fingerprint": fingerprint})


def _advance(conn: Connection, seq: int) -> None:
    conn.execute(sa.text("UPDATE search_state SET seq = :seq WHERE id = 1"), {"seq": seq})


def _write(conn: Connection, rows: Sequence[tuple[int, str, str]]) -> None:
    """File versions (seq, document id, tokens); an older version of the same document
    stops counting."""
    if not rows:
        return
    ids = [(document_id,) for _, document_id, _ in rows]
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("DELETE FROM search_index WHERE document_id = %s", ids)
        conn.exec_driver_sql(
            "INSERT INTO search_index (seq, document_id, tokens) VALUES (%s, %s, %s)",
            [(seq, document_id, _numbers(tokens)) for seq, document_id, tokens in rows],
        )
        return
    # FTS5 without content cannot delete a row without its old text: the old version's
    # tokens stay, but without a search_versions row they lead nowhere.
    conn.exec_driver_sql("DELETE FROM search_versions WHERE document_id = ?", ids)
    conn.exec_driver_sql(
        "INSERT INTO search_versions (seq, document_id) VALUES (?, ?)",
        [(seq, document_id) for seq, document_id, _ in rows],
    )
    conn.exec_driver_sql(
        "INSERT INTO search_index (rowid, tokens) VALUES (?, ?)",
        [(seq, tokens) for seq, _, tokens in rows],
    )


def _numbers(tokens: str) -> list[int]:
    """Tokens as PostgreSQL integers (the CRC-32 less 2**31, to fit a signed int4): an array
    of them with a GIN index takes half the room of the same tokens in a tsvector."""
    return [int(token[1:], 16) - 2**31 for token in tokens.split()]


def candidates(conn: Connection, tokens: Iterable[str] | None) -> list[str] | None:
    """The ids of the documents filed under any of ``tokens``, newest first; None for
    ``tokens`` None (every document is a candidate: the caller reads them all)."""
    if tokens is None:
        return None
    wanted = sorted(set(tokens))
    if not wanted:
        return []
    if conn.dialect.name == "postgresql":
        query = (
            "SELECT document_id FROM search_index WHERE tokens && %s::integer[] ORDER BY seq DESC"
        )
        found = conn.exec_driver_sql(query, (_numbers(" ".join(wanted)),))
    else:
        query = (
            "SELECT v.document_id FROM search_index s JOIN search_versions v ON v.seq = s.rowid "
            "WHERE search_index MATCH ? ORDER BY s.rowid DESC"
        )
        found = conn.exec_driver_sql(query, (" OR ".join(wanted),))
    return [str(row[0]) for row in found]
