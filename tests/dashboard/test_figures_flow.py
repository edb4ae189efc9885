"""Flow page charts as pure functions: traces and values."""

from __future__ import annotations

from datetime import date, datetime

from dashboard.figures import flow as figures
from dashboard.queries.flow import Bottleneck, DailyFlow, FlowBucket, StageTime, WipPoint
from events.contract import STAGES
from tests.dashboard.desk_data import HOUR, NOW, SHANGHAI


def tr(key: str) -> str:
    return f"<{key}>"


def counts(**values: int) -> dict[str, int]:
    return {stage: values.get(stage, 0) for stage in STAGES}


def test_flow_figure_puts_entries_up_and_exits_down() -> None:
    start = NOW - HOUR
    buckets = [FlowBucket(start, counts(intake=3), counts(intake=1, review=2))]
    figure = figures.flow_figure(buckets, tr, SHANGHAI)
    assert len(figure.data) == 12
    by_name = {(t.legendgroup, t.showlegend is not False): t for t in figure.data}
    entered = by_name[("intake", True)]
    exited = by_name[("intake", False)]
    assert entered.name == "<stage.intake>"
    assert list(entered.y) == [3]
    assert list(exited.y) == [-1]
    assert list(by_name[("review", False)].y) == [-2]
    # Times are the business zone's wall clock (Shanghai), without a zone.
    assert entered.x[0] == datetime(2026, 11, 30, 13, 20)
    assert figure.layout.barmode == "relative"
    assert figure.layout.xaxis.tickformat == "<flow.tick_hour>"


def test_flow_figure_by_day_uses_dates() -> None:
    days = [DailyFlow(date(2026, 11, 29), counts(feedback=4), counts())]
    figure = figures.flow_figure(days, tr, SHANGHAI)
    assert figure.data[0].x == ("2026-11-29",)
    assert figure.layout.xaxis.tickformat == "<flow.tick_day>"


def test_cumulative_flow_stacks_every_stage() -> None:
    points = [WipPoint(NOW - HOUR, counts(intake=2)), WipPoint(NOW, counts(intake=1, review=4))]
    figure = figures.cumulative_flow_figure(points, tr, SHANGHAI)
    assert [t.name for t in figure.data] == [f"<stage.{s}>" for s in reversed(STAGES)]
    assert {t.stackgroup for t in figure.data} == {"wip"}
    review, intake = figure.data[0], figure.data[-1]
    assert list(review.y) == [0, 4]
    assert list(intake.y) == [2, 1]


def stage_time(stage: str, mean: float | None, target: float) -> StageTime:
    bins = dict.fromkeys(figures.BIN_KEYS, 0)
    return StageTime(stage, 0 if mean is None else 4, mean, target, bins)


def test_stage_time_figure_highlights_the_bottleneck() -> None:
    times = [stage_time(s, 10.0, 24.0) for s in STAGES]
    times[1] = stage_time("investigation", 300.0, 120.0)
    times[5] = stage_time("review", None, 48.0)
    figure = figures.stage_time_figure(times, Bottleneck("investigation", "time", 2.5), tr)
    bars, targets = figure.data
    assert list(bars.y) == [10.0, 300.0, 10.0, 10.0, 10.0, 0]
    assert bars.text[5] == "—"
    assert bars.marker.color[1] == figures.HIGHLIGHT
    assert bars.marker.color[0] != figures.HIGHLIGHT
    assert list(targets.y) == [24.0, 120.0, 24.0, 24.0, 24.0, 48.0]


def test_stage_time_figure_without_a_bottleneck_highlights_nothing() -> None:
    figure = figures.stage_time_figure([stage_time("intake", 1.0, 24.0)], None, tr)
    assert figures.HIGHLIGHT not in list(figure.data[0].marker.color)


def test_distribution_shows_shares_and_counts() -> None:
    times = [stage_time(s, None, 24.0) for s in STAGES]
    bins = dict.fromkeys(figures.BIN_KEYS, 0)
    bins["h1"], bins["hmax"] = 1, 3
    times[0] = StageTime("intake", 4, 100.0, 24.0, bins)
    figure = figures.stage_time_distribution_figure(times, tr)
    heat = figure.data[0]
    assert heat.z[0][0] == 0.25 and heat.z[0][-1] == 0.75
    assert heat.text[0][0] == "1" and heat.text[0][1] == ""
    assert list(heat.z[1]) == [0] * len(figures.BIN_KEYS)
    assert heat.x[0] == "0–1<desk.unit_h>" and heat.x[-1] == "≥336<desk.unit_h>"
