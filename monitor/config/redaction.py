"""Secrets kept out of everything we write: events, status, digests and log lines.

Two means, because secrets come two ways:

- by shape, in URLs: the user info of ``https://user:password@host/`` and the values of
  query parameters whose names carry tokens (``api_key``, ``token``, ``sig``...). A URL is
  *shown* (recorded in an event, printed by ``status``, put in a health alert) only through
  :func:`shown_url`; the request itself still uses the whole URL.
- by value: what the configuration takes from the environment (``*_env`` keys,
  ``${NAME}`` in headers), the pieces of Apprise URLs, the secrets found in feed URLs.
  The shell registers them (:func:`hide`) when it loads a configuration, and every log
  line passes through :func:`scrub` before it is written, whatever library logged it
  and at whatever verbosity.

The event log is append-only: what reaches it can never be taken out, so it never gets
a secret to begin with.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

MASK = "***"
# Query parameters that carry credentials, by name (lowercased, "-" as "_").
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "api_token",
        "auth",
        "auth_token",
        "client_secret",
        "code",
        "key",
        "pass",
        "password",
        "passwd",
        "private_token",
        "secret",
        "session",
        "sessionid",
        "sid",
        "sig",
        "signature",
        "token",
        "x_api_key",
    }
)
MIN_HIDDEN = 4  # a shorter value would mask ordinary words in every line
_USERINFO = re.compile(r"(?<=://)[^/?#@\s]*@")
_PARAM = re.compile(r"(?<=[?&;])([A-Za-z0-9_.-]+)=([^&;#\s\"'<>]*)")
_lock = threading.Lock()
_hidden: tuple[str, ...] = ()


def shown_url(url: str) -> str:
    """``url`` fit to be recorded or shown: no user info, token parameters masked."""
    return _mask_params(_USERINFO.sub("", url))


def _mask_params(text: str) -> str:
    return _PARAM.sub(_masked_param, text)


def _masked_param(found: re.Match[str]) -> str:
    name, value = found.group(1), found.group(2)
    if value and name.lower().replace("-", "_") in SECRET_PARAMS:
        return f"{name}={MASK}"
    return found.group(0)


def url_secrets(url: str) -> set[str]:
    """The secret values written in ``url`` itself: its password and token parameters."""
    found: set[str] = set()
    try:
        parts = urlsplit(url)
        if parts.password:
            found.add(parts.password)
        if parts.username and parts.password:
            found.add(f"{parts.username}:{parts.password}")
        query = parse_qsl(parts.query, keep_blank_values=False)
    except ValueError:
        return found
    found.update(v for k, v in query if k.lower().replace("-", "_") in SECRET_PARAMS)
    return found


def hide(values: Iterable[str]) -> None:
    """From now on, :func:`scrub` masks each of ``values`` (those long enough to be safe)."""
    global _hidden
    with _lock:
        merged = set(_hidden) | {v for v in values if len(v) >= MIN_HIDDEN}
        # Longest first, so that a secret holding another is masked whole.
        _hidden = tuple(sorted(merged, key=lambda v: (-len(v), v)))


def scrub(text: str) -> str:
    """``text`` with every registered secret masked, and URLs shown as :func:`shown_url`."""
    for value in _hidden:
        if value in text:
            text = text.replace(value, MASK)
    if "@" in text:
        text = _USERINFO.sub("", text)
    if "=" in text:
        text = _mask_params(text)
    return text
