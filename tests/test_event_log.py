"""The event log contract, run against every backend (see stores.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from monitor.errors import ConcurrencyError
from monitor.eventlog.events import (
    EVENT_TYPES,
    UPCASTERS,
    DocumentIngested,
    Event,
    FeedPollFailed,
    PublishedDate,
    decode,
)
from monitor.eventlog.log import EventLog
from monitor.eventlog.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "events"


def failed(feed: str = "f", message: str = "boom") -> FeedPollFailed:
    return FeedPollFailed(
        feed=feed,
        url="http://127.0.0.1/x",
        status=None,
        category="dns",
        message=message,
        elapsed=0.5,
    )


def ingested(doc_id: str, title: str = "Rozmowy Armenii i Azerbejdżanu") -> DocumentIngested:
    return DocumentIngested(
        document_id=doc_id,
        source="seeds/a.txt",
        identity=f"guid:{doc_id}",
        url=None,
        title=title,
        text="Przedstawiciele Armenii i Azerbejdżanu spotkali się.",
        language="pl",
        published=PublishedDate(value="2023-10", precision="month"),
        content_hash="h",
    )


def test_append_assigns_increasing_seq_and_per_stream_versions(store: Store) -> None:
    log = EventLog()
    with store.transaction() as conn:
        log.append(conn, [failed("a"), failed("b"), failed("a")])
    with store.transaction() as conn:
        log.append(conn, [failed("a")])
    with store.reading() as conn:
        rows = list(log.read(conn))
    assert [r.seq for r in rows] == sorted({r.seq for r in rows})
    assert [(r.stream, r.version) for r in rows] == [
        ("feed:a", 1),
        ("feed:b", 1),
        ("feed:a", 2),
        ("feed:a", 3),
    ]
    assert len({r.id for r in rows}) == 4


def test_expected_version_conflict_raises_typed_error(store: Store) -> None:
    log = EventLog()
    with store.transaction() as conn:
        log.append(conn, [ingested("d1")], expected={"document:d1": 0})
    with pytest.raises(ConcurrencyError) as caught, store.transaction() as conn:
        log.append(conn, [ingested("d1")], expected={"document:d1": 0})
    assert caught.value.stream == "document:d1"
    with store.reading() as conn:
        assert [r.type for r in log.read(conn)] == ["DocumentIngested"]


def test_unique_stream_version_is_enforced_by_the_database(store: Store) -> None:
    # Two writers that both computed version 1 of a stream: the table itself refuses the second.
    log = EventLog()
    with store.transaction() as conn:
        log.append(conn, [failed("x")])
    with pytest.raises(ConcurrencyError), store.transaction() as conn:
        log.stream_versions = lambda conn, streams: {}  # type: ignore[method-assign]
        log.append(conn, [failed("x")])


def test_failed_transaction_leaves_nothing(store: Store) -> None:
    log = EventLog()
    with pytest.raises(RuntimeError), store.transaction() as conn:
        log.append(conn, [failed("a"), failed("b")])
        raise RuntimeError("crash before commit")
    with store.reading() as conn:
        assert list(log.read(conn)) == []
        assert log.head(conn) == 0


def test_read_filters_by_after_type_stream_and_limit(store: Store) -> None:
    log = EventLog(batch_size=2)  # small batches exercise the keyset paging
    with store.transaction() as conn:
        log.append(conn, [failed("a"), ingested("d1"), failed("b"), ingested("d2"), failed("a")])
    with store.reading() as conn:
        everything = list(log.read(conn))
        assert len(everything) == 5
        third = everything[2].seq
        assert [e.seq for e in log.read(conn, after=third)] == [e.seq for e in everything[3:]]
        assert [e.type for e in log.read(conn, types=["DocumentIngested"])] == [
            "DocumentIngested",
            "DocumentIngested",
        ]
        assert [e.version for e in log.read(conn, stream="feed:a")] == [1, 2]
        assert len(list(log.read(conn, limit=3))) == 3
        assert log.head(conn) == everything[-1].seq
        assert log.last_in_stream(conn, "feed:a").seq == everything[-1].seq  # type: ignore[union-attr]


def test_non_ascii_round_trips_and_recorded_at_is_aware_utc(store: Store) -> None:
    log = EventLog()
    moment = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=UTC)
    with store.transaction() as conn:
        log.append(conn, [ingested("d1", title="Армения и Азербайджан — żółć")], now=moment)
    with store.reading() as conn:
        (event,) = log.read(conn)
        raw = conn.exec_driver_sql("SELECT CAST(data AS TEXT) FROM events").scalar()
    assert event.data["title"] == "Армения и Азербайджан — żółć"
    assert "Армения" in raw  # stored as UTF-8, not \\u escapes
    assert event.recorded_at == moment and event.recorded_at.tzinfo is UTC
    envelope = event.envelope()
    assert envelope["recorded_at"] == "2026-03-29T01:30:15.123456Z"
    assert set(envelope) == {"seq", "id", "type", "stream", "version", "recorded_at", "data"}
    assert isinstance(event.event, DocumentIngested)


class RenamedV2(Event):
    """A test-only event whose payload changed shape in version 2."""

    type_name: ClassVar[str] = "TestRenamed"
    schema_version: ClassVar[int] = 2
    name: str
    size: int

    @property
    def stream(self) -> str:
        return "test:renamed"


def test_old_payloads_are_upcast_on_read(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(EVENT_TYPES, "TestRenamed", RenamedV2)
    monkeypatch.setitem(
        UPCASTERS, ("TestRenamed", 1), lambda d: {"name": d["title"], "size": d.get("size", 0)}
    )
    with store.transaction() as conn:
        conn.exec_driver_sql(
            "INSERT INTO events (id, type, stream, version, recorded_at, schema_version, data) "
            "VALUES ('00000000-0000-0000-0000-000000000001', 'TestRenamed', 'test:renamed', 1, "
            "'2026-01-01 00:00:00', 1, '{\"title\": \"old\"}')"
        )
    with store.reading() as conn:
        (event,) = EventLog().read(conn)
    assert event.data == {"name": "old", "size": 0}
    typed = event.event
    assert isinstance(typed, RenamedV2) and typed.name == "old"


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_every_stored_payload_version_still_decodes(fixture: Path) -> None:
    # One fixture per (type, schema_version) ever written: old rows must stay readable.
    sample: dict[str, Any] = json.loads(fixture.read_text(encoding="utf-8"))
    event = decode(sample["type"], sample["schema_version"], sample["data"])
    assert event.type_name == sample["type"]


def test_there_is_a_fixture_for_every_current_event_version() -> None:
    have = {p.stem for p in FIXTURES.glob("*.json")}
    want = {f"{name}.v{cls.schema_version}" for name, cls in EVENT_TYPES.items()}
    assert want <= have, f"add fixtures for {sorted(want - have)}"
