"""Digest schedules as written in rules: when a rule's digest is due.

``immediate`` | ``hourly`` | ``daily HH:MM [TZ]`` | ``weekly DAY HH:MM [TZ]``
| a five-field cron line, optionally followed by a timezone. Without a
timezone a schedule runs in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config.cron import check_cron

Kind = Literal["immediate", "hourly", "daily", "weekly", "cron"]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_CRON_FIELD = re.compile(r"[\d*/,\-A-Za-z?]+")


@dataclass(frozen=True, slots=True)
class Schedule:
    kind: Kind
    timezone: str = "UTC"
    hour: int = 0
    minute: int = 0
    weekday: int = 0  # 0 = Monday
    cron: str = ""


def parse_schedule(text: str) -> Schedule:
    """Parse ``text``; raises ValueError saying what was expected."""
    words = text.split()
    if not words:
        raise ValueError("empty schedule")
    head = words[0].lower()
    if head in ("immediate", "hourly"):
        if len(words) > 1:
            raise ValueError(f"{head!r} takes nothing after it")
        return Schedule(kind=head)  # type: ignore[arg-type]
    if head == "daily":
        return _at_time("daily", words[1:], text)
    if head == "weekly":
        if len(words) < 3:
            raise ValueError(f"{text!r}: expected 'weekly DAY HH:MM [TIMEZONE]'")
        day = words[1].lower()[:3]
        if day not in DAYS:
            raise ValueError(f"{words[1]!r} is not a day of the week (mon … sun)")
        schedule = _at_time("weekly", words[2:], text)
        return Schedule(
            "weekly", schedule.timezone, schedule.hour, schedule.minute, DAYS.index(day)
        )
    if len(words) in (5, 6) and all(_CRON_FIELD.fullmatch(w) for w in words[:5]):
        zone = _zone(words[5]) if len(words) == 6 else "UTC"
        _check_cron(" ".join(words[:5]))
        return Schedule("cron", zone, cron=" ".join(words[:5]))
    raise ValueError(
        f"{text!r}: expected 'immediate', 'hourly', 'daily HH:MM [TZ]', "
        "'weekly DAY HH:MM [TZ]' or a cron line 'MIN HOUR DOM MON DOW [TZ]'"
    )


def _at_time(kind: Kind, words: list[str], text: str) -> Schedule:
    if not words or len(words) > 2:
        raise ValueError(f"{text!r}: expected '{kind} HH:MM [TIMEZONE]'")
    match = _TIME.fullmatch(words[0])
    if match is None:
        raise ValueError(f"{words[0]!r} is not a time of day (HH:MM, 00:00 to 23:59)")
    zone = _zone(words[1]) if len(words) == 2 else "UTC"
    return Schedule(kind, zone, int(match.group(1)), int(match.group(2)))


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known timezone (e.g. 'Europe/Warsaw')") from None
    return name


def _check_cron(expression: str) -> None:
    try:
        check_cron(expression)
    except ValueError as error:
        raise ValueError(f"{expression!r} is not a valid cron line: {error}") from None


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A daily window (in a timezone) when a channel's immediate alerts wait."""

    start: int  # minutes after midnight, local time
    end: int
    timezone: str = "UTC"

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.timezone))

    def active_at(self, moment: datetime) -> bool:
        local = self._local(moment)
        minute = local.hour * 60 + local.minute
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end  # across midnight: 22:00-07:00

    def ends_after(self, moment: datetime) -> datetime:
        """The first moment after ``moment`` when the window is over (as an aware UTC time)."""
        local = self._local(moment)
        zone = ZoneInfo(self.timezone)
        for days in range(0, 3):
            day = (local + timedelta(days=days)).date()
            end = datetime.combine(day, time(self.end // 60, self.end % 60), tzinfo=zone)
            # A wall-clock time that a DST change skips resolves forward (fold semantics).
            end = end.astimezone(UTC).astimezone(zone)
            if end > local:
                return end.astimezone(UTC)
        raise AssertionError("a daily window always ends within two days")


def parse_quiet_hours(text: str) -> QuietHours:
    """``"22:00-07:00 Europe/Warsaw"`` (timezone optional, UTC without one)."""
    words = text.split()
    if not words or len(words) > 2 or "-" not in words[0]:
        raise ValueError(
            f"{text!r}: expected 'HH:MM-HH:MM [TIMEZONE]', e.g. '22:00-07:00 Europe/Warsaw'"
        )
    first, _, second = words[0].partition("-")
    bounds = []
    for part in (first, second):
        match = _TIME.fullmatch(part)
        if match is None:
            raise ValueError(f"{part!r} is not a time of day (HH:MM, 00:00 to 23:59)")
        bounds.append(int(match.group(1)) * 60 + int(match.group(2)))
    if bounds[0] == bounds[1]:
        raise ValueError(f"{text!r}: the window starts and ends at the same time")
    zone = _zone(words[1]) if len(words) == 2 else "UTC"
    return QuietHours(bounds[0], bounds[1], zone)
