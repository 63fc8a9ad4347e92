"""send_webhook() against a real HTTP receiver: headers, signatures, every way a POST can end."""

from __future__ import annotations

import asyncio
import email.utils
import importlib.metadata
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx
import pytest
from webhookreceiver import Drip, Drop, Hang, Respond, WebhookReceiver

from alerts.channels.webhook import retry_after_seconds, send_webhook
from alerts.message import Message, Outcome
from alerts.signing import secret_bytes, verify

SECRET_TEXT = "whsec_c2VjcmV0LXRoYXQtbXVzdC1uZXZlci1sZWFr"  # "secret-that-must-never-leak"
SECRET = secret_bytes(SECRET_TEXT)
BODY = '{"digest_id": "d-42", "rule": "ереван", "matches": 3}'
MESSAGE = Message(
    digest_id="d-42",
    rule="yerevan",
    channel="hook",
    subject="yerevan: 3 new matches",
    documents=3,
    parts={"body": BODY, "text": "not this one"},
)
QUICK = 2.0
FROZEN = 1_700_000_000.75


def post(
    url: str,
    message: Message = MESSAGE,
    *,
    secret: bytes | None = SECRET,
    timeout: float = QUICK,
    headers: Mapping[str, str] = {},
    clock: Callable[[], float] = time.time,
    verify: ssl.SSLContext | bool = True,
) -> Outcome:
    async def go() -> Outcome:
        # trust_env=False: no proxy from the environment may see these requests.
        async with httpx.AsyncClient(trust_env=False, verify=verify) as client:
            return await send_webhook(
                client, url, message, secret=secret, timeout=timeout, headers=headers, clock=clock
            )

    return asyncio.run(go())


def receiving(*script: Any, **kwargs: Any) -> WebhookReceiver:
    return WebhookReceiver(script, secret=SECRET, **kwargs)


def assert_failed(outcome: Outcome, category: str) -> None:
    assert not outcome.ok, outcome
    assert outcome.category == category, outcome
    assert outcome.message and "\n" not in outcome.message and outcome.message.isprintable()
    assert "secret-that-must" not in outcome.message
    assert SECRET_TEXT.removeprefix("whsec_").rstrip("=") not in outcome.message


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with receiving() as server:
        yield server


# -- success ------------------------------------------------------------------


def test_success_sends_body_and_standard_headers(receiver: WebhookReceiver) -> None:
    before = int(time.time())
    outcome = post(receiver.url, headers={"X-Team": "desk-3"})
    assert outcome == Outcome.success(status=200)
    [request] = receiver.wait_for(1)
    assert (request.method, request.path, request.body) == ("POST", "/hook", BODY.encode())
    assert request.verified is True
    sent = request.headers
    assert sent["content-type"] == "application/json"
    assert sent["webhook-id"] == "d-42"
    assert before <= int(sent["webhook-timestamp"]) <= time.time()
    assert sent["webhook-signature"].startswith("v1,")
    version = importlib.metadata.version("news-monitor")
    assert sent["user-agent"] == f"news-monitor/{version}"
    assert sent["x-team"] == "desk-3"


def test_any_2xx_is_success() -> None:
    with receiving(Respond(202, b"queued"), Respond(204)) as server:
        assert post(server.url) == Outcome.success(status=202)
        assert post(server.url) == Outcome.success(status=204)


def test_timestamp_comes_from_the_clock_and_signs_the_body() -> None:
    with WebhookReceiver() as server:
        post(server.url, clock=lambda: FROZEN)
        [request] = server.wait_for(1)
    assert request.headers["webhook-timestamp"] == "1700000000"
    assert verify(SECRET, request.headers, request.body, now=FROZEN)
    assert not verify(b"another secret", request.headers, request.body, now=FROZEN)


def test_no_secret_no_signature_header(receiver: WebhookReceiver) -> None:
    outcome = post(receiver.url, secret=None, headers={"Webhook-Signature": "v1,forged"})
    assert outcome.ok
    [request] = receiver.wait_for(1)
    assert "webhook-signature" not in request.headers
    assert request.verified is False


def test_extra_headers_cannot_forge_the_standard_ones(receiver: WebhookReceiver) -> None:
    forged = {"webhook-id": "other", "Webhook-Signature": "v1,forged", "webhook-timestamp": "1"}
    assert post(receiver.url, headers=forged).ok
    [request] = receiver.wait_for(1)
    assert request.headers["webhook-id"] == "d-42" and request.verified


def test_two_sends_of_one_message_are_the_same_bytes_and_id(receiver: WebhookReceiver) -> None:
    post(receiver.url)
    post(receiver.url, clock=lambda: time.time() + 2)
    first, second = receiver.wait_for(2)
    assert first.body == second.body == BODY.encode()
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == "d-42"
    assert first.headers["webhook-timestamp"] != second.headers["webhook-timestamp"]
    assert first.verified and second.verified


# -- statuses -----------------------------------------------------------------


def test_500_is_an_http_failure_with_a_clean_excerpt() -> None:
    page = b"Internal\r\n\x1b[31merror\x00\t here: \xff" + b"x" * 5000
    with receiving(Respond(500, page)) as server:
        outcome = post(server.url)
    assert_failed(outcome, "http")
    assert outcome.status == 500 and not outcome.disable and outcome.retry_after is None
    assert outcome.message.startswith("HTTP 500: Internal [31merror here: \ufffdxxx")
    assert len(outcome.message) <= 200 + len("HTTP 500: ")


def test_500_without_a_body_names_the_status() -> None:
    with receiving(Respond(500)) as server:
        outcome = post(server.url)
    assert_failed(outcome, "http")
    assert outcome.message == "HTTP 500"


def test_410_means_gone_and_disable() -> None:
    with receiving(Respond(410, b"hook deleted")) as server:
        outcome = post(server.url)
    assert_failed(outcome, "gone")
    assert outcome.disable and outcome.status == 410
    assert "hook deleted" in outcome.message


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(status: int) -> None:
    with receiving(Respond(status, headers={"Retry-After": "120"})) as server:
        outcome = post(server.url)
    assert_failed(outcome, "http")
    assert (outcome.status, outcome.retry_after, outcome.disable) == (status, 120.0, False)


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_as_an_http_date_is_relative_to_the_clock(status: int) -> None:
    # An HTTP-date has whole seconds: 90.75 s after the clock's second starts, 89.25 s after it.
    when = email.utils.formatdate(FROZEN + 90, usegmt=True)
    with receiving(Respond(status, headers={"Retry-After": when})) as server:
        outcome = post(server.url, clock=lambda: FROZEN)
    assert_failed(outcome, "http")
    assert outcome.retry_after == pytest.approx(89.25)


def test_retry_after_only_counts_for_429_and_503() -> None:
    with receiving(Respond(500, headers={"Retry-After": "120"})) as server:
        assert post(server.url).retry_after is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("Tue, 14 Nov 2023 22:15:00 GMT", 1700000100.0 - FROZEN),
        ("Tue, 14 Nov 2023 22:00:00 GMT", 0.0),  # already past
        ("Tue, 14 Nov 2023 22:15:00 -0000", 1700000100.0 - FROZEN),
        ("soon", None),
        ("", None),
        ("inf", None),
        ("nan", None),
        ("Tue, 99 Nov 2023 22:15:00 GMT", None),
        (None, None),
    ],
)
def test_retry_after_parsing(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value, FROZEN) == seconds


def test_redirect_is_not_followed_and_names_the_new_url() -> None:
    with receiving() as target:
        location = target.url_for("/moved")
        with receiving(Respond(302, headers={"Location": location})) as server:
            outcome = post(server.url)
            assert len(server.wait_for(1)) == 1
        assert target.requests == []
    assert_failed(outcome, "http")
    assert outcome.status == 302
    assert location in outcome.message and "update the channel's url" in outcome.message


def test_secret_echoed_by_the_receiver_is_redacted() -> None:
    echo = f"bad signature for {SECRET_TEXT} ({SECRET.decode()}) token=t0ps3cret".encode()
    with receiving(Respond(401, echo)) as server:
        outcome = post(server.url, headers={"Authorization": "Bearer t0ps3cret"})
    assert_failed(outcome, "http")
    assert "t0ps3cret" not in outcome.message
    assert outcome.message.startswith("HTTP 401: bad signature for whsec_[redacted]")


# -- time ---------------------------------------------------------------------


def test_hang_longer_than_the_timeout_is_a_timeout() -> None:
    with receiving(Hang(10)) as server:
        started = time.monotonic()
        outcome = post(server.url, timeout=0.5)
        elapsed = time.monotonic() - started
    assert_failed(outcome, "timeout")
    assert 0.4 <= elapsed < 1.5
    assert "0.5 s" in outcome.message


def test_hang_shorter_than_the_timeout_is_fine() -> None:
    with receiving(Hang(0.2)) as server:
        assert post(server.url, timeout=QUICK).ok


def test_dripped_error_body_cannot_hold_the_attempt() -> None:
    with receiving(Drip(500, chunk=b"slow ", interval=0.1, chunks=200)) as server:
        started = time.monotonic()
        outcome = post(server.url, timeout=0.6)
        elapsed = time.monotonic() - started
    assert elapsed < 1.6
    assert_failed(outcome, "http")  # the status had arrived; the excerpt is what came in time
    assert outcome.status == 500 and outcome.message.startswith("HTTP 500: slow slow")


def test_dripped_success_body_is_still_success() -> None:
    with receiving(Drip(200, interval=0.1, chunks=200)) as server:
        started = time.monotonic()
        outcome = post(server.url, timeout=0.5)
    assert outcome == Outcome.success(status=200)
    assert time.monotonic() - started < 1.5


# -- transport failures -------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_closed_port_is_a_connect_failure() -> None:
    started = time.monotonic()
    outcome = post(f"http://127.0.0.1:{closed_port()}/hook")
    assert_failed(outcome, "connect")
    assert "refused" in outcome.message.lower()
    assert time.monotonic() - started < 1.5


def test_tls_to_a_plain_http_port_is_a_tls_failure(receiver: WebhookReceiver) -> None:
    outcome = post(receiver.url.replace("http://", "https://"))
    assert_failed(outcome, "tls")


def test_untrusted_certificate_is_a_tls_failure() -> None:
    trustme = pytest.importorskip("trustme", reason="the trustme package (test extra) is missing")
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    with receiving(tls=server_context) as server:
        assert server.url.startswith("https://127.0.0.1:")
        outcome = post(server.url)  # the system's CAs do not know this one
        assert post(server.url, verify=trusting) == Outcome.success(status=200)
        [request] = server.wait_for(1)
    assert_failed(outcome, "tls")
    assert "certificate" in outcome.message.lower()
    assert request.verified


def test_connection_dropped_without_an_answer_is_a_protocol_failure() -> None:
    with receiving(Drop()) as server:
        outcome = post(server.url)
        server.wait_for(1)
    assert_failed(outcome, "protocol")


def test_unsupported_url_is_a_protocol_failure() -> None:
    assert_failed(post("ftp://127.0.0.1/hook"), "protocol")


def test_message_without_a_webhook_body_is_reported_not_raised(
    receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    bare = Message(digest_id="d-1", rule="r", channel="hook", subject="s", documents=0)
    assert_failed(post(receiver.url, bare), "internal")
    assert receiver.requests == []
    assert "d-1" in caplog.text


# -- the receiver itself ------------------------------------------------------


def test_receiver_follows_its_script_then_the_default() -> None:
    script = [Respond(500), Respond(410)]
    with WebhookReceiver(script, default=Respond(201)) as server:
        statuses = [post(server.url).status for _ in range(4)]
    assert statuses == [500, 410, 201, 201]


def test_receiver_closes_promptly_with_a_request_hanging() -> None:
    async def abandon(server: WebhookReceiver) -> None:
        async with httpx.AsyncClient(trust_env=False) as client:
            task = asyncio.create_task(client.post(server.url, content=b"{}"))
            await asyncio.to_thread(server.wait_for, 1)
            started = time.monotonic()
            server.close()
            with pytest.raises(httpx.HTTPError):
                await task
            assert time.monotonic() - started < 1.0

    asyncio.run(abandon(WebhookReceiver([Hang(25)]).start()))
