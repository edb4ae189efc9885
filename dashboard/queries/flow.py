"""The flow page's data: stage entries and exits, work in progress over time,
time in stage against its target, the bottleneck and the rework rate.

Plain functions over the Redis query layer (``MetricsQuery``) and the SQL
store; the arithmetic on their results is pure and unit-tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from events import contract as c
from events.contract import STAGES
from events.timeutil import hour_start, local_date, start_of_local_day
from metrics.delta import STAGE_TIME_BINS_HOURS
from metrics.query import MetricsQuery, ThroughputBucket
from store.models import Case, CaseEventRow
from store.types import from_epoch

HOUR: Final = 3600
WINDOW_HOURS: Final = (24, 72, 168)
"""The hourly windows the page offers."""
DAILY_DAYS: Final = 30
"""Days shown in the daily view (today included)."""

StageCounts = dict[str, int]


@dataclass(frozen=True, slots=True)
class FlowBucket:
    """Entries into and exits from each stage during one period (hour or day)."""

    start: float
    entered: StageCounts
    exited: StageCounts

    @property
    def net(self) -> StageCounts:
        return {stage: self.entered[stage] - self.exited[stage] for stage in STAGES}


@dataclass(frozen=True, slots=True)
class DailyFlow:
    day: date
    entered: StageCounts
    exited: StageCounts


@dataclass(frozen=True, slots=True)
class WipPoint:
    """Open cases per stage at one instant."""

    at: float
    wip: StageCounts


def _bucket(b: ThroughputBucket) -> FlowBucket:
    return FlowBucket(b.start, dict(b.entered), dict(b.exited))


# -- reads ------------------------------------------------------------------------------


def hourly_flow(
    query: MetricsQuery, hours: int, team: str | None = None, now: float | None = None
) -> list[FlowBucket]:
    """Hourly buckets of the last ``hours`` hours, oldest first (the last is the current hour)."""
    return [_bucket(b) for b in query.throughput(hours, now=now, team=team)]


def daily_flow(
    query: MetricsQuery,
    days: int = DAILY_DAYS,
    team: str | None = None,
    now: float | None = None,
) -> list[DailyFlow]:
    """Entries and exits per local day for the last ``days`` days (today included)."""
    now = query.clock() if now is None else now
    first_day = local_date(now, query.tz) - timedelta(days=days - 1)
    first_hour = start_of_local_day(first_day, query.tz)
    hours = int((hour_start(now, query.tz) - first_hour) // HOUR) + 1
    return sum_by_day(hourly_flow(query, hours, team=team, now=now), query.tz, first_day, days)


def sum_by_day(
    buckets: Sequence[FlowBucket], tz: ZoneInfo, first_day: date, days: int
) -> list[DailyFlow]:
    """Hourly buckets summed per local day; every one of ``days`` days appears."""
    entered = {first_day + timedelta(days=i): dict.fromkeys(STAGES, 0) for i in range(days)}
    exited = {day: dict.fromkeys(STAGES, 0) for day in entered}
    for bucket in buckets:
        day = local_date(bucket.start, tz)
        if day not in entered:
            continue
        for stage in STAGES:
            entered[day][stage] += bucket.entered[stage]
            exited[day][stage] += bucket.exited[stage]
    return [DailyFlow(day, entered[day], exited[day]) for day in entered]


# -- cumulative flow ---------------------------------------------------------------------


def cumulative_wip(
    buckets: Sequence[FlowBucket], current_wip: Mapping[str, int], now: float
) -> list[WipPoint]:
    """Work in progress per stage over the buckets' span, derived backwards.

    The last point (at ``now``) is the current WIP; going back, each bucket's
    entries are taken away and its exits added back, so the point at a
    bucket's start is WIP(after it) - entered + exited. There is one point at
    each bucket's start and one at ``now``. A derived value below zero (flows attributed
    to another team before a reassignment) is shown as zero.
    """
    running = {s: int(current_wip.get(s, 0)) for s in STAGES}
    points = [WipPoint(now, _floor_zero(running))]
    for bucket in reversed(buckets):
        net = bucket.net
        running = {s: running[s] - net[s] for s in STAGES}
        points.append(WipPoint(bucket.start, _floor_zero(running)))
    points.reverse()
    return points


def _floor_zero(counts: Mapping[str, int]) -> StageCounts:
    return {s: max(0, counts[s]) for s in STAGES}


def wip_growth(points: Sequence[WipPoint]) -> StageCounts:
    """Change in open cases per stage from the first point to the last."""
    if not points:
        return dict.fromkeys(STAGES, 0)
    first, last = points[0].wip, points[-1].wip
    return {s: last[s] - first[s] for s in STAGES}


# -- time in stage -------------------------------------------------------------------------


BIN_KEYS: Final = (*(f"h{bound:g}" for bound in STAGE_TIME_BINS_HOURS), "hmax")
"""Histogram bins of time in stage, in order: below 1 h, 1-4 h, ..., 336 h and more."""


def bin_bounds(key: str) -> tuple[float, float | None]:
    """Lower and upper bound (hours) of a histogram bin; the last bin has no upper bound."""
    index = BIN_KEYS.index(key)
    low = 0.0 if index == 0 else float(STAGE_TIME_BINS_HOURS[index - 1])
    high = None if key == "hmax" else float(STAGE_TIME_BINS_HOURS[index])
    return low, high


@dataclass(frozen=True, slots=True)
class StageTime:
    """Time spent in one stage by the cases that left it (since the metrics were built)."""

    stage: str
    exits: int
    mean_hours: float | None
    target_hours: float
    bins: dict[str, int]

    @property
    def target_ratio(self) -> float | None:
        """Mean time over target time (above 1: slower than the target)."""
        if self.mean_hours is None:
            return None
        return self.mean_hours / self.target_hours


def stage_times(query: MetricsQuery, targets: Mapping[str, float]) -> list[StageTime]:
    return stage_times_from(query.stage_time(), targets)


StageTimeRaw = Mapping[str, Mapping[str, float | dict[str, int]]]
"""The shape of ``MetricsQuery.stage_time()``."""


def stage_times_from(raw: StageTimeRaw, targets: Mapping[str, float]) -> list[StageTime]:
    """``MetricsQuery.stage_time()`` turned into per-stage means and ordered bins."""
    out = []
    for stage in STAGES:
        row = raw.get(stage, {})
        seconds = _number(row.get("seconds", 0))
        count = int(_number(row.get("count", 0)))
        raw_bins = row.get("bins", {})
        bin_counts = raw_bins if isinstance(raw_bins, dict) else {}
        bins = {key: int(bin_counts.get(key, 0)) for key in BIN_KEYS}
        mean = seconds / count / HOUR if count else None
        out.append(StageTime(stage, count, mean, float(targets[stage]), bins))
    return out


def _number(value: float | dict[str, int] | None) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


# -- the bottleneck ---------------------------------------------------------------------------

BottleneckReason = Literal["time", "growth"]


@dataclass(frozen=True, slots=True)
class Bottleneck:
    """The stage holding the flow back, and why.

    ``reason`` "time": its mean time in stage exceeds its target by the
    largest ratio (``value`` is that ratio); "growth": no stage is over its
    target, and its work in progress grew the most over the window (``value``
    is the growth in cases).
    """

    stage: str
    reason: BottleneckReason
    value: float


def find_bottleneck(times: Sequence[StageTime], growth: Mapping[str, int]) -> Bottleneck | None:
    """The bottleneck stage, by this rule:

    1. Among the stages whose mean time in stage exceeds the target (ratio
       above 1), the one with the largest ratio; equal ratios go to the stage
       whose WIP grew more, then to the earlier stage.
    2. Otherwise, the stage whose WIP grew the most over the window (by at
       least one case); equal growth goes to the earlier stage.
    3. Otherwise there is no bottleneck.
    """
    over = [t for t in times if t.target_ratio is not None and t.target_ratio > 1]
    if over:
        worst = max(
            over,
            key=lambda t: (t.target_ratio, growth.get(t.stage, 0), -c.STAGE_INDEX[t.stage]),
        )
        assert worst.target_ratio is not None
        return Bottleneck(worst.stage, "time", worst.target_ratio)
    grown = [(growth.get(stage, 0), -c.STAGE_INDEX[stage], stage) for stage in STAGES]
    best = max(grown)
    if best[0] >= 1:
        return Bottleneck(best[2], "growth", float(best[0]))
    return None


# -- rework ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReworkRate:
    """Stage moves that went back to an earlier stage, among all stage moves."""

    backward_moves: int
    stage_moves: int

    @property
    def rate(self) -> float | None:
        return self.backward_moves / self.stage_moves if self.stage_moves else None


def rework_rate(
    engine: Engine, opened_since: float | None = None, team: str | None = None
) -> ReworkRate:
    """The rework rate (返工率) of a cohort of cases, from the SQL store.

    The cohort: cases opened at or after ``opened_since`` (all cases when
    None), of ``team`` (their current team) when given. Backward moves are
    the sum of their ``rework_count``; stage moves are their
    ``case.stage_changed`` events.
    """
    conditions = []
    if opened_since is not None:
        conditions.append(Case.opened_at >= from_epoch(opened_since))
    if team is not None:
        conditions.append(Case.team_id == team)
    backward_query = select(func.coalesce(func.sum(Case.rework_count), 0)).where(*conditions)
    moves_query = (
        select(func.count())
        .select_from(CaseEventRow)
        .join(Case, Case.case_id == CaseEventRow.case_id)
        .where(CaseEventRow.type == c.STAGE_CHANGED, *conditions)
    )
    with engine.connect() as connection:
        backward = int(connection.execute(backward_query).scalar_one())
        moves = int(connection.execute(moves_query).scalar_one())
    return ReworkRate(backward, moves)
