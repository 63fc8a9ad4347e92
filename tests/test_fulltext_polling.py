"""Full text through the poll path: a new item's page is fetched and its main text is what
rules match and what is stored; an unchanged item is not fetched again nor revised; a page
that fails leaves the feed's summary."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from feedserver import FeedServer

from monitor.app.wiring import open_log, recorder_for
from monitor.config.settings import FeedSettings, settings_from_dict
from monitor.eventlog.log import EventLog
from monitor.eventlog.store import Store
from monitor.feeds.polling import Poller
from monitor.rules.matcher import activate
from monitor.rules.rulebook import build_matcher, sync_rules

ARTICLE = """<!doctype html><html><head><title>Talks</title></head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Talks in Brussels</h1>
<p>The foreign ministers of Armenia and Azerbaijan met in Brussels on Tuesday to discuss the
draft peace treaty, officials said after a meeting that lasted more than four hours.</p>
<p>Both sides described the talks as constructive and agreed to meet again next month, while
the question of the border commission remained open.</p></article>
<section class="comments"><p>Comment: Nagorno nonsense, says a reader.</p></section>
<footer>Copyright</footer></body></html>"""


def rss(server: FeedServer, *pages: str) -> bytes:
    items = "".join(
        f"<item><title>Talks in Brussels</title><guid>{page}</guid>"
        f"<link>{server.url('/' + page)}</link><description>Ministers met on Tuesday.</description>"
        "</item>"
        for page in pages
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x/</link>'
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def setup(tmp_path: Path, feed_url: str) -> tuple[Store, Poller, FeedSettings]:
    settings = settings_from_dict(
        {
            "feeds": [
                {
                    "name": "ft",
                    "url": feed_url,
                    "full_text": True,
                    "full_text_rate": 50,
                    "allow_private_networks": True,
                }
            ],
            "rules": [{"name": "aa", "query": "Armenia AND Azerbaijan"}],
        },
        source="test.toml",
        base_dir=tmp_path,
    )
    store = open_log(f"sqlite:///{tmp_path / 'monitor.db'}").store
    recorder = recorder_for(store)
    activate(build_matcher(settings, sync_rules(recorder, settings.rules)))
    return store, Poller(recorder, settings.fetch), settings.feeds[0]


def test_the_page_text_is_matched_and_stored_and_not_fetched_twice(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.static("/feed.xml", rss(feed_server, "article"))
    feed_server.static("/article", ARTICLE.encode(), headers={"Content-Type": "text/html"})
    store, poller, feed = setup(tmp_path, feed_server.url("/feed.xml"))
    asyncio.run(poller.poll([feed]))
    asyncio.run(poller.poll([feed]))
    with store.reading() as conn:
        events = list(EventLog().read(conn))
    store.dispose()
    kinds = Counter(e.type for e in events)
    assert kinds["DocumentIngested"] == 1 and kinds["RuleMatched"] == 1
    assert "DocumentRevised" not in kinds  # the second poll saw the same entry
    [doc] = [e.data for e in events if e.type == "DocumentIngested"]
    assert "draft peace treaty" in doc["text"] and "Nagorno nonsense" not in doc["text"]
    assert len(feed_server.requests_for("/article")) == 1


def test_a_page_that_fails_leaves_the_summary(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.static("/feed.xml", rss(feed_server, "missing"))
    feed_server.static("/missing", b"gone", status=404)
    store, poller, feed = setup(tmp_path, feed_server.url("/feed.xml"))
    [outcome] = asyncio.run(poller.poll([feed]))
    with store.reading() as conn:
        events = list(EventLog().read(conn))
    store.dispose()
    assert outcome.outcome == "polled" and outcome.new == 1
    [doc] = [e.data for e in events if e.type == "DocumentIngested"]
    assert doc["text"] == "Ministers met on Tuesday."
    assert not [e for e in events if e.type == "RuleMatched"]


def test_a_page_past_the_full_text_cap_keeps_the_summary(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """An article page gets [fetch] full_text_max_bytes (2 MiB), not the feed's 10 MiB."""
    huge = ARTICLE.replace("</article>", "<p>" + "filler text " * 250_000 + "</p></article>")
    assert 2 * 1024 * 1024 < len(huge) < 10 * 1024 * 1024
    feed_server.static("/feed.xml", rss(feed_server, "huge", "article"))
    feed_server.static("/huge", huge.encode(), headers={"Content-Type": "text/html"})
    feed_server.static("/article", ARTICLE.encode(), headers={"Content-Type": "text/html"})
    store, poller, feed = setup(tmp_path, feed_server.url("/feed.xml"))
    asyncio.run(poller.poll([feed]))
    with store.reading() as conn:
        events = list(EventLog().read(conn))
    store.dispose()
    texts = {
        e.data["url"].rpartition("/")[2]: e.data["text"]
        for e in events
        if e.type == "DocumentIngested"
    }
    assert texts["huge"] == "Ministers met on Tuesday."  # the summary, not 3 MB of page
    assert "draft peace treaty" in texts["article"]
