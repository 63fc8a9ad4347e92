"""The outbound address policy against real servers on loopback: an item's link, or a
redirect, that points inside (in every spelling of the address) is refused before any
request reaches the internal server, and the refusal is recorded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer
from test_fulltext_polling import rss

from monitor.app.wiring import open_log, recorder_for
from monitor.config.settings import settings_from_dict
from monitor.errors import FetchError
from monitor.eventlog.log import EventLog
from monitor.feeds import fetch as fetch_module
from monitor.feeds import reach as reach_module
from monitor.feeds.fetch import FetchLimits, FetchResult, fetch, make_client
from monitor.feeds.polling import Poller
from monitor.feeds.reach import Reach, reach

QUICK = FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=5)
PAGE = b"<html><body><p>internal admin page: secret</p></body></html>"


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", Reach.PUBLIC),
        ("2606:4700:4700::1111", Reach.PUBLIC),
        ("10.1.2.3", Reach.PRIVATE),
        ("172.16.0.1", Reach.PRIVATE),
        ("192.168.1.1", Reach.PRIVATE),
        ("100.64.0.1", Reach.PRIVATE),  # shared address space (carrier-grade NAT)
        ("fd12:3456::1", Reach.PRIVATE),
        ("127.0.0.1", Reach.LOOPBACK),
        ("127.3.4.5", Reach.LOOPBACK),
        ("::1", Reach.LOOPBACK),
        ("::ffff:127.0.0.1", Reach.LOOPBACK),
        ("::ffff:10.0.0.1", Reach.PRIVATE),
        ("169.254.169.254", Reach.LINK_LOCAL),
        ("fe80::1%eth0", Reach.LINK_LOCAL),
        ("0.0.0.0", None),
        ("::", None),
        ("224.0.0.1", None),
        ("ff02::1", None),
        ("255.255.255.255", None),
        ("192.0.2.7", None),  # documentation
        ("240.0.0.1", None),  # reserved
        ("not an address", None),
    ],
)
def test_address_classes(address: str, expected: Reach | None) -> None:
    assert reach(address) == expected


def get(url: str, limits: FetchLimits = QUICK, **kwargs: Any) -> FetchResult:
    async def go() -> FetchResult:
        async with make_client(limits) as client:
            return await fetch(client, url, limits=limits, **kwargs)

    return asyncio.run(go())


def refused(url: str, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        get(url, **kwargs)
    return caught.value


@pytest.fixture
def internal() -> Any:
    with FeedServer() as server:
        server.static("/admin", PAGE, headers={"Content-Type": "text/html"})
        yield server


SPELLINGS = [
    "http://127.0.0.1:{port}/admin",
    "http://localhost:{port}/admin",
    "http://[::1]:{port}/admin",
    "http://0.0.0.0:{port}/admin",
    "http://2130706433:{port}/admin",  # 127.0.0.1 as one decimal number
    "http://0x7f000001:{port}/admin",
    "http://127.1:{port}/admin",
    "http://[::ffff:127.0.0.1]:{port}/admin",
    "http://169.254.169.254:{port}/latest/meta-data/",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_an_item_link_inside_is_refused_before_any_request(
    internal: FeedServer, spelling: str
) -> None:
    error = refused(spelling.format(port=internal.port), trusted=False)
    assert error.category == "blocked", error.message
    assert "allow_private_networks" in error.message
    assert internal.requests == []


def test_allow_private_networks_lets_item_links_inside(internal: FeedServer) -> None:
    limits = FetchLimits(
        connect_timeout=2, read_timeout=2, total_timeout=5, allow_private_networks=True
    )
    assert get(internal.url("/admin"), limits, trusted=False).body == PAGE


def test_an_operators_loopback_feed_may_not_redirect_to_link_local(
    feed_server: FeedServer,
) -> None:
    feed_server.redirect("/feed", "http://169.254.169.254/latest/meta-data/")
    error = refused(feed_server.url("/feed"))  # the operator's URL: loopback is allowed
    assert error.category == "blocked" and "link-local" in error.message


def test_an_operators_loopback_feed_may_redirect_within_loopback(
    feed_server: FeedServer, internal: FeedServer
) -> None:
    # Not more private than where it started: followed, whatever the spelling.
    feed_server.redirect("/go", f"http://0x7f000001:{internal.port}/admin")
    assert get(feed_server.url("/go")).body == PAGE


def test_the_address_connected_to_is_checked_again(
    internal: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # DNS rebinding: the name resolves to a public address when the hop is checked and to
    # loopback when the connection is opened. No real resolver here can be made to do that.
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    monkeypatch.setattr(reach_module, "resolve", rebinding)
    monkeypatch.setattr(fetch_module, "resolve", rebinding)
    error = refused(f"http://rebind.example:{internal.port}/admin", trusted=False)
    assert error.category == "blocked" and "127.0.0.1" in error.message
    assert internal.requests == []


def test_a_blocked_page_keeps_the_summary_and_is_recorded_on_the_poll(
    tmp_path: Path, feed_server: FeedServer, internal: FeedServer
) -> None:
    body = rss(feed_server, "x").replace(
        feed_server.url("/x").encode(), f"http://2130706433:{internal.port}/admin".encode()
    )
    feed_server.static("/feed.xml", body)
    settings = settings_from_dict(
        {"feeds": [{"name": "ft", "url": feed_server.url("/feed.xml"), "full_text": True}]},
        source="test.toml",
        base_dir=tmp_path,
    )
    store = open_log(f"sqlite:///{tmp_path / 'monitor.db'}").store
    [outcome] = asyncio.run(Poller(recorder_for(store), settings.fetch).poll(settings.feeds))
    with store.reading() as conn:
        events = list(EventLog().read(conn))
    store.dispose()
    assert outcome.outcome == "polled" and internal.requests == []
    [doc] = [e.data for e in events if e.type == "DocumentIngested"]
    assert doc["text"] == "Ministers met on Tuesday." and "secret" not in doc["text"]
    [polled] = [e.data for e in events if e.type == "FeedPolled"]
    assert "refused by the address policy (blocked)" in polled["warning"]


def test_a_feed_redirected_inside_fails_with_the_blocked_category(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.redirect("/feed.xml", "http://169.254.169.254/feed.xml")
    settings = settings_from_dict(
        {"feeds": [{"name": "f", "url": feed_server.url("/feed.xml")}]},
        source="test.toml",
        base_dir=tmp_path,
    )
    store = open_log(f"sqlite:///{tmp_path / 'monitor.db'}").store
    asyncio.run(Poller(recorder_for(store), settings.fetch).poll(settings.feeds))
    with store.reading() as conn:
        events = list(EventLog().read(conn))
    store.dispose()
    [failed] = [e.data for e in events if e.type == "FeedPollFailed"]
    assert failed["category"] == "blocked"
