"""Cron lines are checked without APScheduler, and the check agrees with APScheduler.

Loading config.toml must not import the scheduler (monitor/config/cron.py says why), but
a line that loads must be one the daemon can schedule, and a line the scheduler refuses
must be refused at load time with its key. Generated lines hold the two to one verdict.
"""

from __future__ import annotations

import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from monitor.config.cron import check_cron
from monitor.config.digest_schedules import parse_schedule

# Mostly values some field accepts, sometimes one no field does.
NUMBER = st.one_of(st.integers(0, 31), st.integers(0, 70)).map(str)
NAME = st.sampled_from(["jan", "Dec", "mar", "mon", "FRI", "sun", "last", "foo", "lastx", "may"])
ATOM = st.one_of(
    st.just("*"),
    st.builds("*/{}".format, NUMBER),
    NUMBER,
    st.builds("{}-{}".format, NUMBER, NUMBER),
    st.builds("{}/{}".format, NUMBER, NUMBER),
    st.builds("{}-{}/{}".format, NUMBER, NUMBER, NUMBER),
    NAME,
    st.builds("{}-{}".format, NAME, NAME),
    st.builds("{}/{}".format, NAME, NUMBER),
    st.builds("{}-{}".format, NAME, NUMBER),
    st.text(alphabet="0123456789*/-,?aeLx", min_size=1, max_size=6),
)
FIELD = st.one_of(ATOM, st.lists(ATOM, min_size=2, max_size=3).map(",".join))
# Five fields nearly always: a wrong count is refused before any field is read.
LINE = st.one_of(
    st.lists(FIELD, min_size=5, max_size=5),
    st.lists(FIELD, min_size=5, max_size=5),
    st.lists(FIELD, min_size=5, max_size=5),
    st.lists(FIELD, min_size=4, max_size=6),
).map(" ".join)


@st.composite
def one_field(draw: st.DrawFn) -> str:
    """A line whose other fields are "*": each expression judged on its own."""
    fields = ["*"] * 5
    fields[draw(st.integers(0, 4))] = draw(FIELD)
    return " ".join(fields)


def apscheduler_accepts(line: str) -> bool:
    try:
        CronTrigger.from_crontab(line, timezone=ZoneInfo("UTC"))
    except Exception:
        return False
    return True


def ours_accept(line: str) -> bool:
    try:
        check_cron(line)
    except ValueError:
        return False
    return True


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINE)
@example("*/15 6-22 * * mon-fri")
@example("0 0-0/5 * * *")  # APScheduler spans "0-0/5" as the whole hour
@example("0 9 last jan/2 sun")  # names are read from the start: "jan/2" is January
@example("0 9 * * 7")  # APScheduler's weeks run 0 (Monday) to 6
@example("61 * * * *")
@example("0 0 1 dec-jan *")
def test_the_check_gives_the_schedulers_verdict(line: str) -> None:
    assert ours_accept(line) == apscheduler_accepts(line), line


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_field())
def test_the_check_gives_the_schedulers_verdict_on_every_field(line: str) -> None:
    assert ours_accept(line) == apscheduler_accepts(line), line


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("61 * * * *", "61 is above the highest minute, 59"),
        ("* * 0 * *", "0 is below the lowest day, 1"),
        ("*/0 * * * *", "the step must be more than 0"),
        ("0 0 * foo *", "invalid month name 'foo'"),
        ("0 9 * * 5-2", "the range starts after it ends"),
        ("0 */30 * * *", "the step 30 is longer than the range, 23"),
    ],
)
def test_a_refused_line_says_why(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_schedule(line)


def test_loading_the_configuration_imports_no_scheduler() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from monitor.config.settings import settings_from_dict\n"
        "settings_from_dict({'rules': [{'name': 'r', 'query': 'Armenia', "
        "'schedule': '*/15 6-22 * * mon-fri Europe/Warsaw'}]}, source='t', base_dir=Path())\n"
        "print(sorted(m for m in sys.modules if m.startswith('apscheduler')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
