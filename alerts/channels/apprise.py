"""The Apprise channel: one digest to every Apprise URL of a channel, never raising.

:func:`send_apprise` is synchronous (Apprise's API is); the dispatcher runs it
in a thread. Apprise reports most trouble by return value, not by exception:
``add()`` says False for a URL it cannot use, and ``notify()`` returns a result
that is false when a service failed, with the warnings the services logged
during that call (Apprise 2.x captures them per call, so a delivery running in
another thread never mixes its log lines, or its secrets, into this one).
Failure categories:

    config     no URLs, a bad timeout, or a URL Apprise does not understand
               (named by its scheme only: Apprise URLs carry tokens)
    timeout    a service had not finished when ``timeout`` ran out
    rejected   a service failed: refused connection, an error status, a read
               that ran out of socket time... (Apprise does not tell these apart;
               its log lines, secrets redacted, say which it was)
    internal   a bug, or an exception from Apprise or a plugin

Timeouts. ``timeout`` bounds the whole ``notify()`` call (Apprise 2.x stops
waiting for an unfinished service and reports it as timed out; its worker
thread runs on in the background). Each URL also gets ``cto`` and ``rto`` (the
socket connect and read limits Apprise passes to ``requests``, and ``cto`` to
SMTP), unless the URL sets them itself, at ``timeout`` plus one second:

- not Apprise's 4 s defaults, which would cut a slow but healthy service short
  of the channel's limit;
- not shorter than the call's limit, because Apprise reports a socket timeout
  as a plain connection error: the call's limit must fire first for a stalled
  service to be reported as ``timeout``;
- not unbounded, so an abandoned worker thread ends soon after.

With several URLs one Outcome covers them all: if one fails the delivery is
reported failed and a retry sends to every URL again.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Iterable, Sequence
from urllib.parse import unquote

import apprise

from alerts.channels import ChannelKind, Context, Sender
from alerts.message import Message, Outcome
from monitor.config.channels import AppriseChannel

# Messages join at most this many of Apprise's log lines, each at most this long.
MAX_NOTES = 5
MAX_NOTE = 200
# Socket limits end this much after the call's own limit (see the module docstring).
SOCKET_MARGIN = 1.0
# Shorter URL parts would blot out ordinary words (a password is redacted whatever its length).
_MIN_REDACTED = 4
# Ports and small numeric ids: no secret, and redacting them would garble status codes.
_SMALL_NUMBER = re.compile(r"\d{1,5}")
_SCHEME = re.compile(r"\s*([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
# Separators inside an Apprise URL after its scheme; every piece between them may be a token.
_URL_SEPARATORS = re.compile(r"[/:@?&#,;\s]+")

log = logging.getLogger("alerts.channels.apprise")


def send_apprise(urls: Sequence[str], message: Message, *, timeout: float) -> Outcome:
    """Notify every URL in ``urls`` once with the digest's subject and markdown body."""
    hidden = _sensitive(urls)
    problem = _check(urls, message, timeout)
    if problem is not None:
        return problem
    try:
        return _notify(urls, message, timeout, hidden)
    except Exception as exc:
        # No traceback in the log: its frames would show the URLs. The text is redacted.
        text = _redact(f"unexpected {type(exc).__name__}: {exc}", hidden)
        log.error("apprise delivery of digest %s failed: %s", message.digest_id, text)
        return Outcome.failure("internal", _one_line(text))


def _check(urls: Sequence[str], message: Message, timeout: float) -> Outcome | None:
    if "markdown" not in message.parts:
        log.error("digest %s has no markdown part", message.digest_id)
        return Outcome.failure("internal", f"digest {message.digest_id} has no markdown part")
    if not any(url.strip() for url in urls):
        return Outcome.failure("config", "no Apprise URLs")
    if not (math.isfinite(timeout) and timeout > 0):
        return Outcome.failure(
            "config", f"timeout must be a positive number of seconds, not {timeout}"
        )
    return None


def _notify(urls: Sequence[str], message: Message, timeout: float, hidden: list[str]) -> Outcome:
    notifier = apprise.Apprise(asset=_asset())
    given = [url.strip() for url in urls if url.strip()]
    for index, url in enumerate(given, start=1):
        # A list, not the string: add("a, b") would split one URL into several at commas.
        if not notifier.add([_with_timeouts(url, timeout + SOCKET_MARGIN)]):
            where = f"URL {index} of {len(given)}" if len(given) > 1 else "the URL"
            return Outcome.failure("config", f"Apprise cannot use {where} ({_scheme(url)})")
    with notifier.notify(
        body=message.parts["markdown"],
        title=message.subject,
        body_format=apprise.NotifyFormat.MARKDOWN,
        timeout=timeout,
        log_level=logging.WARNING,
    ) as result:
        if result:
            return Outcome.success(detail=_services(len(result)))
        return _failure(result, timeout, hidden)


def _asset() -> apprise.AppriseAsset:
    # Memory only: no storage path means nothing is written under the user's home.
    # service_timeout=0 leaves notify(timeout=...) as the one limit: the 60 s default
    # per service would otherwise cut a longer channel timeout short.
    return apprise.AppriseAsset(
        storage_mode=apprise.PersistentStoreMode.MEMORY,
        service_timeout=0,
    )


def _with_timeouts(url: str, seconds: float) -> str:
    """``url`` with ``cto`` and ``rto`` set to ``seconds``, unless it sets them itself."""
    _, has_query, query = url.partition("?")
    present = {pair.partition("=")[0].strip().lower() for pair in query.split("&")}
    extra = "&".join(f"{key}={seconds:g}" for key in ("cto", "rto") if key not in present)
    if not extra:
        return url
    if not has_query:
        return f"{url}?{extra}"
    return url + extra if url.endswith(("?", "&")) else f"{url}&{extra}"


def _failure(result: apprise.AppriseResult, timeout: float, hidden: list[str]) -> Outcome:
    timed_out = result.status == apprise.AppriseResultStatus.TIMEOUT
    total = len(result)
    if total > 1:
        lead = f"{result.failed_count} of {_services(total)} failed"
    elif timed_out:
        lead = f"Apprise delivery did not finish within {timeout:g} s"
    else:
        lead = "Apprise delivery failed"
    notes = _notes(result.logs(), hidden)
    text = f"{lead}: {'; '.join(notes)}" if notes else f"{lead} ({result.status.name.lower()})"
    return Outcome.failure("timeout" if timed_out else "rejected", text)


def _notes(entries: Iterable[apprise.NotifyLogEntry], hidden: list[str]) -> list[str]:
    notes: list[str] = []
    for entry in entries:
        note = _one_line(_redact(entry.message, hidden))[:MAX_NOTE]
        if note and note not in notes:
            notes.append(note)
        if len(notes) == MAX_NOTES:
            break
    return notes


def _services(count: int) -> str:
    return f"{count} Apprise service" + ("" if count == 1 else "s")


def _scheme(url: str) -> str:
    match = _SCHEME.match(url)
    return f"{match.group(1).lower()}://" if match else "no scheme"


def _sensitive(urls: Sequence[str]) -> list[str]:
    """What must not appear in a message: each URL whole, its password, its token-like parts."""
    found: set[str] = set()
    for url in urls:
        url = url.strip()
        found.add(url)
        found.update(_password(url))
        found.update(piece for piece in _pieces(url) if len(piece) >= _MIN_REDACTED)
    found.discard("")
    # Longest first, so a secret that contains another is blotted out whole.
    return sorted(found, key=len, reverse=True)


def _password(url: str) -> set[str]:
    authority = url.partition("://")[2].partition("/")[0]
    userinfo, at, _ = authority.rpartition("@")
    password = userinfo.partition(":")[2] if at else ""
    return {password, unquote(password)} - {""}


def _pieces(url: str) -> set[str]:
    _, _, rest = url.partition("://")
    pieces: set[str] = set()
    for piece in _URL_SEPARATORS.split(rest):
        # A query's name ("token") is a word, not a secret: only the whole pair and the
        # value go in. A base64 token ending in "=" is caught whole.
        for part in (piece, piece.partition("=")[2]):
            if part and not _SMALL_NUMBER.fullmatch(part):
                pieces.update({part, unquote(part)})
    return pieces


def _redact(text: str, hidden: Iterable[str]) -> str:
    text = _USERINFO.sub("", text)
    for secret in hidden:
        text = text.replace(secret, "[redacted]")
    return text


def _one_line(text: str) -> str:
    return " ".join(text.split())


def split_urls(value: str) -> list[str]:
    """The Apprise URLs in an environment variable: separated by spaces, commas or lines."""
    return [url for url in value.replace(",", " ").split() if url]


def _sender(channel: AppriseChannel, context: Context) -> Sender:
    urls = split_urls(context.env.get(channel.urls_env, ""))

    async def send(message: Message) -> Outcome:
        return await asyncio.to_thread(send_apprise, urls, message, timeout=channel.timeout)

    return Sender(channel, 1, send)


KIND = ChannelKind[AppriseChannel](
    parts=lambda channel: {"markdown": "apprise"},
    # The variable's name, not its value: the URLs hold tokens, and a fingerprint of them
    # would change with every rotated token.
    destination=lambda channel: channel.urls_env,
    sender=_sender,
)
