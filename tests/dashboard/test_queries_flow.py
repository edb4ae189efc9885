"""The flow page's queries: against Valkey and SQLite fed through the real sinks,
and the pure arithmetic (cumulative flow, bottleneck) on tables."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
import redis

from complaintops.runtime import Runtime
from dashboard.queries import flow
from dashboard.queries.flow import (
    Bottleneck,
    FlowBucket,
    StageTime,
    cumulative_wip,
    find_bottleneck,
    stage_times_from,
    wip_growth,
)
from events.contract import STAGES
from events.timeutil import local_date
from tests.dashboard.desk_data import DAY, HOUR, NOW, SHANGHAI, Feed, Script, make_runtime


def counts(**values: int) -> dict[str, int]:
    return {stage: values.get(stage, 0) for stage in STAGES}


@pytest.fixture
def runtime(
    redis_client: redis.Redis, valkey_url: str, database_url: str, tmp_path: Path
) -> Runtime:
    """On SQLite and on PostgreSQL (skipped when no server answers)."""
    return make_runtime(valkey_url, database_url, tmp_path)


@pytest.fixture
def fed(runtime: Runtime) -> Runtime:
    """Three cases: A and B still open, C reworked (back to intake) and closed."""
    a = Script("A-1").opened(30).stage("investigation", 20).stage("resolution", 5)
    b = Script("B-1").opened(10, team="claims-north", handler="h-007").stage("investigation", 2)
    c = (
        Script("C-1")
        .opened(50)
        .stage("investigation", 40)
        .stage("intake", 30)
        .stage("investigation", 25)
        .add("case.closed", 3, resolution="resolved")
    )
    Feed(runtime).send_scripts([a, b, c])
    return runtime


# -- against the sinks' data ---------------------------------------------------------------


def test_hourly_flow_counts_entries_and_exits_in_the_window(fed: Runtime) -> None:
    buckets = flow.hourly_flow(fed.query, 24, now=NOW)
    assert len(buckets) == 24
    entered = {s: sum(b.entered[s] for b in buckets) for s in STAGES}
    exited = {s: sum(b.exited[s] for b in buckets) for s in STAGES}
    # In the last 24 h: A enters investigation then resolution; B opens and moves on; C closes.
    assert entered == counts(intake=1, investigation=2, resolution=1)
    assert exited == counts(intake=2, investigation=2)


def test_hourly_flow_of_one_team(fed: Runtime) -> None:
    buckets = flow.hourly_flow(fed.query, 24, team="claims-north", now=NOW)
    entered = {s: sum(b.entered[s] for b in buckets) for s in STAGES}
    assert entered == counts(intake=1, investigation=1)


def test_daily_flow_sums_hours_per_local_day(fed: Runtime) -> None:
    days = flow.daily_flow(fed.query, days=30, now=NOW)
    assert len(days) == 30
    assert days[-1].day == local_date(NOW, SHANGHAI) == date(2026, 11, 30)
    by_day = {d.day: d for d in days}
    today, yesterday = date(2026, 11, 30), date(2026, 11, 29)
    # Today (from 00:00): B opened 04:20, A to resolution 09:20, C closed 11:20, B to investigation 12:20.
    assert by_day[today].entered == counts(intake=1, investigation=1, resolution=1)
    assert by_day[today].exited == counts(intake=1, investigation=2)
    # The 28th: C opened 12:20, to investigation 22:20; the 29th: A opened 08:20 as C went
    # back to intake, C to investigation 13:20, A to investigation 18:20.
    assert by_day[date(2026, 11, 28)].entered == counts(intake=1, investigation=1)
    assert by_day[yesterday].entered == counts(intake=2, investigation=2)
    total = sum(sum(d.entered.values()) for d in days)
    assert total == 9  # every stage entry of the three cases


def test_cumulative_flow_ends_at_the_current_wip(fed: Runtime) -> None:
    buckets = flow.hourly_flow(fed.query, 24, now=NOW)
    current = fed.query.overview(now=NOW).wip
    points = cumulative_wip(buckets, current, NOW)
    assert len(points) == 25
    assert points[-1].at == NOW
    assert points[-1].wip == current == counts(investigation=1, resolution=1)
    # At the window's start (15:00 yesterday) A was in intake and C in investigation.
    assert points[0].at == buckets[0].start
    assert points[0].wip == counts(intake=1, investigation=1)
    assert wip_growth(points) == counts(intake=-1, resolution=1)


def test_stage_times_from_the_read_model(fed: Runtime) -> None:
    targets = fed.rules.clocks.stage_targets_hours.as_dict()
    times = {t.stage: t for t in flow.stage_times(fed.query, targets)}
    # Intake left four times: A after 10 h, C after 10 h and 5 h, B after 8 h.
    assert times["intake"].exits == 4
    assert times["intake"].mean_hours == pytest.approx(33 / 4)
    assert times["intake"].target_hours == 24
    assert times["intake"].bins["h24"] == 3  # 8 h to below 24 h
    assert times["intake"].bins["h8"] == 1  # 5 h
    # Investigation: A 15 h, C 10 h and 22 h.
    assert times["investigation"].mean_hours == pytest.approx(47 / 3)
    assert times["review"].exits == 0
    assert times["review"].mean_hours is None
    assert times["review"].target_ratio is None


def test_rework_rate_of_all_cases_and_of_a_cohort(fed: Runtime) -> None:
    everything = flow.rework_rate(fed.engine)
    assert (everything.backward_moves, everything.stage_moves) == (1, 6)
    assert everything.rate == pytest.approx(1 / 6)
    recent = flow.rework_rate(fed.engine, opened_since=NOW - 40 * HOUR)
    assert (recent.backward_moves, recent.stage_moves) == (0, 3)
    north = flow.rework_rate(fed.engine, team="claims-north")
    assert (north.backward_moves, north.stage_moves) == (0, 1)
    nobody = flow.rework_rate(fed.engine, opened_since=NOW + DAY)
    assert nobody.rate is None


# -- pure arithmetic --------------------------------------------------------------------------


def bucket(start: float, entered: dict[str, int], exited: dict[str, int]) -> FlowBucket:
    return FlowBucket(start, entered, exited)


def test_cumulative_wip_walks_back_from_the_current_wip() -> None:
    start = NOW - 2 * HOUR
    buckets = [
        bucket(start, counts(intake=3), counts()),
        bucket(start + HOUR, counts(investigation=2), counts(intake=2)),
    ]
    points = cumulative_wip(buckets, counts(intake=4, investigation=2), NOW)
    assert [p.at for p in points] == [start, start + HOUR, NOW]
    assert [p.wip["intake"] for p in points] == [3, 6, 4]
    assert [p.wip["investigation"] for p in points] == [0, 0, 2]


def test_cumulative_wip_never_shows_negative_cases() -> None:
    buckets = [bucket(NOW - HOUR, counts(review=5), counts())]
    points = cumulative_wip(buckets, counts(review=2), NOW)
    assert points[0].wip["review"] == 0


def test_cumulative_wip_without_buckets_is_the_current_wip() -> None:
    points = cumulative_wip([], counts(feedback=3), NOW)
    assert [(p.at, p.wip["feedback"]) for p in points] == [(NOW, 3)]


def test_sum_by_day_keeps_empty_days_and_drops_hours_outside() -> None:
    first = date(2026, 11, 28)
    hours = [
        bucket(NOW - 3 * DAY, counts(intake=7), counts()),  # 27 Nov: before the range
        bucket(NOW - 2 * DAY, counts(intake=1), counts()),
        bucket(NOW - 2 * DAY + HOUR, counts(intake=2), counts(intake=1)),
    ]
    days = flow.sum_by_day(hours, SHANGHAI, first, 3)
    assert [d.day for d in days] == [first + timedelta(days=i) for i in range(3)]
    assert days[0].entered["intake"] == 3
    assert days[0].exited["intake"] == 1
    assert days[1].entered == counts()


def stage_time(stage: str, mean: float | None, target: float, exits: int = 10) -> StageTime:
    return StageTime(stage, exits if mean is not None else 0, mean, target, {})


def test_bottleneck_is_the_stage_most_over_its_target() -> None:
    times = [
        stage_time("intake", 30, 24),  # 1.25
        stage_time("investigation", 200, 120),  # 1.67
        stage_time("resolution", 50, 96),
    ]
    growth = counts(resolution=9)
    assert find_bottleneck(times, growth) == Bottleneck("investigation", "time", 200 / 120)


def test_bottleneck_equal_ratios_go_to_the_growing_then_the_earlier_stage() -> None:
    times = [stage_time("intake", 48, 24), stage_time("feedback", 96, 48)]
    assert find_bottleneck(times, counts(feedback=2)) == Bottleneck("feedback", "time", 2.0)
    assert find_bottleneck(times, counts()) == Bottleneck("intake", "time", 2.0)


def test_bottleneck_without_a_stage_over_target_is_the_one_that_grew_most() -> None:
    times = [stage_time("intake", 10, 24), stage_time("review", None, 48)]
    growth = counts(intake=-3, resolution=2, review=2)
    assert find_bottleneck(times, growth) == Bottleneck("resolution", "growth", 2.0)


def test_no_bottleneck_when_nothing_is_late_or_growing() -> None:
    times = [stage_time("intake", 24, 24)]  # exactly on target is not over it
    assert find_bottleneck(times, counts(intake=0, review=-1)) is None


def test_stage_times_from_fills_missing_stages_and_bins() -> None:
    raw: dict[str, dict[str, float | dict[str, int]]] = {
        "intake": {"seconds": 7200, "count": 2, "bins": {"h1": 1, "h4": 1}}
    }
    targets = dict.fromkeys(STAGES, 10.0)
    times = stage_times_from(raw, targets)
    assert [t.stage for t in times] == list(STAGES)
    assert times[0].mean_hours == 1.0
    assert times[0].target_ratio == pytest.approx(0.1)
    assert list(times[0].bins) == list(flow.BIN_KEYS)
    assert times[0].bins["h1"] == 1 and times[0].bins["hmax"] == 0
    assert times[1].exits == 0 and times[1].mean_hours is None


@pytest.mark.parametrize(
    ("key", "bounds"), [("h1", (0.0, 1.0)), ("h24", (8.0, 24.0)), ("hmax", (336.0, None))]
)
def test_bin_bounds(key: str, bounds: tuple[float, float | None]) -> None:
    assert flow.bin_bounds(key) == bounds
