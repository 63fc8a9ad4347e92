"""Bounded work per poll: entries per poll (newest first, the rest counted as dropped and
read by later polls), title and text per entry (cut and marked), and a JSON Feed item
nested too deep dropped alone, through the parser and through a real poll on loopback."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from feedserver import FeedServer

from monitor.app.wiring import open_log, recorder_for
from monitor.config.settings import FeedSettings, FetchSettings
from monitor.documents.normalise import CUT_MARK, TEXT_CAP, TITLE_CAP, normalise_entry
from monitor.documents.shapes import RawEntry
from monitor.eventlog.log import EventLog
from monitor.feeds.jsonfeed import ITEM_DEPTH, read_json_feed
from monitor.feeds.parse import parse_feed
from monitor.feeds.polling import Poller

NOW = datetime(2026, 12, 4, 12, tzinfo=UTC)


def rss(guids: list[str], prefix: str = "") -> bytes:
    tag = f"{prefix}:" if prefix else ""
    items = "".join(
        f"<{tag}item><guid>{g}</guid><title>Story {g}</title>"
        f"<description>Talks resumed.</description></{tag}item>"
        for g in guids
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>http://127.0.0.1/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def json_feed(items: list[object]) -> bytes:
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items}).encode()


def test_an_xml_feed_is_read_up_to_max_entries_and_the_rest_counted() -> None:
    guids = [f"g{n}" for n in range(1200)]
    parsed = parse_feed(
        rss(guids), {"content-type": "application/rss+xml"}, "http://x/", max_entries=500
    )
    # feedparser resolves a guid as a link against the feed's address
    assert [str(e.guid).rpartition("/")[2] for e in parsed.entries] == guids[:500]
    assert parsed.dropped == 700
    assert parsed.warning == "700 entries past [fetch] max_entries = 500 left unread"
    whole = parse_feed(rss(guids[:10]), {"content-type": "text/xml"}, "http://x/", max_entries=10)
    assert len(whole.entries) == 10 and whole.dropped == 0 and whole.warning is None


def test_a_json_feed_keeps_its_newest_items() -> None:
    items: list[object] = [
        {"id": "old", "content_text": "x", "date_published": "2020-01-01T00:00:00Z"},
        {"id": "undated", "content_text": "x"},
        {"id": "new", "content_text": "x", "date_published": "2026-01-01T00:00:00+01:00"},
        {"id": "mid", "content_text": "x", "date_published": "2024-06-01T00:00:00Z"},
    ]
    feed = read_json_feed(json_feed(items), base_url="http://x/", max_entries=2)
    assert [e.guid for e in feed.entries] == ["new", "mid"] and feed.dropped == 2
    every = read_json_feed(json_feed(items), base_url="http://x/", max_entries=4)
    assert [e.guid for e in every.entries] == ["old", "undated", "new", "mid"]  # as they came


def test_a_json_feed_item_nested_too_deep_is_dropped_alone() -> None:
    deep = '{"id":"deep","content_text":' + "[" * 5000 + "]" * 5000 + "}"
    shallow = '{"id":"ok","content_text":"a [bracket] in \\"text\\" {too}"}'
    nested = (
        '{"id":"nested","content_text":"x","_ext":'
        + "[" * (ITEM_DEPTH - 1)
        + "]" * (ITEM_DEPTH - 1)
        + "}"
    )
    body = (
        '{"version":"https://jsonfeed.org/version/1.1","title":"[t]","items":['
        f"{shallow},{deep},{nested}]}}"
    ).encode()
    feed = read_json_feed(body, base_url="http://x/")
    assert [e.guid for e in feed.entries] == ["ok", "nested"]
    assert feed.warning == f"dropped 1 items nested more than {ITEM_DEPTH} levels deep"


def test_title_and_text_are_cut_and_marked() -> None:
    raw = RawEntry(
        guid="g",
        url=None,
        title="Headline " * 400,
        content="<p>" + "word " * 2_000_000 + "</p>",
        content_is_html=True,
        published=None,
        published_parsed=None,
        language="en",
        author=None,
    )
    document = normalise_entry(raw, source="s", fetched_at=NOW)
    assert len(document.title) <= TITLE_CAP and document.title.endswith(CUT_MARK)
    assert len(document.text) <= TEXT_CAP and document.text.endswith(CUT_MARK)
    assert document.text.startswith("word word")
    short = normalise_entry(
        RawEntry("h", None, "Short", "Short text.", False, None, None, "en", None),
        source="s",
        fetched_at=NOW,
    )
    assert (short.title, short.text) == ("Short", "Short text.")


def test_a_poll_records_what_it_dropped_and_a_later_poll_reads_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    store = open_log(f"sqlite:///{tmp_path / 'monitor.db'}").store
    poller = Poller(recorder_for(store), FetchSettings(max_entries=3))
    source = FeedSettings(name="capped", url=feed_server.url("/feed.xml"))
    feed_server.static("/feed.xml", rss(["n5", "n4", "n3", "n2", "n1"]))
    asyncio.run(poller.poll([source]))
    # The feed moves on: its newest two are gone, the two dropped ones are among its newest.
    feed_server.static("/feed.xml", rss(["n3", "n2", "n1"]))
    asyncio.run(poller.poll([source]))
    with store.reading() as conn:
        events = list(EventLog().read(conn))
    store.dispose()
    polls = [e.data for e in events if e.type == "FeedPolled"]
    assert [(p["entries"], p["new"], p["dropped"]) for p in polls] == [(3, 3, 2), (3, 2, 0)]
    ingested = [
        e.data["identity"].rpartition("/")[2] for e in events if e.type == "DocumentIngested"
    ]
    assert sorted(ingested) == [f"n{n}" for n in range(1, 6)]
