"""The analytics page's data (投诉人画像 and case analysis), from the SQL store.

Complaints opened in a date range (local dates of the business time zone,
both ends included), optionally of one team (the case's current team),
broken down by one attribute at a time, and trends by ISO week. The
complainant's profile is the coded one of the contract (gender, age band,
repeat complainant); the free-text occupation is never read.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from events.timeutil import local_date, start_of_local_day
from store.models import Case
from store.types import from_epoch

UNKNOWN: Final = "unknown"
"""The value shown for a case without the attribute (e.g. no age band given)."""

DIMENSIONS: Final[dict[str, InstrumentedAttribute[Any]]] = {
    "channel": Case.channel,
    "category": Case.category,
    "product_line": Case.product_line,
    "priority": Case.priority,
    "gender": Case.gender,
    "age_band": Case.age_band,
    "repeat": Case.repeat_complainant,
    "outcome": Case.outcome,
    "resolution": Case.resolution,
    "satisfaction": Case.first_satisfaction,
    "status": Case.status,
}
"""The attributes complaints can be broken down by (name -> column)."""

# Values in the order they are shown; values not listed follow, sorted.
VALUE_ORDER: Final[dict[str, tuple[str, ...]]] = {
    "channel": ("phone", "online", "email", "letter", "visit", "app", "regulator_referral"),
    "category": ("claims", "sales", "surrender", "premium", "policy_service", "other"),
    "product_line": ("auto", "property", "life", "health", "accident", "other"),
    "priority": ("normal", "urgent", "major"),
    "gender": ("f", "m", "u"),
    "age_band": ("<30", "30-44", "45-59", "60+"),
    "repeat": ("true", "false"),
    "outcome": ("upheld", "partially_upheld", "rejected"),
    "resolution": ("resolved", "withdrawn", "merged", "unresolved"),
    "satisfaction": ("5", "4", "3", "2", "1"),
    "status": ("open", "closed"),
}
DEFAULT_WEEKS: Final = 12


@dataclass(frozen=True, slots=True)
class AnalyticsFilter:
    """Cases opened from ``start`` to ``end`` (local dates, inclusive), of ``team``."""

    start: date
    end: date
    team: str | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"the range ends ({self.end}) before it starts ({self.start})")


def default_filter(now: float, tz: ZoneInfo, team: str | None = None) -> AnalyticsFilter:
    """The current ISO week and the ``DEFAULT_WEEKS`` full weeks before it."""
    today = local_date(now, tz)
    monday = today - timedelta(days=today.weekday())
    return AnalyticsFilter(monday - timedelta(weeks=DEFAULT_WEEKS), today, team)


def _conditions(flt: AnalyticsFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    low = from_epoch(start_of_local_day(flt.start, tz))
    high = from_epoch(start_of_local_day(flt.end + timedelta(days=1), tz))
    out = [Case.opened_at >= low, Case.opened_at < high]
    if flt.team:
        out.append(Case.team_id == flt.team)
    return out


def value_key(value: Any) -> str:
    """The text key of an attribute value (None -> "unknown", booleans -> "true"/"false")."""
    if value is None:
        return UNKNOWN
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def ordered_keys(dimension: str, keys: set[str]) -> list[str]:
    known = [k for k in VALUE_ORDER.get(dimension, ()) if k in keys]
    rest = sorted(k for k in keys if k not in known and k != UNKNOWN)
    return known + rest + ([UNKNOWN] if UNKNOWN in keys else [])


@dataclass(frozen=True, slots=True)
class BreakdownRow:
    value: str
    cases: int
    share: float
    satisfaction: float | None  # mean first satisfaction (1-5) of the rated cases
    rated: int


def breakdown(
    session: Session, dimension: str, flt: AnalyticsFilter, tz: ZoneInfo
) -> list[BreakdownRow]:
    """Cases per value of ``dimension``, with their share and mean satisfaction."""
    column = DIMENSIONS[dimension]
    query = (
        select(
            column,
            func.count(),
            func.count(Case.first_satisfaction),
            func.sum(Case.first_satisfaction),
        )
        .where(*_conditions(flt, tz))
        .group_by(column)
    )
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for value, cases, rated, rating_sum in session.execute(query):
        row = totals[value_key(value)]
        row[0] += int(cases)
        row[1] += int(rated)
        row[2] += int(rating_sum or 0)
    grand = sum(row[0] for row in totals.values())
    return [
        BreakdownRow(
            value=key,
            cases=totals[key][0],
            share=totals[key][0] / grand if grand else 0.0,
            satisfaction=totals[key][2] / totals[key][1] if totals[key][1] else None,
            rated=totals[key][1],
        )
        for key in ordered_keys(dimension, set(totals))
    ]


# -- weekly trends ---------------------------------------------------------------------------


def iso_week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def weeks_between(start: date, end: date) -> list[str]:
    """ISO week keys from the week of ``start`` to the week of ``end``."""
    monday = start - timedelta(days=start.weekday())
    out = []
    while monday <= end:
        out.append(iso_week_key(monday))
        monday += timedelta(weeks=1)
    return out


@dataclass(frozen=True, slots=True)
class WeeklyTrend:
    """Cases opened per ISO week, split by the values of ``dimension``."""

    dimension: str
    weeks: list[str]
    values: list[str]
    counts: dict[str, dict[str, int]]  # value -> week -> cases
    totals: dict[str, int]  # week -> cases
    satisfaction: dict[str, float | None]  # week -> mean first satisfaction


def weekly_trend(
    session: Session, flt: AnalyticsFilter, tz: ZoneInfo, dimension: str = "category"
) -> WeeklyTrend:
    column = DIMENSIONS[dimension]
    query = select(Case.opened_at, column, Case.first_satisfaction).where(*_conditions(flt, tz))
    weeks = weeks_between(flt.start, flt.end)
    by_value: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    ratings: dict[str, list[int]] = defaultdict(list)
    for opened_at, value, satisfaction in session.execute(query):
        week = iso_week_key(opened_at.astimezone(tz).date())
        by_value[value_key(value)][week] += 1
        totals[week] += 1
        if satisfaction is not None:
            ratings[week].append(int(satisfaction))
    values = ordered_keys(dimension, set(by_value))
    return WeeklyTrend(
        dimension=dimension,
        weeks=weeks,
        values=values,
        counts={v: {w: by_value[v][w] for w in weeks} for v in values},
        totals={w: totals[w] for w in weeks},
        satisfaction={
            w: (sum(ratings[w]) / len(ratings[w]) if ratings[w] else None) for w in weeks
        },
    )


# -- headline figures ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Headline:
    cases: int
    closed: int
    rated: int
    satisfaction: float | None
    repeat_share: float | None  # among cases whose complainant says whether they complained before
    regulator_share: float


def headline(session: Session, flt: AnalyticsFilter, tz: ZoneInfo) -> Headline:
    conditions = _conditions(flt, tz)
    row = session.execute(
        select(
            func.count(),
            func.count(Case.closed_at),
            func.count(Case.first_satisfaction),
            func.avg(Case.first_satisfaction),
            func.count(Case.repeat_complainant),
            func.count().filter(Case.repeat_complainant.is_(True)),
            func.count().filter(Case.escalated_to == "regulator"),
        ).where(*conditions)
    ).one()
    cases, closed, rated, mean, known_repeat, repeat, regulator = row
    return Headline(
        cases=int(cases),
        closed=int(closed),
        rated=int(rated),
        satisfaction=float(mean) if mean is not None else None,
        repeat_share=int(repeat) / int(known_repeat) if known_repeat else None,
        regulator_share=int(regulator) / int(cases) if cases else 0.0,
    )
