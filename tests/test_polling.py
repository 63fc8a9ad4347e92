"""Polls through the daemon's own path (fetch, parse, normalise, record) against a real server.

Every poll ends in exactly one of FeedPolled, FeedNotModified or FeedPollFailed;
documents are recorded once; a changed item is a revision; failures are events.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from corpora import CASES, CORPORA
from feedserver import FeedServer

from monitor.app.once import run_once
from monitor.app.wiring import open_log, recorder_for
from monitor.config.settings import FeedSettings, FetchSettings, Settings, settings_from_dict
from monitor.eventlog.events import StoredEvent
from monitor.eventlog.log import EventLog
from monitor.eventlog.store import Store
from monitor.feeds.polling import Poller

POLL_EVENTS = {"FeedPolled", "FeedNotModified", "FeedPollFailed"}
UNRESOLVABLE = "-unresolvable-.test"  # refused by the C resolver itself: no DNS query leaves


def rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>https://news.example.org/{guid}?utm_source=rss</link>"
        f"<guid isPermaLink='false'>{guid}</guid><description>{text}</description>"
        f"<pubDate>Mon, 02 Oct 2023 10:00:00 GMT</pubDate></item>"
        for guid, title, text in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://news.example.org/</link><description>d</description>{body}</channel></rss>"
    ).encode()


ITEMS = (
    (
        "a1",
        "Rozmowy Armenii i Azerbejdżanu",
        "Przedstawiciele Armenii i Azerbejdżanu spotkali się w Brukseli.",
    ),
    ("a2", "Армения и Азербайджан", "Переговоры Армении и Азербайджана продолжились в Брюсселе."),
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_log(f"sqlite:///{tmp_path / 'monitor.db'}").store


def poll(store: Store, *feeds: FeedSettings, **fetch: Any) -> list[Any]:
    poller = Poller(recorder_for(store), FetchSettings(**fetch))
    return asyncio.run(poller.poll(list(feeds)))


def feed(name: str, url: str) -> FeedSettings:
    return FeedSettings(name=name, url=url)


def logged(store: Store) -> list[StoredEvent]:
    with store.reading() as conn:
        return list(EventLog().read(conn))


def test_200_then_304_with_etag_and_nothing_twice(feed_server: FeedServer, store: Store) -> None:
    feed_server.conditional("/feed.xml", rss(*ITEMS), etag='"v1"')
    source = feed("pl", feed_server.url("/feed.xml"))
    poll(store, source)
    poll(store, source)
    types = [e.type for e in logged(store)]
    assert types == ["DocumentIngested", "DocumentIngested", "FeedPolled", "FeedNotModified"]
    first, second = feed_server.requests_for("/feed.xml")
    assert "if-none-match" not in first.headers
    assert second.headers["if-none-match"] == '"v1"'
    assert "news-monitor" in first.headers["user-agent"]
    polled = logged(store)[2].data
    assert (polled["status"], polled["entries"], polled["new"], polled["etag"]) == (
        200,
        2,
        2,
        '"v1"',
    )


def test_last_modified_is_sent_back(feed_server: FeedServer, store: Store) -> None:
    stamp = email.utils.formatdate(1_700_000_000, usegmt=True)
    feed_server.conditional("/feed.xml", rss(*ITEMS), last_modified=stamp)
    source = feed("pl", feed_server.url("/feed.xml"))
    poll(store, source)
    poll(store, source)
    assert feed_server.requests_for("/feed.xml")[1].headers["if-modified-since"] == stamp
    assert logged(store)[-1].type == "FeedNotModified"


def test_same_items_without_validators_add_nothing_and_a_change_is_a_revision(
    feed_server: FeedServer, store: Store
) -> None:
    feed_server.static("/feed.xml", rss(*ITEMS), headers={"Content-Type": "application/rss+xml"})
    source = feed("pl", feed_server.url("/feed.xml"))
    poll(store, source)
    poll(store, source)
    assert Counter(e.type for e in logged(store)) == {"DocumentIngested": 2, "FeedPolled": 2}
    assert logged(store)[-1].data["unchanged"] == 2
    edited = (ITEMS[0][0], ITEMS[0][1], ITEMS[0][2] + " Rozmowy potrwają do piątku.")
    feed_server.static(
        "/feed.xml", rss(edited, ITEMS[1]), headers={"Content-Type": "application/rss+xml"}
    )
    poll(store, source)
    revised = [e for e in logged(store) if e.type == "DocumentRevised"]
    assert len(revised) == 1 and revised[0].data["changed"] == ["text"] and revised[0].version == 2
    assert logged(store)[-1].data["revised"] == 1


def test_documents_are_normalised(feed_server: FeedServer, store: Store) -> None:
    hostile = (
        "x1",
        "&lt;b&gt;Armenia&lt;/b&gt; &lt;script&gt;alert(1)&lt;/script&gt;talks",
        "&lt;p&gt;One.&lt;/p&gt;&lt;p&gt;Two.&lt;/p&gt;",
    )
    feed_server.static(
        "/feed.xml", rss(hostile, *ITEMS), headers={"Content-Type": "application/rss+xml"}
    )
    poll(store, feed("f", feed_server.url("/feed.xml")))
    docs = {e.data["identity"]: e.data for e in logged(store) if e.type == "DocumentIngested"}
    first = docs["guid:x1"]
    assert first["title"] == "Armenia talks"
    assert first["text"] == "One.\n\nTwo."
    assert first["url"] == "https://news.example.org/x1"
    assert first["published"] == {
        "value": "2023-10-02T10:00:00Z",
        "precision": "second",
        "origin": "source",
    }
    assert docs["guid:a1"]["language"] == "pl" and docs["guid:a2"]["language"] == "ru"
    assert first["source"] == "f"


def test_each_failure_is_one_event_with_its_category(feed_server: FeedServer, store: Store) -> None:
    feed_server.static("/missing", b"no", status=404)
    feed_server.static(
        "/broken", b"<rss><channel><item><title>x", headers={"Content-Type": "text/xml"}
    )
    feed_server.static(
        "/page",
        b"<html><body><p>Not a feed</p></body></html>",
        headers={"Content-Type": "text/html"},
    )
    feed_server.hang("/hang")
    feed_server.static(
        "/big", b"<rss>" + b" " * 300_000 + b"</rss>", headers={"Content-Type": "text/xml"}
    )
    feed_server.redirect("/loop", "/loop")
    feed_server.static("/ok", rss(*ITEMS), headers={"Content-Type": "application/rss+xml"})
    feeds = [
        feed("missing", feed_server.url("/missing")),
        feed("broken", feed_server.url("/broken")),
        feed("page", feed_server.url("/page")),
        feed("hang", feed_server.url("/hang")),
        feed("big", feed_server.url("/big")),
        feed("loop", feed_server.url("/loop")),
        feed("nowhere", f"http://{UNRESOLVABLE}/feed"),
        feed("ok", feed_server.url("/ok")),
    ]
    started = time.monotonic()
    outcomes = poll(store, *feeds, read_timeout=0.5, total_timeout=2.0, max_bytes=100_000)
    assert time.monotonic() - started < 10
    assert len(outcomes) == len(feeds)
    events = [e for e in logged(store) if e.type in POLL_EVENTS]
    by_feed = {e.data["feed"]: e for e in events}
    assert len(events) == len(by_feed) == len(feeds)  # exactly one poll event per feed
    categories = {name: e.data.get("category") for name, e in by_feed.items()}
    assert categories == {
        "missing": "http",
        "broken": None,
        "page": "malformed",
        "hang": "timeout",
        "big": "too_large",
        "loop": "redirect",
        "nowhere": "dns",
        "ok": None,
    }
    assert by_feed["missing"].data["status"] == 404
    # Truncated XML that feedparser recovers from: the entry is kept and the problem noted.
    assert by_feed["broken"].type == "FeedPolled" and by_feed["broken"].data["new"] == 1
    assert by_feed["broken"].data["warning"]
    assert by_feed["ok"].type == "FeedPolled" and by_feed["ok"].data["new"] == 2


def corpus_settings(server: FeedServer, tmp_path: Path, cases: list[Any]) -> Settings:
    return settings_from_dict(
        {
            "store": {"url": f"sqlite:///{tmp_path / 'corpus.db'}"},
            "seeds": {"paths": []},
            "fetch": {"total_timeout": "20s", "concurrency": 32, "per_host": 32},
            "feeds": [
                {"name": f"c{n}", "url": server.url(case.route)} for n, case in enumerate(cases)
            ],
        },
        source="test",
        base_dir=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.skipif(not CORPORA.is_dir(), reason=f"shared corpora not found at {CORPORA}")
def test_every_corpus_feed_through_the_pipeline_twice(tmp_path: Path) -> None:
    """Every corpus file, one feed each, through run --once (process pool and all), twice."""
    with FeedServer() as server:
        for case in CASES:
            server.static(case.route, case.body, headers=case.headers)
        settings = corpus_settings(server, tmp_path, CASES)
        first = run_once(settings)
        second = run_once(settings)
    store = open_log(settings.store_url).store
    events = logged(store)
    polls = [e for e in events if e.type in POLL_EVENTS]
    assert len(polls) == 2 * len(CASES)
    per_feed = Counter(e.data["feed"] for e in polls)
    assert set(per_feed.values()) == {2}
    failures = Counter(e.data["category"] for e in polls if e.type == "FeedPollFailed")
    assert set(failures) <= {"malformed"}, failures  # nothing crashed, timed out or went missing
    ingested = [e for e in events if e.type == "DocumentIngested"]
    polled_new = sum(e.data["new"] for e in polls if e.type == "FeedPolled")
    assert polled_new == len(ingested) == sum(p.new for p in first.polls) > 1000
    assert sum(p.new + p.revised for p in second.polls) == 0  # the second run adds nothing
    # A feed's documents are its entries less the ones that repeat an id within it.
    for event in polls:
        if event.type == "FeedPolled":
            data = event.data
            assert data["new"] + data["revised"] + data["unchanged"] == data["entries"]
