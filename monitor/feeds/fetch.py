"""The HTTP edge for feeds: one conditional GET, bounded in time, size and hops.

:func:`fetch` either returns a :class:`FetchResult` (a 2xx body, or a 304) or
raises :class:`~monitor.errors.FetchError` with one of these categories:

    dns         the host name does not resolve
    connect     no connection (refused, unreachable, reset)
    tls         the TLS handshake or certificate check failed
    timeout     connect/read timeout, or the whole response took over total_timeout
    redirect    more than max_redirects hops, a loop, or a Location we will not follow
    http        a final status that is neither 2xx nor 304 (``status`` is set)
    too_large   the decoded body is over max_bytes (or Content-Length says it would be)
    protocol    broken HTTP, an unsupported URL or an undecodable Content-Encoding
    blocked     the outbound address policy refused the address (:mod:`monitor.feeds.reach`)

Redirects are followed here rather than by httpx, so that each hop is checked
and closed unread, loops are named, and a permanent move can be reported.
Bodies are decoded here too (:mod:`monitor.feeds.decompress`), so the size cap
applies to decoded bytes without ever holding a decompression bomb in memory.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC

import httpx

from monitor.config.redaction import scrub, shown_url
from monitor.errors import FetchError, causes
from monitor.feeds.decompress import DecompressionError, decoder_for
from monitor.feeds.reach import BlockedAddress, Guard, GuardedBackend, Reach, guarded, resolve

USER_AGENT = "news-monitor/0.1 (+https://github.com/news-monitor/news-monitor)"

# Feed types first; generic XML and JSON still commonly carry feeds.
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, */*;q=0.1"
)
# Exactly what monitor.feeds.decompress can undo within the size cap.
ACCEPT_ENCODING = "gzip, deflate, br"
# Connections one client opens at most; run no more fetches than this at once, or the
# extra ones wait for a free connection (and fail as "timeout" after connect_timeout).
MAX_CONNECTIONS = 64

_PERMANENT = frozenset({301, 308})
_DNS_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated",
    "name resolution",
)

log = logging.getLogger("monitor.fetching")


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Wall clock for the whole response, so a slow drip cannot hold a worker.
    total_timeout: float = 60.0
    # Cap on the decoded body (decompression bombs).
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = USER_AGENT
    # Connections open at once; the poller runs no more fetches than this at a time.
    max_connections: int = MAX_CONNECTIONS
    # Whether requests may reach private, loopback and link-local addresses (reach.py).
    allow_private_networks: bool = False


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    url: str  # final URL after redirects
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes  # decoded; b"" for 304
    # For a 304 that omits them, the validators that were sent, so they can be kept as they are.
    etag: str | None
    last_modified: str | None
    elapsed: float  # seconds
    # Where the feed has moved for good: the target of the last of the 301/308 hops
    # that started the chain (a temporary hop before them means the URL itself stays).
    permanent_redirect: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def make_client(limits: FetchLimits) -> httpx.AsyncClient:
    """One client to share between polls: pooled HTTP/1.1 connections, our timeouts and UA,
    every connection checked by the outbound address policy."""
    transport = httpx.AsyncHTTPTransport(
        http1=True,
        http2=False,
        limits=httpx.Limits(
            max_connections=limits.max_connections,
            max_keepalive_connections=16,
            keepalive_expiry=30.0,
        ),
    )
    # httpx has no public way to hand httpcore a network backend; the pool's is replaced
    # (tests/test_reach.py fails if this stops taking effect).
    pool = transport._pool
    pool._network_backend = GuardedBackend(pool._network_backend)
    return httpx.AsyncClient(
        transport=transport,
        http1=True,
        http2=False,
        follow_redirects=False,  # fetch follows them itself
        timeout=httpx.Timeout(
            connect=limits.connect_timeout,
            read=limits.read_timeout,
            write=limits.read_timeout,
            pool=limits.connect_timeout,
        ),
        headers={"User-Agent": limits.user_agent, "Accept": ACCEPT},
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    limits: FetchLimits,
    etag: str | None = None,
    last_modified: str | None = None,
    headers: Mapping[str, str] | None = None,
    trusted: bool = True,
) -> FetchResult:
    """GET a feed, conditionally when validators are given; raise only FetchError.

    ``trusted``: ``url`` is the operator's (a configured feed), which may be on any address;
    otherwise (an item's link) it may only reach public addresses, like every redirect hop.
    """
    started = time.monotonic()
    own = _request_headers(limits, etag, last_modified, headers)
    # What may go to another origin: nothing the operator configured for this one.
    anyone = _request_headers(limits, etag, last_modified, None)
    guard = Guard(None if trusted else Reach.PUBLIC, allow_all=limits.allow_private_networks)
    try:
        async with asyncio.timeout(limits.total_timeout):
            with guarded(guard):
                return await _follow(client, url, (own, anyone), limits, started, guard)
    except FetchError:
        raise
    except BlockedAddress as blocked:
        raise FetchError(
            _clean(f"refused {redact_url(url)}: {blocked}"), category="blocked"
        ) from None
    except TimeoutError:
        message = f"no complete response within {limits.total_timeout:g} s from {url}"
        raise FetchError(_clean(message), category="timeout") from None
    except (httpx.HTTPError, httpx.InvalidURL, DecompressionError, OSError) as exc:
        raise _classify(exc, url, limits) from None
    except Exception as exc:
        # A bug or an httpx surprise must not take the poller down; keep the trace in the log.
        log.exception("unexpected error fetching %s", redact_url(url))
        message = f"unexpected {type(exc).__name__}: {exc} ({url})"
        raise FetchError(_clean(message), category="protocol") from None


def _request_headers(
    limits: FetchLimits,
    etag: str | None,
    last_modified: str | None,
    extra: Mapping[str, str] | None,
) -> httpx.Headers:
    headers = httpx.Headers({"User-Agent": limits.user_agent, "Accept": ACCEPT})
    headers.update(extra or {})
    # Not overridable: a coding we cannot decode in bounded memory would defeat max_bytes.
    headers["Accept-Encoding"] = ACCEPT_ENCODING
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


async def _follow(
    client: httpx.AsyncClient,
    url: str,
    headers: tuple[httpx.Headers, httpx.Headers],
    limits: FetchLimits,
    started: float,
    guard: Guard,
) -> FetchResult:
    """Follow redirects; the configured headers, cookies and credentials go only to the
    origin (scheme, host, port) they were configured for, and once a hop has left it, to no
    later hop either. httpx alone would keep custom headers on every hop (it strips only
    Authorization, and drops a configured Cookie even on the same origin)."""
    own, anyone = headers
    request = client.build_request("GET", url, headers=own)
    origin, foreign = _origin(request.url), False
    seen = {str(request.url)}
    permanent: str | None = None
    moved_for_good = True  # every hop so far was permanent
    for _hop in range(limits.max_redirects + 1):
        if not guard.allow_all:  # a pooled connection is not opened again: check here too
            host, port = request.url.host, _origin(request.url)[2] or 80
            guard.check(host, await resolve(host, port))
        response = await client.send(request, stream=True, follow_redirects=False)
        try:
            if response.next_request is None:
                body = await _read_body(response, limits)
                return _result(response, body, own, started, permanent)
            location = response.next_request.url
        finally:
            await response.aclose()
        foreign = foreign or _origin(location) != origin
        if foreign:
            location = location.copy_with(username=None, password=None)
        request = client.build_request("GET", location, headers=anyone if foreign else own)
        target = str(request.url)
        moved_for_good = moved_for_good and response.status_code in _PERMANENT
        if moved_for_good:
            permanent = target
        _check_hop(str(response.url), target, seen)
        seen.add(target)
    message = f"more than {limits.max_redirects} redirects, last to {request.url}"
    raise FetchError(_clean(message), category="redirect")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port or {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, port


def _check_hop(source: str, target: str, seen: set[str]) -> None:
    if httpx.URL(target).scheme not in ("http", "https"):
        message = f"redirect from {source} to a non-HTTP URL {target}"
        raise FetchError(_clean(message), category="redirect")
    if target in seen:
        raise FetchError(_clean(f"redirect loop: {source} -> {target}"), category="redirect")


async def _read_body(response: httpx.Response, limits: FetchLimits) -> bytes:
    status = response.status_code
    if status == 304:
        return b""
    if not 200 <= status < 300:
        message = f"HTTP {status} {response.reason_phrase} from {response.url}"
        wait = None
        if status in (429, 503):
            wait = retry_after_seconds(response.headers.get("retry-after"), time.time())
        raise FetchError(_clean(message), category="http", status=status, retry_after=wait)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_large(response, f"Content-Length {declared}", limits)
    decoder = decoder_for(response.headers.get("content-encoding"))
    body = bytearray()
    async for raw in response.aiter_raw():
        _append(body, decoder.decode(raw), response, limits)
    _append(body, decoder.finish(), response, limits)
    return bytes(body)


def _append(
    body: bytearray, pieces: Iterator[bytes], response: httpx.Response, limits: FetchLimits
) -> None:
    # Checked piece by piece: a decoder never holds more than one piece in memory.
    for piece in pieces:
        if len(body) + len(piece) > limits.max_bytes:
            raise _too_large(response, "body", limits)
        body += piece


def _too_large(response: httpx.Response, what: str, limits: FetchLimits) -> FetchError:
    message = f"{what} over the {limits.max_bytes} byte limit from {response.url}"
    return FetchError(_clean(message), category="too_large")


def _result(
    response: httpx.Response,
    body: bytes,
    sent: httpx.Headers,
    started: float,
    permanent: str | None,
) -> FetchResult:
    headers = {name.lower(): value for name, value in response.headers.items()}
    etag = headers.get("etag")
    last_modified = headers.get("last-modified")
    if response.status_code == 304:
        etag = etag or sent.get("If-None-Match")
        last_modified = last_modified or sent.get("If-Modified-Since")
    return FetchResult(
        status=response.status_code,
        url=str(response.url),
        headers=headers,
        body=body,
        etag=etag,
        last_modified=last_modified,
        elapsed=time.monotonic() - started,
        permanent_redirect=permanent,
    )


def _classify(exc: Exception, url: str, limits: FetchLimits) -> FetchError:
    """Map an httpx, socket or decoding failure to one FetchError category."""
    where = _request_url(exc) or url
    category = _category(exc)
    if category == "dns":
        message = f"cannot resolve host {httpx.URL(where).host}: {exc}"
    elif category == "timeout":
        message = f"{_timeout_phrase(exc, limits)}: {where}"
    elif category == "connect":
        what = "cannot connect" if isinstance(exc, httpx.ConnectError) else "connection lost"
        message = f"{what}: {_os_reason(exc)} ({where})"
    else:
        message = f"{str(exc) or type(exc).__name__} ({where})"
    return FetchError(_clean(message), category=category)


def _timeout_phrase(exc: Exception, limits: FetchLimits) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no connection within {limits.connect_timeout:g} s"
    if isinstance(exc, httpx.PoolTimeout):
        return f"no free connection within {limits.connect_timeout:g} s"
    if isinstance(exc, httpx.WriteTimeout):
        return f"request not sent within {limits.read_timeout:g} s"
    return f"no data for {limits.read_timeout:g} s"


def _category(exc: Exception) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, DecompressionError | httpx.ProtocolError | httpx.DecodingError):
        return "protocol"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "protocol"
    chain = causes(exc)
    if any(isinstance(c, socket.gaierror) for c in chain):
        return "dns"
    if any(isinstance(c, ssl.SSLError) for c in chain):
        return "tls"
    text = " ".join(str(c).lower() for c in chain)
    if any(hint in text for hint in _DNS_HINTS):
        return "dns"
    return "connect"


def _os_reason(exc: Exception) -> str:
    """The operating system's words ("Connection refused") rather than a wrapper's."""
    for cause in causes(exc):
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)
    return str(exc) or type(exc).__name__


def _request_url(exc: Exception) -> str | None:
    try:
        return str(exc.request.url) if isinstance(exc, httpx.RequestError) else None
    except RuntimeError:  # .request is unset on errors raised outside a request
        return None


def redact_url(url: str) -> str:
    return shown_url(url)


def _clean(message: str) -> str:
    """One line, with credentials and tokens masked in any URL in it."""
    return scrub(" ".join(message.split()))


_DELTA_SECONDS = re.compile(r"[+-]?\d+(\.\d+)?")


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` value asks for: delta seconds or an HTTP-date after ``now``.

    A moment already past is 0; a missing or unparsable value is None.
    """
    if value is None:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return max(0.0, float(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with unknown origin (RFC 5322)
        when = when.replace(tzinfo=UTC)
    return max(0.0, float(when.timestamp()) - now)
