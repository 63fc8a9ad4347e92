"""Cron lines checked the way the scheduler will read them, without loading the scheduler.

``MIN HOUR DAY MONTH DOW``: each field a comma-separated list of ``*``, ``*/STEP``,
``N``, ``N-M``, ``N/STEP`` or ``N-M/STEP``; months may be named (``jan-mar``), days of
the week too (``mon-fri``), and the day of the month may be ``last``. This follows
APScheduler 3.x's ``CronTrigger.from_crontab`` (``apscheduler/triggers/cron/fields.py``
and ``expressions.py``) rule for rule, quirks included: names are matched from the start
of an expression, so ``jan/2`` is January, as APScheduler reads it; and its day-of-week
numbers run from 0 for Monday to 6 for Sunday, not cron's 0 for Sunday. A test holds
this module to APScheduler's verdict on many generated lines, so a line that loads here
is a line the daemon can schedule. Loading config.toml thus never imports APScheduler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import overload

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names for the values, from ``low``
    last: bool = False  # accepts "last" (the last day of the month)


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day", 1, 31, last=True),
    _Field("month", 1, 12, names=MONTHS),
    _Field("day_of_week", 0, 6, names=WEEKDAYS),
)
_SEPARATOR = re.compile(" *, *")
_ALL = re.compile(r"\*(?:/(?P<step>\d+))?$")
_RANGE = re.compile(r"(?P<first>\d+)(?:-(?P<last>\d+))?(?:/(?P<step>\d+))?$")
# No end anchor, as in APScheduler: what follows a name is ignored ("jan/2" is "jan").
_NAMED = re.compile(r"(?P<first>[a-z]+)(?:-(?P<last>[a-z]+))?", re.IGNORECASE)
_LAST = re.compile(r"last", re.IGNORECASE)


def check_cron(line: str) -> None:
    """Raise ValueError saying what is wrong with ``line``, or return if it can be scheduled."""
    values = line.split()
    if len(values) != 5:
        raise ValueError(f"wrong number of fields; got {len(values)}, expected 5")
    for field, value in zip(FIELDS, values, strict=True):
        for expression in _SEPARATOR.split(value.strip()):
            _check(field, expression)


def _check(field: _Field, expression: str) -> None:
    found = _ALL.match(expression)
    if found:
        _check_step(field, found["step"], field.high - field.low, expression)
        return
    found = _RANGE.match(expression)
    if found:
        _check_range(field, int(found["first"]), found["last"], found["step"], expression)
        return
    if field.last and _LAST.match(expression):
        return
    found = _NAMED.match(expression) if field.names else None
    if found:
        first = _named(field, found["first"], expression)
        last = _named(field, found["last"], expression)
        _check_range(field, first, None if last is None else str(last), None, expression)
        return
    raise ValueError(f"unrecognised expression {expression!r} for field {field.name!r}")


@overload
def _named(field: _Field, name: str, expression: str) -> int: ...
@overload
def _named(field: _Field, name: str | None, expression: str) -> int | None: ...
def _named(field: _Field, name: str | None, expression: str) -> int | None:
    if not name:
        return None
    if name.lower() not in field.names:
        raise ValueError(f"invalid {field.name} name {name!r} in {expression!r}")
    return field.names.index(name.lower()) + field.low


def _check_range(
    field: _Field, first: int, last_text: str | None, step: str | None, expression: str
) -> None:
    last = int(last_text) if last_text is not None else (first if step is None else None)
    if last is not None and first > last:
        raise ValueError(f"{expression!r}: the range starts after it ends")
    if first < field.low:
        raise ValueError(f"{expression!r}: {first} is below the lowest {field.name}, {field.low}")
    if last is not None and last > field.high:
        raise ValueError(f"{expression!r}: {last} is above the highest {field.name}, {field.high}")
    # APScheduler measures the span from the highest value when there is no end, or when the
    # end is 0 ("0-0/5" steps through the whole hour): ``(last or MAX) - first``.
    _check_step(field, step, (last or field.high) - first, expression)


def _check_step(field: _Field, step: str | None, span: int, expression: str) -> None:
    if step is None:
        return
    if int(step) == 0:
        raise ValueError(f"{expression!r}: the step must be more than 0")
    if int(step) > span:
        raise ValueError(f"{expression!r}: the step {step} is longer than the range, {span}")
