"""Period keys as people type them: ``2026-11-24``, ``2026-W48``, ``2026-11``, ``2026-Q4`` (pure)."""

from __future__ import annotations

import re
from datetime import date

from events.periods import Period, period_of

_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")

PERIOD_KEY_FORMS = "YYYY-MM-DD (day), YYYY-Www (ISO week), YYYY-MM (month) or YYYY-Qn (quarter)"


def parse_period_key(text: str) -> Period:
    """The period a key names; ValueError naming the accepted forms otherwise."""
    key = text.strip().upper()
    try:
        if match := _DAY.match(key):
            return period_of("day", date.fromisoformat(key))
        if match := _WEEK.match(key):
            year, week = int(match[1]), int(match[2])
            return period_of("week", date.fromisocalendar(year, week, 1))
        if match := _MONTH.match(key):
            return period_of("month", date(int(match[1]), int(match[2]), 1))
        if match := _QUARTER.match(key):
            return period_of("quarter", date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1))
    except ValueError:
        raise ValueError(f"no such period '{text}': use {PERIOD_KEY_FORMS}") from None
    raise ValueError(f"not a period key '{text}': use {PERIOD_KEY_FORMS}")


def recent_periods(period: Period, count: int) -> list[Period]:
    """``count`` periods ending with ``period``, oldest first."""
    periods = [period]
    while len(periods) < count:
        periods.append(periods[-1].previous())
    return list(reversed(periods))
