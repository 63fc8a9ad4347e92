"""One exception tree for the whole daemon.

    MonitorError                      anything the daemon raises on purpose
    ├── ConfigError                   config.toml is unreadable or invalid (exit 2)
    ├── UsageError                    a command line that cannot be carried out (exit 2)
    ├── StoreError                    the event log or a projection cannot be used (exit 1)
    │   └── ConcurrencyError          an append lost a race: (stream, version) is taken
    ├── SourceError                   a source could not deliver documents
    │   ├── FetchError                HTTP fetch failed (category: dns, connect, tls, timeout,
    │   │                             redirect, http, too_large, protocol, blocked)
    │   ├── FeedMalformed             the bytes are not a usable feed (category: malformed)
    │   └── SeedError                 a seed file is unreadable, undecodable or malformed
    └── QueryError                    a watch-rule query does not parse (position, expected)

Failures of a single source are never fatal to the daemon: the poll that met
them records them as events and moves on.
"""

from __future__ import annotations

from typing import Any


class MonitorError(Exception):
    """Base class of every error the daemon raises on purpose."""


class ConfigError(MonitorError):
    """Invalid configuration; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class UsageError(MonitorError):
    """A command that cannot be carried out as given."""


class StoreError(MonitorError):
    """The event store or a projection cannot be used."""


class ConcurrencyError(StoreError):
    """Another writer appended to the stream first."""

    def __init__(self, stream: str, version: int) -> None:
        self.stream = stream
        self.version = version
        super().__init__(f"stream {stream!r} already has version {version}")


class SourceError(MonitorError):
    """A source could not deliver documents; ``category`` says why in one word."""

    category: str = "error"

    def __init__(self, message: str, *, category: str | None = None) -> None:
        if category is not None:
            self.category = category
        self.message = message
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only arguments do not survive the default pickling of exceptions, and these
        # cross the process pool that parses feeds.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[SourceError], message: str, state: dict[str, Any]) -> SourceError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class FetchError(SourceError):
    """An HTTP fetch failed before a usable response arrived."""

    def __init__(
        self,
        message: str,
        *,
        category: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        # Seconds the server asked us to wait (429/503 Retry-After), when it did.
        self.retry_after = retry_after
        super().__init__(message, category=category)


class FeedMalformed(SourceError):
    """The response is not a feed we can read any entry from."""

    category = "malformed"


class SeedError(SourceError):
    """A seed file could not be read."""


class QueryError(MonitorError):
    """A query that does not parse."""

    def __init__(self, message: str, *, position: int) -> None:
        self.position = position
        super().__init__(message)


def causes(exc: BaseException) -> list[BaseException]:
    """The exception, what it wraps (httpcore passes the OSError as an argument) and its causes."""
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(found) < 16:  # bounded: chains can be cyclic
        current = pending.pop()
        if any(current is seen for seen in found):
            continue
        found.append(current)
        pending.extend(arg for arg in current.args if isinstance(arg, BaseException))
        pending.extend(c for c in (current.__cause__, current.__context__) if c is not None)
    return found
