"""A large JSON Feed is read item by item, with the same result as a whole parse.

Every case is read twice, through the whole-document path and through the streaming one
(``stream_bytes=0``), and the two must agree on everything: entries, order, warnings,
counts, and the error of a document that cannot be read.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from corpora import CORPORA

from monitor.errors import FeedMalformed
from monitor.feeds import jsonfeed
from monitor.feeds.jsonfeed import ITEM_DEPTH, JsonFeed, read_json_feed

V11 = "https://jsonfeed.org/version/1.1"


def feed(items: list[object], **top: object) -> bytes:
    return json.dumps({"version": V11, "title": "T", **top, "items": items}).encode()


def dated(n: int, date: str | None) -> dict[str, object]:
    item: dict[str, object] = {"id": f"i{n}", "title": f"Story {n}", "content_text": "x"}
    if date:
        item["date_published"] = date
    return item


MANY = [
    dated(n, None if n % 5 == 0 else f"2026-0{1 + n % 9}-1{n % 3}T00:00:00Z") for n in range(300)
]
DEEP = {"id": "deep", "content_text": "x", "_x": json.loads("[" * 200 + "]" * 200)}
EDGE = {"id": "edge", "content_text": "x", "_x": json.loads("[" * 63 + "]" * 63)}  # 64 levels
CASES: dict[str, tuple[bytes, int | None]] = {
    "plain": (feed([dated(1, "2026-01-01T10:00:00+02:00"), dated(2, None)]), None),
    "cut with ties and undated": (feed(MANY), 40),
    "not cut": (feed(MANY), 300),
    "keep none": (feed(MANY[:5]), 0),
    "authors and language": (
        feed(
            [{"id": 7, "content_html": "<p>Hi</p>", "authors": [{"name": "A"}, {"name": "B"}]}],
            language="pl",
            author={"name": "Feed author"},
            home_page_url="/home",
        ),
        None,
    ),
    "items that are not objects": (feed([1, "two", [3, [4]], None, dated(5, None)]), None),
    "too deep, and just deep enough": (feed([dated(1, None), DEEP, EDGE, dated(2, None)]), 3),
    "very deep": (
        b'{"version":"' + V11.encode() + b'","items":[{"id":"a","content_text":"x"},'
        b'{"id":"d","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}]}",
        None,
    ),
    "byte order mark": (b"\xef\xbb\xbf" + feed([dated(1, None)]), None),
    "not JSON": (b'{"version": "' + V11.encode() + b'", "items": [', None),
    "a list": (b"[1, 2]", None),
    "no version": (json.dumps({"items": []}).encode(), None),
    "no items": (json.dumps({"version": V11}).encode(), None),
}
if CORPORA.is_dir():
    for path in sorted(CORPORA.rglob("*.json")):
        CASES[f"corpus {path.name}"] = (path.read_bytes(), None)
        CASES[f"corpus {path.name}, one item"] = (path.read_bytes(), 1)


def read(body: bytes, keep: int | None, stream_bytes: int) -> JsonFeed | str:
    try:
        return read_json_feed(
            body, base_url="http://x/", max_entries=keep, stream_bytes=stream_bytes
        )
    except FeedMalformed as error:
        return str(error).split(":")[0]


@pytest.mark.parametrize("name", list(CASES))
def test_both_paths_read_the_same(name: str) -> None:
    body, keep = CASES[name]
    whole = read(body, keep, stream_bytes=len(body) + 1)
    streamed = read(body, keep, stream_bytes=0)
    assert streamed == whole
    if isinstance(whole, JsonFeed) and name != "keep none":
        assert whole.entries, name  # a case that reads nothing proves little


def test_the_cut_keeps_the_newest_and_counts_the_rest() -> None:
    body, keep = CASES["cut with ties and undated"]
    got = read(body, keep, stream_bytes=0)
    assert isinstance(got, JsonFeed)
    assert got.dropped == 300 - 40 and len(got.entries) == 40
    dates = [e.published for e in got.entries]
    assert dates == sorted(dates, reverse=True)  # newest first; no undated among the kept


def test_an_item_past_the_depth_limit_is_dropped_and_one_at_it_kept() -> None:
    body, _ = CASES["too deep, and just deep enough"]
    got = read(body, None, stream_bytes=0)
    assert isinstance(got, JsonFeed)
    assert [e.guid for e in got.entries] == ["i1", "edge", "i2"]
    assert got.warning == f"dropped 1 items nested more than {ITEM_DEPTH} levels deep"


def test_a_large_feed_takes_the_streaming_path_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    stream = jsonfeed.stream_items

    def counted(body: bytes, *args: Any) -> Any:
        calls.append(len(body))
        return stream(body, *args)

    monkeypatch.setattr(jsonfeed, "stream_items", counted)
    small = read_json_feed(feed([dated(1, None)]), base_url="http://x/")
    assert small.entries and calls == []
    body = feed([dated(n, None) for n in range(40_000)])
    assert len(body) > 1024 * 1024
    got = read_json_feed(body, base_url="http://x/", max_entries=10)
    assert calls == [len(body)]
    assert got.dropped == 39_990 and [e.guid for e in got.entries][:2] == ["i0", "i1"]
