"""Which addresses a request may connect to: the outbound address policy.

A feed URL in ``config.toml`` is the operator's choice and may be local (an RSS bridge on
127.0.0.1). Everything else a request goes to comes from strangers: item links fetched
for full text, and every redirect hop. Those may only reach public unicast addresses,
and the hops of an operator's URL no address more private than the one it started at,
so a feed cannot turn the daemon into a way into its own network (the cloud metadata
service at 169.254.169.254, a database's admin page on localhost).

Addresses are checked twice: the names are resolved before a hop is sent (which catches
a pooled connection's reuse), and the address a connection is actually opened to is
checked again by :class:`GuardedBackend`, so a name that resolves to a public address
first and to 127.0.0.1 a moment later (DNS rebinding) does not pass. IPv4-mapped IPv6
addresses are judged as the IPv4 address they hold; the decimal and short forms of an
address (``2130706433``, ``127.1``) are what the resolver makes of them, 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import enum
import ipaddress
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import httpcore


class Reach(enum.IntEnum):
    """How private an address is; a request may go no further than its limit."""

    PUBLIC = 0
    PRIVATE = 1  # RFC 1918, shared (100.64/10), unique local (fc00::/7)
    LOOPBACK = 2
    LINK_LOCAL = 3  # 169.254/16, fe80::/10: the metadata services of cloud hosts


class BlockedAddress(Exception):
    """A connection the address policy refuses (category ``blocked``)."""


def reach(address: str) -> Reach | None:
    """The class of an IP address; None for what no request should ever go to
    (unspecified, multicast, broadcast, reserved, documentation)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone is no part of it
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return None
    if ip.is_loopback:
        return Reach.LOOPBACK
    if ip.is_link_local:
        return Reach.LINK_LOCAL
    if ip.is_global:
        return Reach.PUBLIC
    if ip.is_private or ip in _SHARED:
        if ip.is_reserved or any(ip in net for net in _NOT_PRIVATE):
            return None
        return Reach.PRIVATE
    return None


_SHARED = ipaddress.ip_network("100.64.0.0/10")
# is_private holds these too, but nobody runs a feed on them.
_NOT_PRIVATE = tuple(
    ipaddress.ip_network(net)
    for net in (
        "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "240.0.0.0/4", "255.255.255.255/32", "2001:db8::/32", "100::/64", "2001::/23",
    )
)  # fmt: skip


@dataclass(slots=True)
class Guard:
    """The policy of one fetch, hop by hop: ``limit`` None until the operator's own URL
    has set it by where it resolved to."""

    limit: Reach | None
    allow_all: bool = False

    def check(self, host: str, addresses: Sequence[str]) -> None:
        """Refuse ``host`` unless every address it resolved to is within the limit; the
        first hop of an operator's URL sets the limit instead."""
        if self.allow_all:
            return
        classes = [reach(address) for address in addresses]
        if self.limit is None:  # the operator's URL: where it goes is theirs to say
            known = [found for found in classes if found is not None]
            self.limit = max(known, default=Reach.LINK_LOCAL)
            return
        for address, found in zip(addresses, classes, strict=True):
            if found is None or found > self.limit:
                raise BlockedAddress(
                    f"{host} is {address}, {_describe(found)}; "
                    f"this request may reach {_ALLOWED[self.limit]} only "
                    "([fetch] allow_private_networks lifts this)"
                )


def _describe(found: Reach | None) -> str:
    return "an address no request may go to" if found is None else f"a {_NAMES[found]} address"


_NAMES = {
    Reach.PUBLIC: "public",
    Reach.PRIVATE: "private",
    Reach.LOOPBACK: "loopback",
    Reach.LINK_LOCAL: "link-local",
}
_ALLOWED = {
    Reach.PUBLIC: "public addresses",
    Reach.PRIVATE: "public and private addresses",
    Reach.LOOPBACK: "public, private and loopback addresses",
    Reach.LINK_LOCAL: "any unicast address",
}

_current: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("reach", default=None)


@contextlib.contextmanager
def guarded(guard: Guard) -> Iterator[Guard]:
    """Connections opened in this context (this task) are checked against ``guard``."""
    token = _current.set(guard)
    try:
        yield guard
    finally:
        _current.reset(token)


async def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` stands for, in the resolver's order."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    with contextlib.suppress(ValueError):  # an address as written: no resolver thread needed
        return [str(ipaddress.ip_address(host))]
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting to the resolved address it has checked."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self.inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        guard = _current.get()
        if guard is None or guard.allow_all:
            return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)
        addresses = await resolve(host, port)
        guard.check(host, addresses)
        error: OSError | httpcore.ConnectError | None = None
        for address in addresses:  # each checked above; connected to by number
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (OSError, httpcore.ConnectError) as failed:
                error = failed
        raise error or httpcore.ConnectError(f"no address for {host}")

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress(f"unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)
