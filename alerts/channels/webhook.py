"""The webhook channel: one signed POST of one digest, bounded in time, never raising.

:func:`send_webhook` makes one attempt and says what happened as an
:class:`~alerts.message.Outcome`; retries, backoff and giving up belong to the
dispatcher. Failure categories:

    timeout    no status line within ``timeout`` seconds of wall clock, counted from the
               call: waiting for a free pooled connection and connecting count too, so
               callers should not start more sends at once than the client's pool holds
    connect    no connection (refused, unreachable, unresolvable)
    tls        the TLS handshake or certificate check failed
    http       a status that is not 2xx (3xx, 4xx, 5xx); ``retry_after`` on 429/503
    gone       410: the receiver says the endpoint is gone for good (``disable``)
    protocol   broken HTTP, or a URL httpx cannot send to
    internal   a bug, or a header httpx cannot send (non-ASCII); logged with its trace

Once the status line has arrived it decides the outcome: the response body
is read only for an error message, so a receiver that drips it out, or drops
the connection during it, shortens the excerpt but cannot turn an accepted
delivery into a failure (which would make the dispatcher deliver it twice).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import importlib.metadata
import logging
import os
import re
import ssl
import time
import unicodedata
from collections.abc import Callable, Iterable, Mapping

import httpx

from alerts.channels import ChannelKind, Context, Sender
from alerts.message import Message, Outcome
from alerts.signing import secret_bytes, secret_problem, sign
from monitor.config.channels import WebhookChannel
from monitor.config.secrets import expand_headers
from monitor.errors import causes
from monitor.feeds.fetch import retry_after_seconds


def _version() -> str:
    try:
        return importlib.metadata.version("news-monitor")
    except importlib.metadata.PackageNotFoundError:  # running from a source tree
        return "dev"


USER_AGENT = f"news-monitor/{_version()}"
# The error excerpt comes from at most this much of a response body.
MAX_READ = 4096
MAX_EXCERPT = 200
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
# Extra headers whose values are credentials: an echoing receiver must not put them in a message.
_CREDENTIAL_NAME = re.compile(r"auth|token|key|secret|cookie|password|signature", re.IGNORECASE)
# Shorter strings would blot out ordinary words.
_MIN_REDACTED = 4
# A credential header's words this long are redacted on their own too; "Bearer" is not.
_MIN_CREDENTIAL_WORD = 8

log = logging.getLogger("alerts.channels.webhook")


async def send_webhook(
    client: httpx.AsyncClient,
    url: str,
    message: Message,
    *,
    secret: bytes | None,
    timeout: float,
    headers: Mapping[str, str] = {},
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """POST ``message.parts["body"]`` to ``url`` once; classify the result, never raise."""
    hidden = _sensitive(secret, headers)
    if "body" not in message.parts:
        log.error("digest %s has no webhook body part", message.digest_id)
        return Outcome.failure("internal", f"digest {message.digest_id} has no webhook body")
    body = message.parts["body"].encode("utf-8")
    try:
        request_headers = _request_headers(message.digest_id, body, secret, headers, clock)
        status, response_headers, head = await _post(client, url, body, request_headers, timeout)
    except TimeoutError:
        return Outcome.failure("timeout", f"no response within {timeout:g} s")
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
        category, text = _classify(exc)
        return Outcome.failure(category, _redact(text, hidden))
    except Exception as exc:
        # A bug, a bad header or an httpx surprise must not take the dispatcher down.
        log.exception("unexpected error posting digest %s", message.digest_id)
        return Outcome.failure("internal", _redact(f"unexpected {type(exc).__name__}", hidden))
    return _judge(status, response_headers, head, clock(), hidden)


def _request_headers(
    msg_id: str,
    body: bytes,
    secret: bytes | None,
    extra: Mapping[str, str],
    clock: Callable[[], float],
) -> httpx.Headers:
    headers = httpx.Headers({"content-type": "application/json", "user-agent": USER_AGENT})
    headers.update(extra)
    # Everything below is set after the extras, which must not forge or drop a signature.
    # The response body is read raw (bounded, undecoded), so ask for no compression.
    headers["accept-encoding"] = "identity"
    timestamp = int(clock())
    headers["webhook-id"] = msg_id
    headers["webhook-timestamp"] = str(timestamp)
    if secret is not None:
        headers["webhook-signature"] = sign(secret, msg_id, timestamp, body)
    else:
        headers.pop("webhook-signature", None)
    return headers


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: httpx.Headers,
    timeout: float,
) -> tuple[int, httpx.Headers, bytes]:
    """The status, headers and the first MAX_READ body bytes, all within ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    # httpx's own timeouts, capped too, so none of them outlasts the wall-clock bound.
    request = client.build_request("POST", url, content=body, headers=headers, timeout=timeout)
    async with asyncio.timeout_at(deadline):
        response = await client.send(request, stream=True, follow_redirects=False)
    head = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            await _read_head(response, head)
    except (TimeoutError, httpx.HTTPError):
        pass  # the status has already decided; the excerpt is what arrived (see module doc)
    finally:
        with contextlib.suppress(httpx.HTTPError):  # the status is known; closing cannot undo it
            await response.aclose()
    return response.status_code, response.headers, bytes(head)


async def _read_head(response: httpx.Response, into: bytearray) -> None:
    # Raw bytes: a decoder could turn a few compressed bytes into megabytes.
    async for chunk in response.aiter_raw():
        into += chunk[: MAX_READ - len(into)]
        if len(into) >= MAX_READ:
            return


def _judge(
    status: int, headers: httpx.Headers, head: bytes, now: float, hidden: list[str]
) -> Outcome:
    """The Outcome a complete status line stands for."""
    if 200 <= status < 300:
        return Outcome.success(status=status)
    if status == 410:
        text = f"HTTP 410: the receiver says this endpoint is gone{_excerpt(head, hidden)}"
        return Outcome.failure("gone", text, status=status, disable=True)
    if 300 <= status < 400:
        location = _redact(_one_line(headers.get("location", "(no Location)")), hidden)
        text = f"HTTP {status} redirect to {location} not followed; update the channel's url"
        return Outcome.failure("http", text, status=status)
    text = f"HTTP {status}{_excerpt(head, hidden)}"
    if status in (429, 503):
        delay = retry_after_seconds(headers.get("retry-after"), now)
        return Outcome.failure("http", text, status=status, retry_after=delay)
    return Outcome.failure("http", text, status=status)


def _classify(exc: Exception) -> tuple[str, str]:
    chain = causes(exc)
    if any(isinstance(cause, ssl.SSLError | ssl.CertificateError) for cause in chain):
        return "tls", f"TLS failed: {_reason(exc)}"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"timed out: {_reason(exc)}"
    if isinstance(exc, httpx.ConnectError | OSError):
        return "connect", f"cannot connect: {_reason(exc)}"
    return "protocol", f"{type(exc).__name__}: {_reason(exc)}"


def _reason(exc: BaseException) -> str:
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLError) and cause.reason:
            return str(cause.reason)
        # The operating system's words: asyncio's own strerror is "Connect call failed (...)".
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)
    return _one_line(str(exc)) or type(exc).__name__


def _excerpt(head: bytes, hidden: list[str]) -> str:
    """ ": <first words of the body>", or nothing when the body says nothing."""
    text = _redact(_one_line(head.decode("utf-8", errors="replace")), hidden)
    if len(text) > MAX_EXCERPT - 2:
        text = text[: MAX_EXCERPT - 3] + "…"
    return f": {text}" if text else ""


def _one_line(text: str) -> str:
    """Printable text on one line: breaks become spaces; escapes, NULs, bidi overrides go."""
    kept = (
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace() or not unicodedata.category(ch).startswith("C")
    )
    return " ".join("".join(kept).split())


def _sensitive(secret: bytes | None, headers: Mapping[str, str]) -> list[str]:
    """What must not appear in a message: the secret in any spelling, credential headers."""
    found: list[str] = []
    for name, value in headers.items():
        if _CREDENTIAL_NAME.search(name):
            found += [value, *(w for w in value.split() if len(w) >= _MIN_CREDENTIAL_WORD)]
    if secret is not None:
        # Unpadded, so it is also found inside an unpadded "whsec_..." spelling.
        found.append(base64.b64encode(secret).decode().rstrip("="))
        with contextlib.suppress(UnicodeDecodeError):
            found.append(secret.decode("utf-8"))
    # Longest first, so a secret that contains another is blotted out whole.
    return sorted({s for s in found if len(s) >= _MIN_REDACTED}, key=len, reverse=True)


def _redact(text: str, hidden: Iterable[str]) -> str:
    text = _USERINFO.sub("", text)
    for secret in hidden:
        text = text.replace(secret, "[redacted]")
    return text


def _sender(channel: WebhookChannel, context: Context) -> Sender:
    raw = context.env.get(channel.secret_env) if channel.secret_env else None
    secret = secret_bytes(raw) if raw else None
    headers = expand_headers(channel.headers, context.env)

    async def send(message: Message) -> Outcome:
        return await send_webhook(
            context.http,
            channel.url,
            message,
            secret=secret,
            timeout=channel.timeout,
            headers=headers,
            clock=context.clock,
        )

    return Sender(channel, channel.concurrency, send)


def _problems(channel: WebhookChannel, env: Mapping[str, str]) -> list[str]:
    secret = env.get(channel.secret_env) if channel.secret_env else None
    problem = secret_problem(secret) if secret else None
    return [f"secret_env: {channel.secret_env} {problem}"] if problem else []


KIND = ChannelKind[WebhookChannel](
    parts=lambda channel: {"body": "slack" if channel.format == "slack" else "webhook"},
    destination=lambda channel: channel.url,
    sender=_sender,
    problems=_problems,
)
