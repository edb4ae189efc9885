"""The analytics page: refresh and CSV export as plain functions on real data."""

from __future__ import annotations

import base64
import csv
import io
from datetime import date
from pathlib import Path
from types import ModuleType

import dash
import pytest
import redis

from complaintops.runtime import Runtime
from dashboard.queries.analytics import AnalyticsFilter
from tests.dashboard.desk_data import (
    Feed,
    Script,
    find_component,
    find_ids,
    find_text,
    make_app,
    make_runtime,
)


@pytest.fixture
def runtime(redis_client: redis.Redis, valkey_url: str, sqlite_url: str, tmp_path: Path) -> Runtime:
    runtime = make_runtime(valkey_url, sqlite_url, tmp_path)
    scripts = [
        Script("P-1")
        .opened(5, channel="online", complainant={"gender": "f", "age_band": "<30", "repeat": True})
        .add("case.closed", 2, resolution="resolved", satisfaction=4),
        Script("P-2").opened(30, channel="phone", category="premium"),
        Script("P-3").opened(24 * 8, team="claims-north", handler="h-007", channel="phone"),
    ]
    Feed(runtime).send_scripts(scripts)
    return runtime


@pytest.fixture
def app(runtime: Runtime) -> dash.Dash:
    return make_app(runtime)


@pytest.fixture
def page(app: dash.Dash) -> ModuleType:
    from dashboard.pages import analytics

    return analytics


def test_layout_defaults_to_the_last_twelve_weeks(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/analytics"):
        tree = page.layout(lang="en")
    ids = find_ids(tree)
    assert {"analytics-dates", "analytics-team", "analytics-trend", "analytics-download"} <= ids
    assert all(i.startswith("analytics-") for i in ids)
    dates = find_component(tree, "analytics-dates")
    assert (dates.start_date, dates.end_date) == ("2026-09-07", "2026-11-30")


@pytest.mark.parametrize(
    "query",
    [
        {"start": "2026-12-01", "end": "2026-11-01"},
        {"start": "2099-01-01"},
    ],
    ids=["reversed", "start-in-the-future"],
)
def test_layout_of_a_reversed_range_shows_the_default_and_says_so(
    app: dash.Dash, page: ModuleType, query: dict[str, str]
) -> None:
    with app.server.test_request_context("/analytics"):
        tree = page.layout(lang="en", **query)
    dates = find_component(tree, "analytics-dates")
    assert (dates.start_date, dates.end_date) == ("2026-09-07", "2026-11-30")
    notice = find_component(tree, "analytics-range-error")
    assert find_text(notice) == "The end date is before the start date."


@pytest.mark.parametrize(
    ("start", "end"),
    [("0001-01-01", "9999-12-31"), ("1969-12-31", "9000-01-01"), ("2026-W40-1", "٢٠٢٦-١١-٣٠")],
)
def test_dates_out_of_range_or_malformed_take_the_defaults(
    app: dash.Dash, page: ModuleType, runtime: Runtime, start: str, end: str
) -> None:
    with app.server.test_request_context("/analytics?lang=en"):
        tree = page.layout(lang="en", start=start, end=end)
        result = page.refresh(start, end, None, "category")
        download = page.export_for("channel", start, end, None, "category")
    dates = find_component(tree, "analytics-dates")
    assert (dates.start_date, dates.end_date) == ("2026-09-07", "2026-11-30")
    assert find_component(tree, "analytics-range-error").children is None
    assert result[-1] is None
    assert find_text(result[0]).startswith("Opened 3")
    assert download["filename"].endswith(".csv")


def test_refresh(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=zh"):
        result = page.refresh("2026-11-01", "2026-11-30", None, "channel")
    kpis, trend, trend_table, *rest = result
    charts, tables, error = rest[:10], rest[10:20], rest[20]
    assert error is None
    tiles = {tile.id: find_text(tile) for tile in kpis}
    assert tiles["analytics-kpi-cases"].startswith("立案 3")
    assert tiles["analytics-kpi-satisfaction"] == "平均满意度（1–5） 4.00"
    assert tiles["analytics-kpi-repeat"] == "重复投诉占比 100.0%"
    channel_chart = charts[page.BREAKDOWNS.index("channel")]
    assert list(channel_chart.data[0].y) == ["电话", "网络"]
    assert list(channel_chart.data[0].x) == [2, 1]
    channel_table = find_text(tables[page.BREAKDOWNS.index("channel")])
    assert "电话 2 66.7% 0 —" in channel_table
    assert [t.name for t in trend.data][:2] == ["电话", "网络"]
    assert "2026-W49" in find_text(trend_table)


def test_refresh_for_one_team(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=en"):
        kpis, *_rest = page.refresh("2026-11-01", "2026-11-30", "claims-north", "category")
    assert find_text(kpis[0]).startswith("Opened 1")


def test_refresh_refuses_a_reversed_range(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=en"):
        result = page.refresh("2026-11-30", "2026-11-01", None, "category")
    assert result[0] == []
    assert find_text(result[-1]) == "The end date is before the start date."


def test_breakdown_csv(app: dash.Dash, page: ModuleType, runtime: Runtime) -> None:
    flt = AnalyticsFilter(date(2026, 11, 1), date(2026, 11, 30))
    with app.server.test_request_context("/?lang=zh"):
        payload = page.table_csv(runtime, "zh", "age_band", flt, "category")
    assert payload["filename"].startswith("投诉人年龄段-20261101-20261130-")
    raw = base64.b64decode(payload["content"])
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows == [
        ["投诉人年龄段", "案件数", "占比", "已评价", "平均满意度"],
        ["30岁以下", "1", "0.3333", "1", "4"],
        ["未提供", "2", "0.6667", "0", ""],
    ]


def test_trend_csv_of_one_team(app: dash.Dash, page: ModuleType, runtime: Runtime) -> None:
    flt = AnalyticsFilter(date(2026, 11, 16), date(2026, 11, 30), team="claims-north")
    with app.server.test_request_context("/?lang=en"):
        payload = page.table_csv(runtime, "en", "trend", flt, "channel")
    assert "Claims-complaints-team-2" in payload["filename"]
    rows = list(csv.reader(io.StringIO(base64.b64decode(payload["content"]).decode("utf-8-sig"))))
    assert rows[0] == ["ISO week", "Phone", "Total", "Mean satisfaction"]
    # P-3 opened on Sunday 22 November: ISO week 47.
    assert rows[1:] == [
        ["2026-W47", "1", "1", ""],
        ["2026-W48", "0", "0", ""],
        ["2026-W49", "0", "0", ""],
    ]


def test_unknown_table_is_refused(app: dash.Dash, page: ModuleType, runtime: Runtime) -> None:
    flt = AnalyticsFilter(date(2026, 11, 1), date(2026, 11, 30))
    with pytest.raises(ValueError, match="unknown table"):
        page.table_csv(runtime, "en", "occupation", flt, "category")
    with app.server.test_request_context("/?lang=en"):
        assert page.export_for("occupation", None, None, None, None) is dash.no_update
