"""Ranking periods in the business time zone (pure).

day; ISO week (Monday to Sunday); month; quarter. A period is named by a
key such as ``2026-11-24``, ``2026-W48``, ``2026-11`` or ``2026-Q4``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

PERIODS: tuple[str, ...] = ("day", "week", "month", "quarter")


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    start: date  # first day
    end: date  # last day (inclusive)

    @property
    def key(self) -> str:
        if self.kind == "day":
            return self.start.isoformat()
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    def previous(self) -> Period:
        return period_of(self.kind, self.start - timedelta(days=1))


def period_of(kind: str, day: date) -> Period:
    """The period of ``kind`` containing ``day``."""
    if kind == "day":
        return Period(kind, day, day)
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        return Period(kind, start, start + timedelta(days=6))
    if kind == "month":
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return Period(kind, start, following - timedelta(days=1))
    if kind == "quarter":
        first_month = (day.month - 1) // 3 * 3 + 1
        start = date(day.year, first_month, 1)
        following = (
            date(day.year + 1, 1, 1) if first_month == 10 else date(day.year, first_month + 3, 1)
        )
        return Period(kind, start, following - timedelta(days=1))
    raise ValueError(f"unknown period '{kind}': use one of {', '.join(PERIODS)}")


@lru_cache(maxsize=4096)
def periods_of_day(day: date) -> tuple[Period, ...]:
    return tuple(period_of(kind, day) for kind in PERIODS)
