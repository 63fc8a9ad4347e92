"""Projections: the folds, checkpoints, and replay rebuilding exactly the live tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from monitor.app.wiring import PROJECTIONS, open_log, recorder_for
from monitor.documents.plan import Plan
from monitor.documents.recording import record_documents
from monitor.documents.shapes import Document, Published
from monitor.eventlog.events import (
    FeedNotModified,
    FeedPolled,
    FeedPollFailed,
    RuleDefined,
    RuleRemoved,
    StoredEvent,
)
from monitor.eventlog.log import EventLog
from monitor.eventlog.projection import Projector, checkpoints_table
from monitor.eventlog.store import Store
from monitor.readmodels.documents import document_texts
from monitor.readmodels.folds import fold_feed
from monitor.readmodels.tables import documents_table, feed_state_table, matches_table, rules_table
from monitor.rules.matcher import Match


def doc(n: int, text: str = "Armenia and Azerbaijan", source: str = "bbc") -> Document:
    return Document(
        document_id=f"{n:016x}",
        identity=f"guid:{n}",
        source=source,
        url=f"https://e.org/{n}",
        title=f"Title {n}",
        text=f"{text} {n}",
        language="en",
        published=Published("2023-10-02T10:00:00Z", "second"),
        content_hash=f"{text}-{n}",
    )


def polled(feed: str, new: int, etag: str | None = '"v1"') -> Any:
    def summary(plan: Plan) -> list[FeedPolled]:
        return [
            FeedPolled(
                feed=feed,
                url=f"http://127.0.0.1/{feed}",
                status=200,
                final_url=f"http://127.0.0.1/{feed}",
                format="rss20",
                entries=new,
                new=plan.new,
                revised=plan.revised,
                unchanged=plan.unchanged,
                elapsed=0.1,
                etag=etag,
                last_modified="Mon, 02 Oct 2023 10:00:00 GMT",
            )
        ]

    return summary


def snapshot(store: Store) -> dict[str, list[dict[str, Any]]]:
    tables = {
        "documents": documents_table,
        "feed_state": feed_state_table,
        "rules": rules_table,
        "matches": matches_table,
    }
    with store.reading() as conn:
        result = {
            name: [
                dict(r)
                for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns)).mappings()
            ]
            for name, t in tables.items()
        }
        result["checkpoints"] = [
            dict(r)
            for r in conn.execute(
                sa.select(checkpoints_table).order_by(checkpoints_table.c.name)
            ).mappings()
        ]
    return result


def test_replay_rebuilds_tables_equal_to_the_live_ones(store: Store) -> None:
    ticks = iter(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(100))
    recorder = recorder_for(store, clock=lambda: next(ticks))
    record_documents(recorder, [doc(1), doc(2), doc(3)], polled("bbc", 3))
    recorder.append(
        [
            FeedPollFailed(
                feed="tass",
                url="http://127.0.0.1/tass",
                status=None,
                category="dns",
                message="no such host",
                elapsed=0.0,
            )
        ]
    )
    record_documents(recorder, [doc(2, "changed"), doc(4)], polled("bbc", 2, etag='"v2"'))
    recorder.append([FeedNotModified(feed="bbc", url="http://127.0.0.1/bbc", elapsed=0.0)])
    recorder.append(
        [
            FeedPollFailed(
                feed="tass",
                url="http://127.0.0.1/tass",
                status=503,
                category="http",
                message="HTTP 503",
                elapsed=0.0,
            )
        ]
    )
    rule = RuleDefined(rule="aa", version=1, query="Armenia", channels=[], schedule="immediate")
    recorder.append([rule])
    match = Match("aa", 1, [{"term": "Armenia", "word": "Armenia", "via": "surface"}], [])
    record_documents(
        recorder, [doc(5, source="seeds/a.txt"), doc(6)], matches={doc(5).document_id: [match]}
    )
    record_documents(
        recorder, [doc(5, "revised", source="seeds/a.txt")], matches={doc(5).document_id: [match]}
    )
    recorder.append([rule.model_copy(update={"version": 2, "query": "Armenia AND x"})])
    recorder.append([RuleRemoved(rule="aa", version=2)])
    live = snapshot(store)
    assert len(live["documents"]) == 6
    assert len(live["matches"]) == 1  # the revision that still matches adds no second match
    (rule_row,) = live["rules"]
    assert (rule_row["version"], rule_row["removed"], rule_row["matches"]) == (2, True, 1)
    with store.transaction() as conn:
        replayed = Projector(EventLog(), PROJECTIONS, batch_size=2).rebuild(conn)
    assert replayed == 17
    assert snapshot(store) == live


def test_live_projection_values(store: Store) -> None:
    recorder = recorder_for(store)
    record_documents(recorder, [doc(1)], polled("bbc", 1))
    record_documents(recorder, [doc(1, "edited")], polled("bbc", 1, etag='"v2"'))
    recorder.append([FeedNotModified(feed="bbc", url="http://127.0.0.1/bbc", elapsed=0.0)])
    recorder.append(
        [
            FeedPollFailed(
                feed="bbc",
                url="http://127.0.0.1/bbc",
                status=None,
                category="timeout",
                message="read timed out",
                elapsed=20.0,
            )
        ]
    )
    state = snapshot(store)
    (document,) = state["documents"]
    assert document["revisions"] == 1
    with store.reading() as conn:
        assert document_texts(conn, [document["document_id"]]) == {
            document["document_id"]: "edited 1"
        }
    assert document["published_precision"] == "second"
    (feed,) = state["feed_state"]
    assert feed["etag"] == '"v2"'  # kept across a 304 that carried none, and across a failure
    assert feed["consecutive_failures"] == 1
    assert feed["last_error_category"] == "timeout"
    assert feed["polls"] == 4 and feed["documents"] == 1
    with store.reading() as conn:
        head = EventLog().head(conn)
    assert {c["seq"] for c in state["checkpoints"]} == {head}


def test_catch_up_applies_only_what_is_new(store: Store) -> None:
    recorder = recorder_for(store)
    record_documents(recorder, [doc(1)], polled("bbc", 1))
    with store.transaction() as conn:
        assert Projector(EventLog(), PROJECTIONS).catch_up(conn) == 0
        EventLog().append(
            conn,
            [
                FeedPollFailed(
                    feed="bbc", url="u", status=None, category="dns", message="m", elapsed=0.0
                )
            ],
        )
        assert Projector(EventLog(), PROJECTIONS).catch_up(conn) == 1
    assert snapshot(store)["feed_state"][0]["consecutive_failures"] == 1


def stored(type_: str, data: dict[str, Any], seq: int = 1) -> StoredEvent:
    return StoredEvent(
        seq=seq,
        id="x",
        type=type_,
        stream="feed:f",
        version=seq,
        recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        data=data,
    )


def test_feed_fold_counts_failures_and_resets_on_success() -> None:
    fail = {"feed": "f", "url": "u", "status": 500, "category": "http", "message": "HTTP 500"}
    row = fold_feed(None, stored("FeedPollFailed", fail))
    row = fold_feed(row, stored("FeedPollFailed", fail, 2))
    assert row is not None and row["consecutive_failures"] == 2 and row["last_success_at"] is None
    row = fold_feed(row, stored("FeedNotModified", {"feed": "f", "url": "u", "status": 304}, 3))
    assert row is not None and row["consecutive_failures"] == 0
    assert row["last_outcome"] == "not_modified" and row["last_error_message"] is None


def test_a_projection_table_of_an_older_shape_is_rebuilt_on_open(tmp_path: Path) -> None:
    """An upgrade that adds a projection column rebuilds the projections from the log."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_log(url).store
    recorder = recorder_for(store)
    recorder.append(
        [
            FeedPollFailed(
                feed="f",
                url="http://127.0.0.1/",
                status=503,
                category="http",
                message="HTTP 503",
                elapsed=0.1,
                retry_after=120.0,
            )
        ]
    )
    with store.transaction() as conn:
        conn.exec_driver_sql("ALTER TABLE feed_state DROP COLUMN retry_after")
    store.dispose()
    reopened = open_log(url).store
    try:
        with reopened.reading() as conn:
            rows = conn.exec_driver_sql(
                "SELECT feed, consecutive_failures, retry_after FROM feed_state"
            ).all()
        assert [tuple(r) for r in rows] == [("f", 1, 120.0)]
    finally:
        reopened.dispose()
