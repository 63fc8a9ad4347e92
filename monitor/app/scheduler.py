"""APScheduler 3.x, kept to this one module: triggers from our schedules, one scheduler.

The scheduler only decides *when*; the event log remains the durable state
(a feed's next poll is derived from its recorded polls, a digest holds what
is pending), so the in-memory job store can be lost at any time without
losing or repeating work.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import TypeAlias
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.config.digest_schedules import DAYS, Schedule

Scheduler: TypeAlias = AsyncIOScheduler


def digest_trigger(schedule: Schedule) -> BaseTrigger | None:
    """When a rule's digest is due; None for ``immediate`` (sent by the cycle that matched)."""
    zone = ZoneInfo(schedule.timezone)
    if schedule.kind == "immediate":
        return None
    if schedule.kind == "hourly":
        return CronTrigger(minute=0, timezone=zone)
    if schedule.kind == "daily":
        return CronTrigger(hour=schedule.hour, minute=schedule.minute, timezone=zone)
    if schedule.kind == "weekly":
        return CronTrigger(
            day_of_week=DAYS[schedule.weekday],
            hour=schedule.hour,
            minute=schedule.minute,
            timezone=zone,
        )
    return CronTrigger.from_crontab(schedule.cron, timezone=zone)


def feed_trigger(interval: float, jitter: float, start: datetime) -> IntervalTrigger:
    """Every ``interval`` seconds from ``start``, each run up to ``jitter`` of it late."""
    return IntervalTrigger(
        seconds=interval,
        start_date=start,
        jitter=max(int(interval * jitter), 0) or None,
        timezone="UTC",
    )


def make_scheduler(misfire_grace: float) -> AsyncIOScheduler:
    return AsyncIOScheduler(
        timezone="UTC",
        job_defaults={
            # A job that fell behind (the machine slept) runs once, not once per missed time.
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": max(int(misfire_grace), 1),
        },
    )


def move_job(scheduler: Scheduler, job_id: str, when: datetime) -> None:
    """Run ``job_id`` next at ``when``; nothing when the job is gone (a reload removed it)."""
    with contextlib.suppress(JobLookupError):
        scheduler.modify_job(job_id, next_run_time=when)
