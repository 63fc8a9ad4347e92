"""Secrets from the environment: ``*_env`` keys and ``${NAME}`` in header values.

config.toml names variables and never holds their values, so it can be
committed and shared. A variable that is named but not set is a
configuration error reported at start-up with the key that names it, not a
failed delivery at 8 a.m. Values are never logged: :func:`values` hands them to the
log's redaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from monitor.config.redaction import url_secrets
from monitor.config.settings import Settings

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def references(value: str) -> list[str]:
    """The variables ``value`` refers to as ``${NAME}``."""
    return _REFERENCE.findall(value)


def expand(value: str, env: Mapping[str, str]) -> str:
    """``value`` with every ``${NAME}`` replaced by its value (KeyError when one is unset)."""
    return _REFERENCE.sub(lambda found: env[found.group(1)], value)


def expand_headers(headers: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    return {name: expand(value, env) for name, value in headers.items()}


def missing(settings: Settings, env: Mapping[str, str], source: str) -> list[str]:
    """One line per variable the configuration names that the environment does not set.

    A variable is named by any key ending in ``_env`` and by ``${NAME}`` in a ``headers``
    value, in whichever section has them: a new channel type's secrets are checked too.
    """
    sections = [
        *((f"feeds[{index}]", feed) for index, feed in enumerate(settings.feeds)),
        *((f"channels[{index}]", channel) for index, channel in enumerate(settings.channels)),
    ]
    problems = []
    for where, section in sections:
        for key in type(section).model_fields:
            variable = getattr(section, key)
            if key.endswith("_env") and variable is not None and not env.get(variable):
                problems.append(_unset(source, f"{where}.{key}", variable))
        for header, value in getattr(section, "headers", {}).items():
            for name in references(value):
                if name not in env:
                    problems.append(_unset(source, f"{where}.headers.{header}", name))
    return problems


def _unset(source: str, key: str, name: str) -> str:
    return f"{source}: {key}: the environment variable {name} is not set"


# What splits an Apprise URL into the pieces that may be tokens (Slack's three, Telegram's
# bot token, Discord's webhook id and token, a password).
_URL_PIECES = re.compile(r"[/:@?&=,;#\s]+")
_MIN_PIECE = 8  # shorter pieces are ports, chat ids, words of a path


def values(settings: Settings, env: Mapping[str, str]) -> set[str]:
    """Every secret value this configuration uses, for the logs to mask (see
    ``monitor/config/redaction.py``): what ``*_env`` keys and ``${NAME}`` in headers take
    from ``env``, the token-like pieces of URLs held in such variables, and the passwords
    and token parameters written in feed and channel URLs themselves."""
    found: set[str] = set()
    for section in (*settings.feeds, *settings.channels):
        url = getattr(section, "url", None)
        if isinstance(url, str):
            found |= url_secrets(url)
        for key in type(section).model_fields:
            variable = getattr(section, key)
            if key.endswith("_env") and isinstance(variable, str) and env.get(variable):
                found |= _secret_and_pieces(env[variable])
        for value in getattr(section, "headers", {}).values():
            found.update(env[name] for name in references(value) if env.get(name))
    return found


def _secret_and_pieces(value: str) -> set[str]:
    found = {value.strip()}
    for url in value.replace(",", " ").split():
        found.add(url)
        found |= url_secrets(url)
        rest = url.partition("://")[2]
        found.update(piece for piece in _URL_PIECES.split(rest) if len(piece) >= _MIN_PIECE)
    return found
