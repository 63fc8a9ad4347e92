"""fetch() against a real HTTP server: validators, codings, redirects, limits, failures."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
import tracemalloc
import zlib
from typing import Any

import brotli
import pytest
from feedserver import FeedServer, Reply

from monitor.errors import FetchError
from monitor.feeds.fetch import USER_AGENT, FetchLimits, FetchResult, fetch, make_client

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
QUICK = FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=5)


def get(url: str, limits: FetchLimits = QUICK, **kwargs: Any) -> FetchResult:
    async def go() -> FetchResult:
        async with make_client(limits) as client:
            return await fetch(client, url, limits=limits, **kwargs)

    return asyncio.run(go())


def failure(url: str, limits: FetchLimits = QUICK, **kwargs: Any) -> FetchError:
    with pytest.raises(FetchError) as caught:
        get(url, limits, **kwargs)
    error = caught.value
    assert "\n" not in error.message and error.message.strip() == error.message
    return error


# -- conditional GET ----------------------------------------------------------


def test_etag_gives_200_then_304(feed_server: FeedServer) -> None:
    feed_server.conditional("/f", FEED, etag='"v1"')
    first = get(feed_server.url("/f"))
    assert (first.status, first.body, first.etag, first.not_modified) == (200, FEED, '"v1"', False)
    second = get(feed_server.url("/f"), etag=first.etag)
    assert (second.status, second.body, second.etag, second.not_modified) == (
        304,
        b"",
        '"v1"',
        True,
    )
    sent = [r.headers for r in feed_server.requests_for("/f")]
    assert "if-none-match" not in sent[0]
    assert sent[1]["if-none-match"] == '"v1"'


def test_last_modified_gives_200_then_304(feed_server: FeedServer) -> None:
    stamp = "Mon, 02 Oct 2023 10:00:00 GMT"
    feed_server.conditional("/f", FEED, last_modified=stamp)
    first = get(feed_server.url("/f"))
    assert (first.status, first.last_modified, first.etag) == (200, stamp, None)
    second = get(feed_server.url("/f"), last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    assert feed_server.requests_for("/f")[1].headers["if-modified-since"] == stamp


def test_304_without_validators_keeps_the_ones_sent(feed_server: FeedServer) -> None:
    feed_server.static("/f", status=304)
    result = get(feed_server.url("/f"), etag='"e"', last_modified="Mon, 02 Oct 2023 10:00:00 GMT")
    assert result.not_modified
    assert (result.etag, result.last_modified) == ('"e"', "Mon, 02 Oct 2023 10:00:00 GMT")


def test_request_names_us_and_asks_for_feeds(feed_server: FeedServer) -> None:
    feed_server.static("/f", FEED)
    get(feed_server.url("/f"), headers={"X-Token": "t", "Accept-Encoding": "zstd"})
    sent = feed_server.requests_for("/f")[0].headers
    assert sent["user-agent"] == USER_AGENT and "github.com" in USER_AGENT
    for media_type in ("application/rss+xml", "application/atom+xml", "application/feed+json"):
        assert media_type in sent["accept"]
    assert sent["x-token"] == "t"
    # Only codings we can decode within the size cap, whatever the caller asked for.
    assert sent["accept-encoding"] == "gzip, deflate, br"


def test_headers_are_lower_cased_and_url_is_final(feed_server: FeedServer) -> None:
    feed_server.static("/f", FEED, headers={"Content-Type": "application/rss+xml", "X-A": "1"})
    result = get(feed_server.url("/f"))
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.headers["x-a"] == "1"
    assert result.url == feed_server.url("/f")
    assert 0 < result.elapsed < 5


# -- content codings ----------------------------------------------------------


def _br_gz(data: bytes) -> bytes:
    return brotli.compress(gzip.compress(data))


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("br", brotli.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("gzip, br", _br_gz),
    ],
    ids=["gzip", "br", "deflate", "raw-deflate", "gzip+br"],
)
def test_compressed_bodies_are_decoded(feed_server: FeedServer, coding: str, encode: Any) -> None:
    body = FEED * 200
    feed_server.static("/f", encode(body), headers={"Content-Encoding": coding})
    result = get(feed_server.url("/f"))
    assert result.body == body
    assert result.headers["content-encoding"] == coding


def test_body_not_in_its_declared_coding_is_a_protocol_error(feed_server: FeedServer) -> None:
    feed_server.static("/f", FEED, headers={"Content-Encoding": "gzip"})
    error = failure(feed_server.url("/f"))
    assert error.category == "protocol" and "gzip" in error.message


def test_unknown_coding_is_a_protocol_error(feed_server: FeedServer) -> None:
    feed_server.static("/f", FEED, headers={"Content-Encoding": "zstd"})
    assert failure(feed_server.url("/f")).category == "protocol"


# -- redirects ----------------------------------------------------------------


def test_three_temporary_hops_are_followed(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "/b")
    feed_server.redirect("/b", feed_server.url("/c"), status=307)
    feed_server.redirect("/c", "/feed", status=303)
    feed_server.static("/feed", FEED)
    result = get(feed_server.url("/a"))
    assert (result.status, result.body, result.url) == (200, FEED, feed_server.url("/feed"))
    assert result.permanent_redirect is None


def test_permanent_moves_are_reported(feed_server: FeedServer) -> None:
    feed_server.redirect("/old", "/newer", status=301)
    feed_server.redirect("/newer", "/newest", status=308)
    feed_server.redirect("/newest", "/feed", status=302)
    feed_server.static("/feed", FEED)
    # The feed lives at /newest for good; its hop to /feed is only for now.
    assert get(feed_server.url("/old")).permanent_redirect == feed_server.url("/newest")


def test_permanent_hop_after_a_temporary_one_does_not_move_the_feed(
    feed_server: FeedServer,
) -> None:
    feed_server.redirect("/a", "/b", status=302)
    feed_server.redirect("/b", "/feed", status=301)
    feed_server.static("/feed", FEED)
    assert get(feed_server.url("/a")).permanent_redirect is None


SECRETS = {"X-Api-Token": "tok-3141", "Cookie": "session=s3cret", "Authorization": "Bearer b3arer"}


def test_configured_headers_and_credentials_stay_with_their_origin(
    feed_server: FeedServer,
) -> None:
    with FeedServer() as other:  # another port: another origin
        other.static("/feed", FEED)
        feed_server.redirect("/same", "/away")  # same origin: the headers go along
        feed_server.redirect("/away", other.url("/back"))
        other.redirect("/back", feed_server.url("/home"))  # back again: still not re-sent
        feed_server.redirect("/home", other.url("/feed"))
        url = feed_server.url("/same").replace("//", "//alice:pa55word@", 1)
        result = get(url, headers=SECRETS)
        assert result.body == FEED
        first, second = feed_server.requests_for("/same"), feed_server.requests_for("/away")
        for (request,) in (first, second):
            assert request.headers["x-api-token"] == "tok-3141"
            assert request.headers["cookie"] == "session=s3cret"
        away = other.requests + feed_server.requests_for("/home")
        assert len(away) == 3
        for request in away:
            sent = " ".join(f"{k}: {v}" for k, v in request.headers.items())
            for secret in ("tok-3141", "s3cret", "b3arer", "pa55word", "YWxpY2U6cGE1NXdvcmQ="):
                assert secret not in sent, (request.path, sent)
            assert "authorization" not in request.headers and "cookie" not in request.headers


def test_a_scheme_change_drops_the_configured_headers_too(feed_server: FeedServer) -> None:
    feed_server.redirect("/feed", feed_server.url("/feed").replace("http:", "https:"))
    failure(feed_server.url("/feed"), headers=SECRETS)  # no TLS there; only one request sent
    (request,) = feed_server.requests_for("/feed")
    assert request.headers["x-api-token"] == "tok-3141"


def test_redirect_loop(feed_server: FeedServer) -> None:
    feed_server.redirect("/x", "/y")
    feed_server.redirect("/y", "/x")
    error = failure(feed_server.url("/x"))
    assert error.category == "redirect" and "loop" in error.message
    assert len(feed_server.requests) == 2


def test_six_hops_are_too_many(feed_server: FeedServer) -> None:
    for hop in range(6):
        feed_server.redirect(f"/{hop}", f"/{hop + 1}")
    feed_server.static("/6", FEED)
    error = failure(feed_server.url("/0"), FetchLimits(max_redirects=5))
    assert error.category == "redirect" and "more than 5 redirects" in error.message
    assert len(feed_server.requests) == 6  # /6 was never asked for


def test_redirect_to_another_scheme_is_refused(feed_server: FeedServer) -> None:
    feed_server.redirect("/a", "file:///etc/passwd")
    assert failure(feed_server.url("/a")).category == "redirect"


# -- HTTP errors --------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500, 503])
def test_error_status_is_http_with_status(feed_server: FeedServer, status: int) -> None:
    feed_server.static("/f", b"nope", status=status)
    error = failure(feed_server.url("/f"))
    assert (error.category, error.status) == ("http", status)
    assert str(status) in error.message


def test_credentials_never_reach_messages(feed_server: FeedServer) -> None:
    feed_server.static("/f", status=500)
    url = feed_server.url("/f").replace("http://", "http://reader:s3cret@")
    error = failure(url)
    assert error.category == "http"
    assert "s3cret" not in error.message and "reader" not in error.message
    refused = failure(f"http://reader:s3cret@127.0.0.1:{_closed_port()}/f")
    assert "s3cret" not in refused.message


# -- time and size limits -----------------------------------------------------


def test_server_that_never_answers_times_out(feed_server: FeedServer) -> None:
    feed_server.hang("/f")
    started = time.monotonic()
    error = failure(feed_server.url("/f"), FetchLimits(read_timeout=0.5, total_timeout=10))
    assert error.category == "timeout"
    assert time.monotonic() - started < 3


def test_slow_drip_hits_the_total_deadline(feed_server: FeedServer) -> None:
    # Every chunk arrives well within the read timeout; only the wall clock stops it.
    feed_server.drip("/f", interval=0.05)
    started = time.monotonic()
    error = failure(feed_server.url("/f"), FetchLimits(read_timeout=5, total_timeout=1))
    assert error.category == "timeout" and "1 s" in error.message
    assert time.monotonic() - started < 3


def test_endless_body_stops_at_the_size_cap(feed_server: FeedServer) -> None:
    feed_server.drip("/f", chunk=b"x" * 4096, interval=0.001)
    error = failure(feed_server.url("/f"), FetchLimits(max_bytes=64 * 1024, total_timeout=10))
    assert error.category == "too_large"


def test_declared_length_over_the_cap_is_refused_before_reading(feed_server: FeedServer) -> None:
    feed_server.static("/f", b"x" * 2000)
    error = failure(feed_server.url("/f"), FetchLimits(max_bytes=1000))
    assert error.category == "too_large" and "Content-Length 2000" in error.message


def test_chunked_body_over_the_cap_is_refused(feed_server: FeedServer) -> None:
    feed_server.route("/f", lambda _r: Reply(body=iter([b"x" * 600, b"y" * 600])))
    assert failure(feed_server.url("/f"), FetchLimits(max_bytes=1000)).category == "too_large"
    feed_server.route("/g", lambda _r: Reply(body=iter([b"x" * 600, b"y" * 400])))
    assert get(feed_server.url("/g"), FetchLimits(max_bytes=1000)).body == b"x" * 600 + b"y" * 400


@pytest.mark.parametrize(
    ("coding", "bomb"),
    [
        ("gzip", lambda: gzip.compress(b"\0" * (64 << 20), compresslevel=1)),  # 64 MiB in 290 kB
        ("br", lambda: brotli.compress(b"\0" * (256 << 20), quality=5)),  # 256 MiB in 405 bytes
    ],
    ids=["gzip", "br"],
)
def test_decompression_bomb_stops_at_the_cap_in_bounded_memory(
    feed_server: FeedServer, coding: str, bomb: Any
) -> None:
    feed_server.static("/f", bomb(), headers={"Content-Encoding": coding})
    tracemalloc.start()
    try:
        error = failure(feed_server.url("/f"), FetchLimits(max_bytes=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.category == "too_large"
    assert peak < 16 << 20


# -- network failures ---------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_connection_refused_is_connect() -> None:
    error = failure(f"http://127.0.0.1:{_closed_port()}/feed")
    assert error.category == "connect"


# A label that starts with a hyphen is refused by the C resolver itself, so this test sends
# no DNS query off the machine (a name like "x.invalid" would still be asked of the resolver).
UNRESOLVABLE = "-unresolvable-.test"


def test_unresolvable_host_is_dns() -> None:
    error = failure(f"http://{UNRESOLVABLE}/feed")
    assert error.category == "dns" and UNRESOLVABLE in error.message


def test_tls_to_a_plain_http_server_is_tls(feed_server: FeedServer) -> None:
    feed_server.static("/f", FEED)
    error = failure(feed_server.url("/f").replace("http://", "https://"))
    assert error.category == "tls"


def test_server_hanging_up_without_answer_is_protocol(feed_server: FeedServer) -> None:
    feed_server.route("/f", lambda _r: None)
    assert failure(feed_server.url("/f")).category == "protocol"


def test_broken_chunking_is_protocol(feed_server: FeedServer) -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot a chunk\r\n"
    feed_server.route("/f", lambda _r: Reply(raw=raw))
    assert failure(feed_server.url("/f")).category == "protocol"


def test_body_cut_short_of_its_content_length_is_protocol(feed_server: FeedServer) -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n<rss><channel><title>cut"
    feed_server.route("/f", lambda _r: Reply(raw=raw))
    assert failure(feed_server.url("/f")).category == "protocol"


def test_unsupported_scheme_is_protocol() -> None:
    assert failure("ftp://127.0.0.1/feed").category == "protocol"


def test_cancellation_is_not_turned_into_a_fetch_error(feed_server: FeedServer) -> None:
    feed_server.hang("/f")

    async def go() -> None:
        async with make_client(QUICK) as client:
            task = asyncio.create_task(fetch(client, feed_server.url("/f"), limits=QUICK))
            while not feed_server.requests:
                await asyncio.sleep(0.01)
            task.cancel()
            await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(go())


def test_shared_client_keeps_its_connection_alive(feed_server: FeedServer) -> None:
    feed_server.static("/f", FEED)

    async def go() -> list[int]:
        async with make_client(QUICK) as client:
            return [
                (await fetch(client, feed_server.url("/f"), limits=QUICK)).status for _ in range(3)
            ]

    assert asyncio.run(go()) == [200, 200, 200]
    assert len({r.client_port for r in feed_server.requests}) == 1
