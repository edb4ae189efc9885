"""The leaderboard page's chart builders (pure)."""

from __future__ import annotations

from datetime import date

from dashboard.figures import leaderboard as figures
from events.periods import period_of
from incentives.ledger import FairRow
from incentives.period_keys import recent_periods
from incentives.whatif import WhatIfRow


def tr(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def test_trend_has_one_line_per_member_with_gaps() -> None:
    periods = recent_periods(period_of("week", date(2026, 11, 25)), 3)
    figure = figures.trend_figure(
        periods, {"h-1": [None, 5.0, 7.0], "h-2": [1.0, None, 2.0]}, tr, {"h-1": "张伟"}
    )
    assert [trace.name for trace in figure.data] == ["张伟", "h-2"]
    assert list(figure.data[0].x) == ["2026-W46", "2026-W47", "2026-W48"]
    assert list(figure.data[1].y) == [1.0, None, 2.0]
    assert figure.data[0].connectgaps is False


def test_breakdown_stacks_rules_best_total_first_and_skips_empty_rules() -> None:
    figure = figures.breakdown_figure(
        {"h-1": {"decision_on_time": 10, "rework": -2}, "h-2": {"decision_on_time": 20}}, tr
    )
    assert [trace.name for trace in figure.data] == ["decision_on_time", "rework"]
    assert list(figure.data[0].y) == ["h-2", "h-1"]
    assert list(figure.data[0].x) == [20, 10] and list(figure.data[1].x) == [0, -2]
    assert figure.layout.barmode == "relative"


def test_fair_bars_are_green_above_and_red_below_expected() -> None:
    rows = [
        FairRow("h-1", "t", 10, 2, 5, 4, 6, {"claims": 2}),
        FairRow("h-2", "t", 0, 1, 0, 3, -3, {"sales": 1}),
    ]
    figure = figures.fair_figure(rows, tr)
    assert list(figure.data[0].x) == [6, -3]
    assert list(figure.data[0].marker.color) == [figures.UP, figures.DOWN]


def test_whatif_joins_now_and_test_points() -> None:
    rows = [WhatIfRow("h-1", "t", 1, 2, 10, 4), WhatIfRow("h-2", "t", 2, 1, 5, 8)]
    figure = figures.whatif_figure(rows, tr)
    assert [list(trace.x) for trace in figure.data[:2]] == [[10, 4], [5, 8]]
    assert list(figure.data[-1].x) == [4, 8]
    assert list(figure.data[-1].marker.color) == [figures.DOWN, figures.UP]
