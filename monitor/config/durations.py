"""Durations and sizes as people write them in config files: ``15m``, ``1h30m``, ``10MB``."""

from __future__ import annotations

import re

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?", re.IGNORECASE)
_UNIT_BYTES = {
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_duration(value: str | int | float) -> float:
    """Seconds in ``value``: a number of seconds, or units such as ``2s``, ``15m``, ``1h30m``, ``1d``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '15m', '1h' or '1d'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower().replace(" ", "")
        pos, seconds = 0, 0.0
        while pos < len(text):
            part = _DURATION_PART.match(text, pos)
            if part is None:
                raise ValueError(
                    f"{value!r} is not a duration; write e.g. '30s', '15m', '1h30m' or '1d'"
                )
            seconds += float(part.group(1)) * _UNIT_SECONDS[part.group(2)]
            pos = part.end()
        if not text:
            raise ValueError("empty duration; write e.g. '30s', '15m', '1h' or '1d'")
    if seconds <= 0:
        raise ValueError(f"{value!r}: a duration must be greater than zero")
    return seconds


def parse_size(value: str | int) -> int:
    """Bytes in ``value``: a number of bytes or ``512kB``, ``10MB``, ``1MiB``."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as '10MB'")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"{value!r} is not a size; write e.g. '512kB', '10MB' or '1MiB'")
        size = int(float(match.group(1)) * _UNIT_BYTES[(match.group(2) or "b").lower()])
    if size <= 0:
        raise ValueError(f"{value!r}: a size must be greater than zero")
    return size


def format_duration(seconds: float) -> str:
    """The shortest exact form of ``seconds`` for messages and tables (``90`` → ``1m30s``)."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    remaining = round(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if remaining >= size:
            parts.append(f"{remaining // size}{unit}")
            remaining %= size
    return "".join(parts)
