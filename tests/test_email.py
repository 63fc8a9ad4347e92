"""The email channel: a stable, injection-proof multipart message, sent to a real SMTP server
(tests/smtpserver.py) over plain, STARTTLS and TLS, with every failure classified."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smtpserver import Security, SMTPServer

from alerts.channels.email import FALLBACK_DOMAIN, build_email, send_email
from alerts.message import Message, Outcome
from alerts.rendering import Renderer, sample_digest
from monitor.config.channels import EmailChannel

DIGEST_ID = "3f0c8a52-4f1e-5d3e-9a53-0e7c2b9d8a11"
TEXT = "Zażółć gęślą jaźń: 3 nowe\nВыборы в Армении — 2 источника\n"
HTML = "<p>Zażółć gęślą jaźń</p><p>Выборы в Армении</p>\n"
USER, PASSWORD = "alice", "s3cret-Pässword"
EHLO = "client.test"  # so that no test looks up this machine's name


def make_message(**changes: Any) -> Message:
    message = Message(
        digest_id=DIGEST_ID,
        rule="armenia",
        channel="inbox",
        subject="armenia: 3 new matches — Армения",
        documents=3,
        parts={"text": TEXT, "html": HTML},
        created_at="2023-10-02T10:00:00Z",
    )
    return dataclasses.replace(message, **changes)


def make_channel(
    server: SMTPServer, ca_file: Path | None = None, /, **changes: Any
) -> EmailChannel:
    settings = {
        "type": "email",
        "name": "inbox",
        "to": ["reader@example.test"],
        "from": "News Monitor <monitor@example.org>",
        "smtp_host": server.host,
        "smtp_port": server.port,
        "security": server.security,
        "ca_file": ca_file,
        "timeout": 5,
    }
    return EmailChannel.model_validate(settings | changes)


def send(channel: EmailChannel, message: Message | None = None, /, **login: str) -> Outcome:
    return send_email(channel, message or make_message(), local_hostname=EHLO, **login)


@pytest.fixture
def plain() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


# --- the message --------------------------------------------------------------------------


def test_the_message_has_a_text_and_an_html_part_in_utf8() -> None:
    mail = build_email(make_message(), sender="monitor@example.org", to=["a@example.test"])
    assert mail.get_content_type() == "multipart/alternative"
    text, html = mail.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    # The bytes are 7-bit clean, yet Polish and Cyrillic come back intact.
    assert mail.as_bytes().isascii()
    assert text.get_content().replace("\r\n", "\n") == TEXT
    assert html.get_content().replace("\r\n", "\n") == HTML


def test_headers_are_derived_from_the_digest_and_stable() -> None:
    sender, to = "News Monitor <monitor@Example.ORG>", ["a@example.test", "b@example.test"]
    mail = build_email(make_message(), sender=sender, to=to)
    assert mail["Subject"] == "armenia: 3 new matches — Армения"
    assert mail["From"] == sender and mail["To"] == "a@example.test, b@example.test"
    assert mail["Date"] == "Mon, 02 Oct 2023 10:00:00 +0000"
    assert mail["Message-ID"] == f"<{DIGEST_ID}@example.org>"
    assert mail["List-Id"] == '"armenia via news-monitor" <armenia.inbox.example.org>'
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["Precedence"] == "bulk"
    assert mail["X-Monitor-Digest"] == DIGEST_ID
    # A resend after a crash is the very same message, boundary included.
    assert build_email(make_message(), sender=sender, to=to).as_bytes() == mail.as_bytes()


def test_ids_fall_back_to_a_reserved_domain_and_labels_become_dot_atoms() -> None:
    message = make_message(rule="ru:выборы..2024.", channel="my inbox")
    mail = build_email(message, sender="monitor", to=["a@example.test"])
    assert mail["Message-ID"] == f"<{DIGEST_ID}@{FALLBACK_DOMAIN}>"
    assert mail["List-Id"] == f'"ru-.2024 via news-monitor" <ru-.2024.my-inbox.{FALLBACK_DOMAIN}>'


def test_a_line_break_in_subject_rule_or_id_adds_no_header(plain: SMTPServer) -> None:
    message = make_message(
        subject="hi\r\nBcc: victim@example.test",
        rule="armenia\nX-Injected: 1",
        digest_id=f"{DIGEST_ID}\r\nX-Injected: 2",
        created_at="not a date",
    )
    outcome = send(make_channel(plain), message)
    assert outcome.ok, outcome
    (received,) = plain.delivered
    assert received.rcpt_tos == ("reader@example.test",)
    headers = received.message
    assert headers["Bcc"] is None and headers["X-Injected"] is None
    assert headers["Subject"] == "hi Bcc: victim@example.test"
    assert headers["X-Monitor-Digest"] == f"{DIGEST_ID} X-Injected: 2"
    assert (
        headers["List-Id"]
        == '"armenia-X-Injected-1 via news-monitor" <armenia-X-Injected-1.inbox.example.org>'
    )
    assert headers["Date"] is None  # left to the server rather than invented
    assert headers.defects == []


def test_a_sender_with_a_line_break_is_a_configuration_error(plain: SMTPServer) -> None:
    channel = make_channel(plain, **{"from": "monitor@example.org\r\nBcc: victim@example.test"})
    outcome = send(channel)
    assert (outcome.ok, outcome.category) == (False, "config")
    assert plain.messages == []


def test_an_unreadable_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    with SMTPServer(security="tls") as server:
        outcome = send(make_channel(server, tmp_path / "missing.pem"))
    assert (outcome.ok, outcome.category) == (False, "config")
    assert "missing.pem" in outcome.message


def test_a_message_without_email_parts_is_an_internal_error(plain: SMTPServer) -> None:
    outcome = send(make_channel(plain), make_message(parts={"body": "{}"}))
    assert (outcome.ok, outcome.category) == (False, "internal")
    assert "no text or html part" in outcome.message and plain.messages == []


def test_feed_html_arrives_escaped_in_the_html_part(plain: SMTPServer) -> None:
    digest = sample_digest()
    entry = digest.entries[0]
    hostile = dataclasses.replace(entry.lead, title="<script>alert(1)</script>")
    digest = dataclasses.replace(digest, entries=(dataclasses.replace(entry, lead=hostile),))
    renderer = Renderer()
    parts = {
        "text": renderer.render("email_text", digest),
        "html": renderer.render("email_html", digest),
    }
    assert send(make_channel(plain), make_message(parts=parts)).ok
    html = plain.delivered[0].message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content and "<script>" not in content


# --- delivery -----------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["plain", "starttls", "tls"])
def test_a_digest_is_delivered(security: Security, tmp_path: Path) -> None:
    with SMTPServer(security=security) as server:
        outcome = send(make_channel(server, server.write_ca(tmp_path / "ca.pem")))
        assert outcome.ok and outcome.status == 250, outcome
        assert outcome.detail == "250 2.0.0 OK queued as Q1"
        (received,) = server.delivered
    assert received.tls == (security != "plain")
    assert received.mail_from == "monitor@example.org"
    assert received.rcpt_tos == ("reader@example.test",)
    assert received.message["Message-ID"] == f"<{DIGEST_ID}@example.org>"
    text = received.message.get_body(("plain",))
    assert text is not None and text.get_content().replace("\r\n", "\n") == TEXT


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_an_untrusted_certificate_is_a_tls_failure(security: Security) -> None:
    with SMTPServer(security=security) as server:
        outcome = send(make_channel(server))  # the system store does not know the test CA
        assert server.messages == []
    assert (outcome.ok, outcome.category) == (False, "tls")
    assert "certificate verify failed" in outcome.message


def test_starttls_asked_for_but_not_offered_never_falls_back(plain: SMTPServer) -> None:
    outcome = send(make_channel(plain, security="starttls"), username=USER, password=PASSWORD)
    assert (outcome.ok, outcome.category) == (False, "tls")
    assert "does not offer STARTTLS" in outcome.message
    assert plain.messages == [] and plain.logins == []


def test_implicit_tls_against_a_plain_server_fails_as_tls(plain: SMTPServer) -> None:
    outcome = send(make_channel(plain, security="tls"))
    assert (outcome.ok, outcome.category) == (False, "tls")


# --- login --------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["plain", "starttls"])
def test_login_with_the_right_credentials(security: Security, tmp_path: Path) -> None:
    with SMTPServer(security=security, login=(USER, PASSWORD)) as server:
        channel = make_channel(server, server.write_ca(tmp_path / "ca.pem"))
        outcome = send(channel, username=USER, password=PASSWORD)
        assert outcome.ok, outcome
        assert server.delivered[0].login == USER and server.logins == [(USER, True)]


def test_a_wrong_password_is_an_auth_failure_that_never_shows_the_password() -> None:
    with SMTPServer(login=(USER, PASSWORD)) as server:
        outcome = send(make_channel(server), username=USER, password="wrong-" + PASSWORD)
        assert server.messages == [] and server.logins and not any(ok for _, ok in server.logins)
    assert (outcome.ok, outcome.category, outcome.status) == (False, "auth", 535)
    assert PASSWORD not in outcome.message + outcome.detail


def test_a_server_that_wants_a_login_refuses_a_channel_without_one() -> None:
    with SMTPServer(login=(USER, PASSWORD)) as server:
        outcome = send(make_channel(server))
    assert (outcome.ok, outcome.category, outcome.status) == (False, "auth", 530)


def test_credentials_for_a_server_without_auth_are_an_auth_failure(plain: SMTPServer) -> None:
    outcome = send(make_channel(plain), username=USER, password=PASSWORD)
    assert (outcome.ok, outcome.category) == (False, "auth")
    assert "does not offer AUTH" in outcome.message and plain.messages == []


def test_half_a_login_is_a_configuration_error(plain: SMTPServer) -> None:
    outcome = send(make_channel(plain), username=USER)
    assert (outcome.ok, outcome.category) == (False, "config")


def test_a_password_the_server_echoes_back_is_redacted() -> None:
    with SMTPServer(login=(USER, PASSWORD)) as server:
        server.fail_next(f"451 4.7.0 Temporary trouble with {PASSWORD}", at="MAIL")
        outcome = send(make_channel(server), username=USER, password=PASSWORD)
    assert (outcome.category, outcome.status) == ("smtp", 451)
    assert PASSWORD not in outcome.message and "***" in outcome.message


# --- refusals -----------------------------------------------------------------------------


def test_a_temporary_refusal_then_acceptance(plain: SMTPServer) -> None:
    plain.fail_next("451 4.3.0 Try again later")
    channel = make_channel(plain)
    first, second = send(channel), send(channel)
    assert (first.ok, first.category, first.status) == (False, "smtp", 451)
    assert "451 4.3.0 Try again later" in first.message
    assert second.ok and second.status == 250
    assert [m.reply[:3] for m in plain.messages] == ["451", "250"]


def test_a_permanent_refusal_of_the_data_is_rejected(plain: SMTPServer) -> None:
    plain.fail_next("550 5.7.1 Message refused as spam")
    outcome = send(make_channel(plain))
    assert (outcome.ok, outcome.category, outcome.status) == (False, "rejected", 550)
    assert plain.delivered == []


def test_a_refused_sender_is_rejected(plain: SMTPServer) -> None:
    plain.fail_next("553 5.7.1 Sender address rejected", at="MAIL")
    outcome = send(make_channel(plain))
    assert (outcome.ok, outcome.category, outcome.status) == (False, "rejected", 553)


def test_every_recipient_refused_is_rejected(plain: SMTPServer) -> None:
    plain.refuse("reader@example.test")
    outcome = send(make_channel(plain))
    assert (outcome.ok, outcome.category, outcome.status) == (False, "rejected", 550)
    assert "reader@example.test" in outcome.message and plain.messages == []


def test_some_recipients_refused_is_a_success_that_names_them(plain: SMTPServer) -> None:
    plain.refuse("gone@example.test")
    channel = make_channel(plain, to=["reader@example.test", "gone@example.test"])
    outcome = send(channel)
    # A retry would send the digest again to the reader who already has it.
    assert outcome.ok and outcome.status == 250
    assert "refused: gone@example.test (550 5.1.1 No such user here)" in outcome.detail
    assert plain.delivered[0].rcpt_tos == ("reader@example.test",)


# --- no conversation ----------------------------------------------------------------------


def test_a_closed_port_is_a_connect_failure(plain: SMTPServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free again once closed: nothing listens there
    outcome = send(make_channel(plain, smtp_port=port))
    assert (outcome.ok, outcome.category) == (False, "connect")
    assert f"127.0.0.1:{port}" in outcome.message


def test_a_server_that_never_greets_is_a_timeout(plain: SMTPServer) -> None:
    # The kernel completes the handshake of a listening socket; nobody ever answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        outcome = send(make_channel(plain, smtp_port=port, timeout=0.2))
    assert (outcome.ok, outcome.category) == (False, "timeout")


def _encoded_word(text: str) -> str:
    import base64

    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


@pytest.mark.parametrize(
    "title",
    [
        _encoded_word("X\r\nReply-To: attacker@example.test\r\nX-Injected: yes"),
        "Breaking " + _encoded_word("\nX-Injected: yes") + " news",
        "=?utf-8?q?X=0D=0AX-Injected:_yes?=",
        _encoded_word("Your account is suspended"),  # no line break, still not decoded
    ],
)
def test_an_encoded_word_in_feed_text_is_delivered_as_the_literal_text(
    plain: SMTPServer, title: str
) -> None:
    # Python before 3.11.10 decodes an encoded word found in a header value it is given and
    # writes what it decodes to, line breaks included; so the subject is encoded here.
    outcome = send(make_channel(plain), make_message(subject=f"armenia: {title}"))
    assert outcome.ok, outcome
    (received,) = plain.delivered
    head = received.raw.split(b"\r\n\r\n", 1)[0]
    names = [line.split(b":", 1)[0].lower() for line in head.split(b"\r\n") if line[:1] != b" "]
    assert b"reply-to" not in names and b"x-injected" not in names
    assert all(byte in b"\r\n\t" or 32 <= byte < 127 for byte in head)
    # What a reader's program shows is exactly the title, encoded word and all.
    assert received.message["Subject"] == f"armenia: {title}"
    assert received.message["Reply-To"] is None and received.message.defects == []
