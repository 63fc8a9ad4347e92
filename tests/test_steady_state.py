"""No wasted work in steady state: a feed that answers 200 with the same items (no ETag,
no Last-Modified) costs a parse and a hash check per entry, not a normalisation and a
match; a changed item is read again, and a new poller (a restart) reads everything once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from feedserver import FeedServer
from test_polling import ITEMS, logged, rss

from monitor.app.wiring import open_log, recorder_for
from monitor.config.settings import FeedSettings, FetchSettings
from monitor.eventlog.store import Store
from monitor.feeds import polling
from monitor.feeds.polling import Poller


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_log(f"sqlite:///{tmp_path / 'monitor.db'}").store
    yield opened
    opened.dispose()


@pytest.fixture
def normalised(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The titles of the entries normalised (a spy on the real function, which still runs)."""
    seen: list[str] = []
    real: Callable[..., Any] = polling.normalise_entry

    def spy(entry: Any, **kwargs: Any) -> Any:
        seen.append(entry.title)
        return real(entry, **kwargs)

    monkeypatch.setattr(polling, "normalise_entry", spy)
    return seen


def test_an_unchanged_feed_without_validators_is_not_normalised_again(
    store: Store, feed_server: FeedServer, normalised: list[str]
) -> None:
    items = [*ITEMS, ("a3", "Talks in Brussels", "The talks went on.")]
    feed_server.static("/f.xml", rss(*items), headers={"Content-Type": "application/rss+xml"})
    feed = FeedSettings(name="f", url=feed_server.url("/f.xml"))
    poller = Poller(recorder_for(store), FetchSettings(allow_private_networks=True))

    (first,) = asyncio.run(poller.poll([feed]))
    assert first.new == 3 and len(normalised) == 3
    normalised.clear()
    (second,) = asyncio.run(poller.poll([feed]))
    assert second.new == 0 and second.revised == 0 and normalised == []
    polled = [e.data for e in logged(store) if e.type == "FeedPolled"]
    assert polled[-1]["entries"] == 3 and polled[-1]["unchanged"] == 3

    items[2] = ("a3", "Talks in Brussels end", "The talks ended.")
    feed_server.static("/f.xml", rss(*items), headers={"Content-Type": "application/rss+xml"})
    (third,) = asyncio.run(poller.poll([feed]))
    assert third.revised == 1 and normalised == ["Talks in Brussels end"]

    normalised.clear()
    restarted = Poller(recorder_for(store), FetchSettings(allow_private_networks=True))
    (fourth,) = asyncio.run(restarted.poll([feed]))
    assert fourth.new == 0 and fourth.revised == 0 and len(normalised) == 3


def test_changed_feed_settings_read_every_entry_again(
    store: Store, feed_server: FeedServer, normalised: list[str]
) -> None:
    feed_server.static("/f.xml", rss(*ITEMS), headers={"Content-Type": "application/rss+xml"})
    poller = Poller(recorder_for(store), FetchSettings(allow_private_networks=True))
    asyncio.run(poller.poll([FeedSettings(name="f", url=feed_server.url("/f.xml"))]))
    normalised.clear()
    # Another language to assume changes what normalising gives: nothing is skipped.
    again = FeedSettings(name="f", url=feed_server.url("/f.xml"), language="pl")
    asyncio.run(poller.poll([again]))
    assert len(normalised) == 2
