"""Full text of feed items against a real local server: extraction, charsets, failures, pacing."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import time

import pytest
from feedserver import FeedServer, Reply, Request

from monitor.feeds.extractor import Extractor
from monitor.feeds.fetch import FetchLimits, make_client
from monitor.feeds.fulltext import FullText, RateLimiter, extract_main_text, full_texts

# The test's publisher is on loopback, where item links may go only with this (test_reach.py).
QUICK = FetchLimits(
    connect_timeout=1, read_timeout=0.3, total_timeout=2, allow_private_networks=True
)
HTML = {"Content-Type": "text/html; charset=utf-8"}

ARTICLE = [
    "The city council voted on Tuesday to expand the tram network across the river, "
    "a plan that residents and planners have debated for more than a decade.",
    "Construction is expected to begin next spring. The first section, from the central "
    "station to the university campus, should open within three years of the start.",
    "Opponents argued that the money would be better spent on buses, which can be rerouted "
    "as the city grows, but the vote passed by a wide margin after a long session.",
]
NAV = "Sport and leisure section"
COMMENTS = ["Reader42 says this is a waste of money", "Another reader says finally good news"]
FOOTER = "Copyright 2024 City Daily, all rights reserved"


def page(paragraphs: list[str], *, head: str = '<meta charset="utf-8">') -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    comments = "".join(
        f'<div class="comment"><p>{c}, and they wrote at length about it.</p></div>'
        for c in COMMENTS
    )
    return (
        f"<!DOCTYPE html><html><head>{head}<title>Trams</title></head><body>"
        f'<header><nav><ul><li><a href="/">Home</a></li><li><a href="/s">{NAV}</a></li>'
        f"</ul></nav></header><main><article><h1>Council backs tram extension</h1>{body}"
        f'</article><section id="comments" class="comments"><h2>Comments</h2>{comments}'
        f"</section></main><footer><p>{FOOTER}</p></footer></body></html>"
    )


def run(
    pages: list[tuple[str, str]],
    rate: RateLimiter | None = None,
    limits: FetchLimits = QUICK,
    concurrency: int = 2,
) -> dict[str, FullText]:
    async def go() -> dict[str, FullText]:
        extractor = Extractor(10)
        try:
            async with make_client(limits) as client:
                return await full_texts(
                    client,
                    pages,
                    limits=limits,
                    rate=rate or RateLimiter(1000),
                    extractor=extractor,
                    concurrency=concurrency,
                )
        finally:
            await extractor.aclose()

    return asyncio.run(go())


def one(url: str) -> FullText:
    return run([("k", url)])["k"]


# -- extraction -----------------------------------------------------------------


def test_article_text_without_navigation_comments_or_footer(feed_server: FeedServer) -> None:
    feed_server.static("/a", page(ARTICLE).encode(), headers=HTML)
    found = one(feed_server.url("/a"))
    assert found.error is None and found.text is not None
    # Paragraphs as html_to_text gives them for documents: blank-line separated.
    assert found.text.split("\n\n")[-3:] == ARTICLE
    for unwanted in [NAV, FOOTER, "Home", *COMMENTS]:
        assert unwanted not in found.text


def test_page_is_asked_for_as_html(feed_server: FeedServer) -> None:
    feed_server.static("/a", page(ARTICLE).encode(), headers=HTML)
    one(feed_server.url("/a"))
    assert feed_server.requests_for("/a")[0].headers["accept"].startswith("text/html")


POLISH = [
    "Zażółć gęślą jaźń: rada miasta przegłosowała we wtorek rozbudowę sieci tramwajowej "
    "na drugi brzeg rzeki, o której mieszkańcy i urbaniści dyskutowali od ponad dekady.",
    "Budowa ma się rozpocząć wiosną. Pierwszy odcinek, od dworca głównego do kampusu "
    "uniwersytetu, powinien zostać otwarty w ciągu trzech lat od rozpoczęcia prac.",
]


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        ('<meta http-equiv="Content-Type" content="text/html; charset=windows-1250">', "text/html"),
        ('<meta charset="windows-1250">', "text/html"),
        # A server default that does not fit the bytes gives way to the page's own declaration.
        ('<meta charset="windows-1250">', "text/html; charset=utf-8"),
        ("", "text/html; charset=windows-1250"),
    ],
    ids=["http-equiv", "meta-charset", "wrong-header", "header"],
)
def test_windows_1250_page_gives_polish_text(
    feed_server: FeedServer, head: str, content_type: str
) -> None:
    body = page(POLISH, head=head).encode("windows-1250")
    feed_server.static("/pl", body, headers={"Content-Type": content_type})
    found = one(feed_server.url("/pl"))
    assert found.text is not None
    assert found.text.split("\n\n")[-2:] == POLISH


# -- failures -------------------------------------------------------------------

PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + b"\x00" * 300


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_failures(server: FeedServer) -> None:
    server.static("/gone", b"nope", status=404, headers=HTML)
    server.hang("/slow")
    server.static("/pdf", PDF, headers={"Content-Type": "application/pdf"})
    server.static("/untyped-pdf", PDF, headers={"Content-Type": "application/octet-stream"})
    data = json.dumps({"text": " ".join(ARTICLE)}).encode()
    server.static("/json", data, headers={"Content-Type": "application/json"})
    server.static("/tiny", b"<!doctype html><html><body><p>Hello.</p></body></html>", headers=HTML)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/gone", "HTTP 404"),
        ("/slow", "timeout"),
        ("/pdf", "not HTML"),
        ("/untyped-pdf", "not HTML"),
        ("/json", "not HTML"),
        ("/tiny", "no main text"),
    ],
)
def test_failure_gives_no_text_and_a_reason(
    feed_server: FeedServer, path: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    _serve_failures(feed_server)
    with caplog.at_level(logging.INFO, logger="monitor.fulltext"):
        assert one(feed_server.url(path)) == FullText(None, reason)
    assert [r.levelname for r in caplog.records if r.name == "monitor.fulltext"] == ["INFO"]


def test_connection_refused_gives_a_reason() -> None:
    assert one(f"http://127.0.0.1:{_closed_port()}/a") == FullText(None, "connect")


def test_only_http_urls_are_fetched(feed_server: FeedServer) -> None:
    feed_server.static("/a", page(ARTICLE).encode(), headers=HTML)
    found = run([("ftp", "ftp://127.0.0.1/a"), ("file", "file:///etc/passwd"), ("none", "")])
    assert set(found.values()) == {FullText(None, "not an http(s) URL")}
    assert feed_server.requests == []


def test_one_failure_does_not_spoil_the_others(feed_server: FeedServer) -> None:
    _serve_failures(feed_server)
    feed_server.static("/a", page(ARTICLE).encode(), headers=HTML)
    pages = [("good", feed_server.url("/a")), ("bad", feed_server.url("/gone"))]
    found = run([*pages, ("slow", feed_server.url("/slow"))], concurrency=3)
    assert found["good"].text is not None and found["good"].error is None
    assert (found["bad"].error, found["slow"].error) == ("HTTP 404", "timeout")


def test_a_url_listed_twice_is_fetched_once(feed_server: FeedServer) -> None:
    feed_server.static("/a", page(ARTICLE).encode(), headers=HTML)
    found = run([("first", feed_server.url("/a")), ("again", feed_server.url("/a"))])
    assert found["first"] == found["again"] and found["first"].text is not None
    assert len(feed_server.requests_for("/a")) == 1


def test_extract_main_text_is_none_for_what_is_not_a_page() -> None:
    assert extract_main_text(PDF, "http://example.test/a.pdf") is None
    assert extract_main_text(b"", "http://example.test/", content_type="text/html") is None
    text = extract_main_text(page(ARTICLE).encode(), "http://example.test/", content_type=None)
    assert text is not None and ARTICLE[0] in text


# -- pacing ---------------------------------------------------------------------


def test_rate_limiter_spaces_requests_at_the_server(feed_server: FeedServer) -> None:
    arrivals: list[float] = []

    def respond(_request: Request) -> Reply:
        arrivals.append(time.monotonic())
        return Reply(body=page(ARTICLE).encode(), headers=HTML)

    feed_server.route("/a", respond)
    pages = [(str(n), feed_server.url(f"/a?n={n}")) for n in range(5)]
    found = run(pages, RateLimiter(10), concurrency=5)
    assert all(f.text is not None for f in found.values())
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(arrivals) == 5
    assert arrivals[-1] - arrivals[0] >= 0.38
    # No two together, even after a stall. The limiter spaces the starts exactly (the tests
    # with an injected clock below); the server stamps arrivals on threads of its own, whose
    # scheduling adds jitter on a busy machine, so half an interval is the bound here.
    assert min(gaps) >= 0.05


class FakeTime:
    """A clock that only moves when told to, and a sleep that records and (optionally) moves it."""

    def __init__(self, *, sleep_moves_clock: bool) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.sleep_moves_clock = sleep_moves_clock

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.sleep_moves_clock:
            self.now += seconds


def test_rate_limiter_queues_concurrent_callers_one_interval_apart() -> None:
    fake = FakeTime(sleep_moves_clock=False)
    limiter = RateLimiter(4, clock=fake.clock, sleep=fake.sleep)  # 0.25 s: exact in binary

    async def go() -> None:
        await asyncio.gather(*(limiter.acquire() for _ in range(5)))

    asyncio.run(go())
    assert fake.sleeps == [0.25, 0.5, 0.75, 1.0]


def test_a_caller_that_wakes_late_moves_the_slots_after_it() -> None:
    """The loop was busy for 0.6 s while three callers slept: they go one interval apart from
    when the first of them really went, not all at once (as seen at a server under load)."""
    fake = FakeTime(sleep_moves_clock=True)
    starts: list[float] = []
    stalled = False

    async def late_sleep(seconds: float) -> None:
        nonlocal stalled
        await fake.sleep(seconds)
        if not stalled:
            stalled = True
            fake.now += 0.6  # the event loop could not wake this caller on time

    limiter = RateLimiter(10, clock=fake.clock, sleep=late_sleep)

    async def request() -> None:
        await limiter.acquire()
        starts.append(round(fake.now, 6))

    async def go() -> None:
        await asyncio.gather(*(request() for _ in range(4)))

    asyncio.run(go())
    assert starts == [100.0, 100.7, 100.8, 100.9]


def test_rate_limiter_spacing_with_an_injected_clock() -> None:
    fake = FakeTime(sleep_moves_clock=True)
    limiter = RateLimiter(4, clock=fake.clock, sleep=fake.sleep)
    starts: list[float] = []

    async def request(after: float = 0.0) -> None:
        fake.now += after
        await limiter.acquire()
        starts.append(fake.now)

    async def go() -> None:
        for _ in range(3):
            await request()
        await request(after=0.125)  # half an interval since the last slot: waits the rest
        await request(after=10.0)  # idle for a while: no burst of saved-up requests after it
        await request()

    asyncio.run(go())
    assert starts == [100.0, 100.25, 100.5, 100.75, 110.75, 111.0]
    assert fake.sleeps == [0.25, 0.25, 0.125, 0.25]


def test_rate_limiter_wants_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(0)
