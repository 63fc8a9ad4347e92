"""Publication dates that keep the precision their source gave them.

A seed that says ``2023-10`` was published some time in October 2023, not on
October 1st at midnight: the raw string is parsed here, before anything
rounds it, and :class:`~monitor.documents.shapes.Published` carries the precision.

Accepted without help: ISO 8601 / RFC 3339 (``2023``, ``2023-10``,
``2023-10-02``, ``2023-10-02T10:00``, with seconds, fractions, ``Z`` or an
offset) and RFC 822/2822 (``Mon, 02 Oct 2023 10:00:00 GMT``, numeric or US
zones, with or without seconds or time). Anything else falls back to the
value feedparser parsed (``parsed``), trusted to the second. Times without a
zone are taken as UTC, as feedparser does. Only the standard library is used.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from monitor.documents.shapes import Precision, Published

# Older dates are parse errors or placeholders (the Unix epoch, "0000-00-00").
EARLIEST_YEAR = 1990
# Clocks and time zones disagree; a day ahead of our clock is still believable.
FUTURE_TOLERANCE = timedelta(days=1)

# A zone after a bare date (XML Schema's "2023-10-02+02:00") is accepted and
# ignored: a calendar date stays the date written.
_ISO = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?)?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?"
)
_RFC822 = re.compile(
    r"(?:[A-Za-z]{2,9}\.?,?\s*)?(?P<day>\d{1,2})[\s-]+(?P<month>[A-Za-z]{3,9})\.?[\s-]+"
    r"(?P<year>\d{4}|\d{2})"
    r"(?:,?\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.\d+)?)?"
    r"(?:\s*(?P<zone>[+-]\d{4}|[A-Za-z]{1,5}))?)?"
    r"(?:\s*\([^()]*\))?"  # a trailing comment: "-0700 (PDT)"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# RFC 822 names plus the few others that feeds really use; an unknown name
# means the string is not RFC 822 after all and feedparser's reading is used.
_ZONES = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0,
    "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6, "pst": -8, "pdt": -7,
    "cet": 1, "cest": 2, "eet": 2, "eest": 3, "msk": 3,
}  # fmt: skip


def parse_published(raw: str | None, parsed: datetime | None, fetched_at: datetime) -> Published:
    """The publication date, at the precision ``raw`` was written with.

    Absent, unparseable and nonsensical dates (before 1990, or more than a
    day after ``fetched_at``) become the fetch time, with origin "fetched".
    """
    fetched = _as_utc(fetched_at)
    found = _parse_raw(raw.strip()) if raw else None
    if found is None and parsed is not None:
        found = (_as_utc(parsed), "second")
    if found is None or not _plausible(found[0], fetched):
        return Published(format_instant(fetched, "second"), "second", "fetched")
    moment, precision = found
    return Published(format_instant(moment, precision), precision)


def format_instant(moment: datetime, precision: Precision) -> str:
    """ISO 8601 cut to ``precision``; ``moment`` must already be in UTC."""
    if precision == "year":
        return f"{moment.year:04d}"
    if precision == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if precision == "day":
        return moment.strftime("%Y-%m-%d")
    if precision == "minute":
        return moment.strftime("%Y-%m-%dT%H:%MZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_raw(raw: str) -> tuple[datetime, Precision] | None:
    match = _ISO.fullmatch(raw)
    if match is not None:
        return _from_parts(match.groupdict())
    match = _RFC822.fullmatch(raw)
    if match is not None:
        parts = match.groupdict()
        month = _MONTHS.get(parts["month"][:3].lower())
        year = int(parts["year"])
        if month is None:
            return None
        if len(parts["year"]) == 2:  # RFC 2822 section 4.3
            year += 2000 if year < 50 else 1900
        parts.update(year=str(year), month=str(month))
        return _from_parts(parts)
    return None


def _from_parts(parts: dict[str, str | None]) -> tuple[datetime, Precision] | None:
    """A UTC datetime at the start of the period written, and its precision."""
    year, month, day = parts["year"], parts["month"], parts["day"]
    hour, minute, second = parts["hour"], parts["minute"], parts["second"]
    offset = _offset(parts["zone"])
    if year is None or offset is None:
        return None
    try:
        moment = datetime(
            int(year), int(month or 1), int(day or 1),
            int(hour or 0), int(minute or 0), int(second or 0),
            tzinfo=UTC,
        )  # fmt: skip
    except ValueError:  # 2023-02-30, 25:00 and the like
        return None
    if month is None:
        return moment, "year"
    if day is None:
        return moment, "month"
    # A date without a time is a calendar date: it is not moved to UTC.
    if hour is None:
        return moment, "day"
    return moment - offset, "minute" if second is None else "second"


def _offset(zone: str | None) -> timedelta | None:
    if zone is None:
        return timedelta(0)
    if zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 23 or minutes > 59:
            return None
        sign = -1 if zone[0] == "-" else 1
        return sign * timedelta(hours=hours, minutes=minutes)
    named = _ZONES.get(zone.lower())
    return None if named is None else timedelta(hours=named)


def _plausible(moment: datetime, fetched: datetime) -> bool:
    # Coarse dates are compared by the start of their period: "2023" is fine
    # on 31 December 2022 only if that is within the tolerance.
    return moment.year >= EARLIEST_YEAR and moment <= fetched + FUTURE_TOLERANCE


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
