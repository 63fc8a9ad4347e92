"""Who can reach the web application: loopback addresses, and the rule that anything
else needs a token (no heavy imports: the start-up checks use it)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

TOKEN_ENV = "MONITOR_WEB_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


def exposure_problems(
    where: tuple[str, str] | None, env: Mapping[str, str], source: str
) -> list[str]:
    """Beyond loopback, only with a token: anyone who reaches the port could edit rules."""
    if where is None:
        return []
    listen, key = where
    host, _ = split_listen(listen)
    if is_loopback(host) or env.get(TOKEN_ENV):
        return []
    return [
        f"{source}: {key} = {listen!r}: listening beyond loopback needs {TOKEN_ENV} set "
        "(every API call and the console then ask for it)"
    ]
