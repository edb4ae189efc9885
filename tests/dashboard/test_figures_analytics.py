"""Analytics page charts as pure functions."""

from __future__ import annotations

from dashboard.figures import analytics as figures
from dashboard.figures.desk_style import MUTED
from dashboard.queries.analytics import BreakdownRow, WeeklyTrend


def tr(key: str) -> str:
    return f"<{key}>"


def test_breakdown_figure_labels_values_and_shares() -> None:
    rows = [BreakdownRow("phone", 3, 0.75, 4.0, 2), BreakdownRow("unknown", 1, 0.25, None, 0)]
    bar = figures.breakdown_figure(rows, "channel", tr).data[0]
    assert list(bar.y) == ["<channel.phone>", "<analytics.unknown>"]
    assert list(bar.x) == [3, 1]
    assert list(bar.text) == ["3 · 75%", "1 · 25%"]
    assert bar.marker.color[1] == MUTED


def test_satisfaction_values_are_stars() -> None:
    assert figures.value_label("satisfaction", "5", tr) == "5 ★"
    assert figures.value_label("gender", "f", tr) == "<gender.f>"
    assert figures.value_label("gender", "unknown", tr) == "<analytics.unknown>"
    assert figures.value_label("outcome", "unknown", tr) == "<analytics.none_yet>"


def test_weekly_trend_stacks_values_and_draws_satisfaction() -> None:
    trend = WeeklyTrend(
        dimension="category",
        weeks=["2026-W47", "2026-W48"],
        values=["claims", "sales"],
        counts={"claims": {"2026-W47": 2, "2026-W48": 0}, "sales": {"2026-W47": 1, "2026-W48": 4}},
        totals={"2026-W47": 3, "2026-W48": 4},
        satisfaction={"2026-W47": None, "2026-W48": 3.5},
    )
    figure = figures.weekly_trend_figure(trend, tr)
    claims, sales, line = figure.data
    assert claims.name == "<category.claims>" and list(claims.y) == [2, 0]
    assert list(sales.y) == [1, 4]
    assert line.yaxis == "y2" and list(line.y) == [None, 3.5]
    assert figure.layout.barmode == "stack"
    assert list(claims.x) == ["2026-W47", "2026-W48"]
