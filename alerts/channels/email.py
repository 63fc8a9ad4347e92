"""The email channel: one digest as one multipart message over SMTP, never raising.

:func:`build_email` is pure: the same :class:`~alerts.message.Message` always
gives the same bytes (the Date comes from when the digest was assembled, the
MIME boundary from the bodies), and the ``Message-ID`` is derived from the
digest id, so a resend after a crash is recognisably the same message.

:func:`send_email` makes one blocking attempt (the dispatcher runs it in a
thread) and says what happened as an :class:`~alerts.message.Outcome`;
retries belong to the dispatcher. Failure categories:

    timeout    the server went quiet, or the whole exchange outlasted ``timeout``
    connect    no connection (refused, unreachable, unresolvable, closed mid-way)
    tls        handshake or certificate failure, or STARTTLS asked for but not offered
    auth       the login was refused, or the server wants one and none is configured
    smtp       a temporary (4xx) refusal; ``status`` holds the code
    rejected   a permanent (5xx) refusal of the sender, of every recipient, or of the data
    protocol   any other SMTP error
    config     the channel's settings cannot work (unreadable ca_file, half a login)
    internal   a bug (the message has no email parts)

A refusal of some recipients only is a success whose detail names them: a
retry would send the digest again to everyone who already has it. Once the
server has accepted the data, nothing after it (QUIT) can turn the attempt
into a failure, for the same reason.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.policy
import email.utils
import functools
import hashlib
import logging
import math
import re
import smtplib
import socket
import ssl
import time
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

from alerts.channels import ChannelKind, Context, Sender
from alerts.channels.headers import TextHeader
from alerts.message import Message, Outcome
from monitor.config.channels import EmailChannel

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

FALLBACK_DOMAIN = "news-monitor.invalid"
# Bodies go out as quoted-printable or base64, never 8bit: smtplib does not declare
# BODY=8BITMIME, and a 7-bit message passes every relay unchanged.
_POLICY = email.policy.SMTP.clone(cte_type="7bit")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
# Characters of an RFC 5322 dot-atom we keep in labels (List-Id, Message-ID local part).
_NOT_ATEXT = re.compile(r"[^A-Za-z0-9_.-]+")
MAX_DETAIL = 300

log = logging.getLogger("alerts.channels.email")


# --- the message (pure) -------------------------------------------------------------------


def build_email(message: Message, *, sender: str, to: Sequence[str]) -> EmailMessage:
    """The digest as multipart/alternative (text, then HTML), identical on every call.

    Text that may come from feeds (subject, rule, ids) is flattened to one line, so
    it cannot add headers; a sender or recipient with a line break is a
    configuration error and raises ValueError.
    """
    missing = [part for part in ("text", "html") if part not in message.parts]
    if missing:
        raise KeyError(f"digest {message.digest_id} has no {' or '.join(missing)} part")
    domain = sender_domain(sender)
    rule, channel = _label(message.rule), _label(message.channel)
    mail = EmailMessage(policy=_POLICY)
    mail["Subject"] = TextHeader("Subject", _one_line(message.subject))
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    date = _date(message.created_at)
    if date is not None:  # without one, the submission server adds it (RFC 6409 8.2)
        mail["Date"] = date
    mail["Message-ID"] = f"<{_label(message.digest_id)}@{domain}>"
    mail["List-Id"] = f'"{rule} via news-monitor" <{rule}.{channel}.{domain}>'
    # Vacation responders and Exchange's out-of-office replies stay quiet for these.
    mail["Auto-Submitted"] = "auto-generated"
    mail["X-Auto-Response-Suppress"] = "All"
    mail["Precedence"] = "bulk"
    mail["X-Monitor-Digest"] = _one_line(message.digest_id)
    text, html = message.parts["text"], message.parts["html"]
    mail.set_content(text, subtype="plain", charset="utf-8")
    mail.add_alternative(html, subtype="html", charset="utf-8")  # the last part is preferred
    for part in mail.iter_parts():
        del part["MIME-Version"]  # EmailMessage adds one to each part; only the top needs it
    # The generator would pick a random boundary; one hashed from the bodies keeps the
    # bytes stable and cannot plausibly occur inside them.
    mail.set_boundary("=_nm_" + hashlib.sha256(f"{text}\0{html}".encode()).hexdigest()[:40])
    return mail


def sender_domain(sender: str) -> str:
    """The domain of ``sender``'s address, lower-cased; FALLBACK_DOMAIN if it has none."""
    address = email.utils.parseaddr(sender)[1]
    domain = address.rpartition("@")[2].lower() if "@" in address else ""
    return domain if _DOMAIN.fullmatch(domain) else FALLBACK_DOMAIN


def _one_line(text: str) -> str:
    # str.split() breaks on every character str.splitlines() does (CR, LF, VT, FF, FS, GS,
    # RS, NEL, LS, PS), which are exactly those the email policy refuses in a header.
    visible = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(visible.split())


def _label(text: str) -> str:
    """``text`` as a valid dot-atom: other characters become '-', no empty or edge dots."""
    atoms = [_NOT_ATEXT.sub("-", atom) for atom in text.split(".")]
    return ".".join(atom for atom in atoms if atom) or "x"


def _date(created_at: str) -> str | None:
    try:
        when = datetime.fromisoformat(created_at)
    except ValueError:
        return None
    if when.tzinfo is None:  # documented as UTC
        when = when.replace(tzinfo=UTC)
    return email.utils.format_datetime(when.astimezone(UTC))


# --- sending (the edge) -------------------------------------------------------------------


class _Failed(Exception):
    """A step that already knows its Outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def send_email(
    channel: EmailChannel,
    message: Message,
    *,
    username: str | None = None,
    password: str | None = None,
    local_hostname: str | None = None,
) -> Outcome:
    """Send ``message`` once through ``channel``'s server; classify the result, never raise.

    ``local_hostname`` is the EHLO name; by default this machine's FQDN, looked up once.
    """
    secrets = _secret_forms(username, password)
    try:
        return _redacted(_send(channel, message, username, password, local_hostname), secrets)
    except _Failed as failed:
        return _redacted(failed.outcome, secrets)
    except Exception as error:  # every failure is an Outcome: the dispatcher must not die
        return _redacted(_classify(error, channel), secrets)


def _send(
    channel: EmailChannel,
    message: Message,
    username: str | None,
    password: str | None,
    local_hostname: str | None,
) -> Outcome:
    if (username is None) != (password is None):
        raise _Failed(
            Outcome.failure("config", "set both username_env and password_env, or neither")
        )
    try:
        mail = build_email(message, sender=channel.from_address, to=channel.to)
    except KeyError as error:
        log.error("%s", error.args[0])
        raise _Failed(Outcome.failure("internal", str(error.args[0]))) from error
    except ValueError as error:
        raise _Failed(Outcome.failure("config", f"cannot build the message: {error}")) from error
    context = _tls_context(channel)
    client = _connect(channel, context, local_hostname or _fqdn())
    try:
        if channel.security == "starttls":
            _starttls(client, channel, context)
        if username is not None and password is not None:
            _login(client, username, password, channel)
        envelope_from = email.utils.parseaddr(channel.from_address)[1] or channel.from_address
        refused = client.send_message(mail, from_addr=envelope_from, to_addrs=list(channel.to))
        return _accepted(client.last_reply, refused)
    finally:
        _close(client)


@functools.cache
def _fqdn() -> str:
    # smtplib would call getfqdn() on every connection, and a slow resolver makes that take
    # seconds; Django's mail backend caches it for the same reason.
    return socket.getfqdn()


class _Client(smtplib.SMTP):
    """smtplib.SMTP that keeps the last reply and holds the whole exchange to one deadline."""

    deadline = math.inf
    last_reply: tuple[int, bytes] = (0, b"")

    def __init__(self, host: str, port: int, *, timeout: float, **kwargs: Any) -> None:
        self.deadline = time.monotonic() + timeout
        try:
            super().__init__(host, port, timeout=timeout, **kwargs)
        except BaseException:
            self.close()  # smtplib leaves the socket open when the greeting fails
            raise

    def getreply(self) -> tuple[int, bytes]:
        # Every command waits here, so the socket gets what is left of the time; a server
        # that answers slowly line by line cannot stretch an attempt to many timeouts.
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server took longer than the timeout")
        if self.sock is not None:
            self.sock.settimeout(remaining)
        self.last_reply = super().getreply()
        return self.last_reply

    def login(
        self, user: str, password: str, *, initial_response_ok: bool = True
    ) -> tuple[int, bytes]:
        # LOGIN and CRAM-MD5 use these strings as they are; PLAIN formats them anew below.
        return super().login(_UTF8(user), _UTF8(password), initial_response_ok=initial_response_ok)

    def auth_plain(self, challenge: ReadableBuffer | None = None) -> str:
        return _UTF8(super().auth_plain(challenge))


class _UTF8(str):
    """A str that encodes as UTF-8 whatever codec is asked for.

    smtplib encodes AUTH data as ASCII (CPython issue 73936, open), so a password with
    an 'ä' could never log in; RFC 4616 says PLAIN credentials are UTF-8.
    """

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str.encode(self, "utf-8", errors)


class _ClientTLS(_Client, smtplib.SMTP_SSL):
    pass


def _tls_context(channel: EmailChannel) -> ssl.SSLContext | None:
    if channel.security == "plain":
        return None
    cafile = str(channel.ca_file) if channel.ca_file is not None else None
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        raise _Failed(
            Outcome.failure("config", f"ca_file {cafile}: cannot load it ({error})")
        ) from error


def _connect(channel: EmailChannel, context: ssl.SSLContext | None, ehlo_name: str) -> _Client:
    address = (channel.smtp_host, channel.smtp_port)
    if channel.security == "tls":
        return _ClientTLS(
            *address, timeout=channel.timeout, local_hostname=ehlo_name, context=context
        )
    return _Client(*address, timeout=channel.timeout, local_hostname=ehlo_name)


def _starttls(client: _Client, channel: EmailChannel, context: ssl.SSLContext | None) -> None:
    client.ehlo()
    if not client.has_extn("starttls"):
        # Never fall back to plain text: the login and the digest would travel in clear.
        where = f"{channel.smtp_host}:{channel.smtp_port}"
        raise _Failed(Outcome.failure("tls", f"{where} does not offer STARTTLS"))
    try:
        client.starttls(context=context)
    except smtplib.SMTPResponseException as error:
        text = f"STARTTLS refused: {_reply(error.smtp_code, error.smtp_error)}"
        raise _Failed(Outcome.failure("tls", text, status=error.smtp_code)) from error
    client.ehlo()  # the capabilities before TLS no longer count (RFC 3207 4.2)


def _login(client: _Client, username: str, password: str, channel: EmailChannel) -> None:
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("auth"):
        # Most servers offer AUTH only once the connection is encrypted.
        hint = '; try security = "starttls" or "tls"' if channel.security == "plain" else ""
        raise _Failed(Outcome.failure("auth", f"the server does not offer AUTH{hint}"))
    try:
        client.login(username, password)
    except smtplib.SMTPAuthenticationError:
        raise  # classified with its code
    except smtplib.SMTPException as error:  # no mechanism in common
        raise _Failed(Outcome.failure("auth", f"cannot log in: {error}")) from error


def _accepted(reply: tuple[int, bytes], refused: Mapping[str, tuple[int, bytes]]) -> Outcome:
    detail = _reply(*reply)
    if refused:
        names = ", ".join(f"{address} ({_reply(*answer)})" for address, answer in refused.items())
        detail = f"{detail}; refused: {names}"
    return Outcome.success(detail=_clip(detail), status=reply[0])


def _close(client: _Client) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()  # the outcome is already decided; a failed goodbye changes nothing


# --- classifying failures -----------------------------------------------------------------


def _classify(error: Exception, channel: EmailChannel) -> Outcome:
    where = f"{channel.smtp_host}:{channel.smtp_port}"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        # smtplib reports a timed-out or broken read as a disconnection; the cause decides.
        cause = error.__cause__ or error.__context__
        if isinstance(cause, OSError) and not isinstance(cause, smtplib.SMTPException):
            return _classify(cause, channel)
        return Outcome.failure("connect", f"{where} closed the connection: {error}")
    if isinstance(error, smtplib.SMTPException):  # before OSError: it is one
        return _classify_smtp(error)
    if isinstance(error, ssl.SSLError):  # includes certificate verification
        return Outcome.failure("tls", f"TLS with {where} failed: {_why(error)}")
    if isinstance(error, TimeoutError):
        return Outcome.failure("timeout", f"{where} did not answer within {channel.timeout:g} s")
    if isinstance(error, socket.gaierror):
        return Outcome.failure("connect", f"cannot resolve {channel.smtp_host}: {_why(error)}")
    if isinstance(error, OSError):
        return Outcome.failure("connect", f"cannot connect to {where}: {_why(error)}")
    log.exception("unexpected error sending email")
    return Outcome.failure("internal", f"unexpected {type(error).__name__}: {error}")


def _classify_smtp(error: smtplib.SMTPException) -> Outcome:
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return _all_refused(error.recipients)
    if not isinstance(error, smtplib.SMTPResponseException):
        return Outcome.failure("protocol", _clip(str(error)))
    code, text = error.smtp_code, _reply(error.smtp_code, error.smtp_error)
    if 400 <= code < 500:
        return Outcome.failure("smtp", f"temporary refusal: {text}", status=code)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return Outcome.failure("auth", f"login refused: {text}", status=code)
    if code == 530:  # on MAIL FROM: "authentication required" (or "STARTTLS first")
        category = "tls" if "starttls" in text.lower() else "auth"
        return Outcome.failure(category, f"the server wants a login first: {text}", status=code)
    if code >= 500 and isinstance(error, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return Outcome.failure("rejected", f"refused: {text}", status=code)
    return Outcome.failure("protocol", f"unexpected reply: {text}", status=code)


def _all_refused(recipients: Mapping[str, tuple[int, bytes]]) -> Outcome:
    """Every recipient refused: permanent only if every refusal is (a 4xx may pass later)."""
    codes = [code for code, _ in recipients.values()]
    temporary = [code for code in codes if 400 <= code < 500]
    names = ", ".join(f"{address} ({_reply(*answer)})" for address, answer in recipients.items())
    if temporary:
        return Outcome.failure(
            "smtp", _clip(f"recipients refused for now: {names}"), status=temporary[0]
        )
    return Outcome.failure("rejected", _clip(f"every recipient refused: {names}"), status=codes[0])


def _reply(code: int, text: bytes | str) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return _clip(f"{code} {_one_line(raw)}".strip())


def _why(error: OSError) -> str:
    return _clip(str(error.strerror or error))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _secret_forms(username: str | None, password: str | None) -> list[str]:
    """The password as it may come back in a server's echo of our AUTH commands."""
    if not password:
        return []
    forms = [password, base64.b64encode(password.encode()).decode()]
    if username is not None:  # AUTH PLAIN sends "\0user\0password" in one blob
        forms.append(base64.b64encode(f"\0{username}\0{password}".encode()).decode())
    return forms


def _redacted(outcome: Outcome, secrets: Sequence[str]) -> Outcome:
    message, detail = outcome.message, outcome.detail
    for secret in secrets:
        message, detail = message.replace(secret, "***"), detail.replace(secret, "***")
    return dataclasses.replace(outcome, message=message, detail=detail)


def _sender(channel: EmailChannel, context: Context) -> Sender:
    username = context.env.get(channel.username_env) if channel.username_env else None
    password = context.env.get(channel.password_env) if channel.password_env else None
    if channel.ca_file is not None:
        channel = channel.model_copy(update={"ca_file": context.path(channel.ca_file)})

    async def send(message: Message) -> Outcome:
        return await asyncio.to_thread(
            send_email,
            channel,
            message,
            username=username,
            password=password,
            local_hostname=channel.helo,
        )

    return Sender(channel, 1, send)


KIND = ChannelKind[EmailChannel](
    parts=lambda channel: {"text": "email_text", "html": "email_html"},
    destination=lambda c: f"{c.smtp_host}:{c.smtp_port}:{','.join(c.to)}",
    sender=_sender,
)
