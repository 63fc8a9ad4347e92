"""The value types config keys share, each validated with a message that says what was expected.

Names of feeds, rules and channels; environment variable names; http(s) URLs; durations
(``15m``) and sizes (``10MB``); digest schedules, quiet hours, queries and listen
addresses. Every section is a frozen model that forbids unknown keys.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from monitor.config.digest_schedules import parse_quiet_hours, parse_schedule
from monitor.config.durations import parse_duration, parse_size
from monitor.errors import QueryError
from monitor.rules.query import parse_query

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name: use letters, digits, '.', '_' or '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return value


def _check_env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _check_http_url(value: str) -> str:
    if not re.match(r"https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value


def _check_schedule(value: str) -> str:
    parse_schedule(value)
    return value


def _check_quiet_hours(value: str) -> str:
    parse_quiet_hours(value)
    return value


def _check_listen(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r}: expected HOST:PORT, e.g. '127.0.0.1:8089'")
    return value


def _check_query(value: str) -> str:
    try:
        parse_query(value)
    except QueryError as error:
        raise ValueError(str(error)) from None
    return value


Name = Annotated[str, AfterValidator(_check_name)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]
Schedule = Annotated[str, AfterValidator(_check_schedule)]
Query = Annotated[str, AfterValidator(_check_query)]
QuietHoursText = Annotated[str, AfterValidator(_check_quiet_hours)]
Listen = Annotated[str, AfterValidator(_check_listen)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def within(base_dir: Path, value: Path) -> Path:
    """``value`` taken relative to ``base_dir`` (the config file's folder) unless absolute."""
    return value if value.is_absolute() else base_dir / value
