"""The leaderboard page: layout, callbacks as plain functions, CSV, what-if and publishing."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

import dash
import plotly.graph_objects as go
import pytest
import redis
from werkzeug.exceptions import Forbidden

from complaintops.runtime import Runtime
from config import DEFAULTS_DIR
from dashboard.auth.context import set_request_identity
from dashboard.auth.sessions import Identity
from events import contract as c
from tests.dashboard.desk_data import find_component, find_ids, find_text, make_app, make_runtime
from tests.incentives.builders import Log, Script, by_time, feed, metrics_sink, store_sink

SHIPPED = (DEFAULTS_DIR / "scoring.yaml").read_text(encoding="utf-8")
MANAGER = Identity("user", "m-001", "manager")
LEADER = Identity("user", "l-001", "leader")
WEEK_DAY = "2026-11-25"  # week 2026-W48: 23-29 November


@pytest.fixture
def runtime(redis_client: redis.Redis, valkey_url: str, sqlite_url: str, tmp_path: Path) -> Runtime:
    runtime = make_runtime(valkey_url, sqlite_url, tmp_path)
    events: list[dict[str, Any]] = []
    # Week 2026-W47: h-002 +10. Week 2026-W48: h-001 +10 +5 (satisfaction), h-002 -10 (late),
    # h-007 +10.
    before = Script("W47")
    before.opened("2026-11-17T09:00:00+08:00", "h-002")
    before.add(c.DECISION_MADE, "2026-11-17T10:00:00+08:00")
    quick = Script("QUICK")
    quick.opened("2026-11-23T09:00:00+08:00", "h-001")
    quick.add(c.DECISION_MADE, "2026-11-24T10:00:00+08:00")
    quick.add(c.CLOSED, "2026-11-25T10:00:00+08:00", satisfaction=5)
    late = Script("LATE")
    late.opened("2026-11-02T09:00:00+08:00", "h-002", category="sales")
    late.add(c.DECISION_MADE, "2026-11-26T10:00:00+08:00")
    north = Script("NORTH")
    north.opened("2026-11-24T09:00:00+08:00", "h-007", "claims-north")
    north.add(c.DECISION_MADE, "2026-11-24T12:00:00+08:00")
    for script in (before, quick, late, north):
        events += script.events
    records = Log().records(by_time(events))
    feed([metrics_sink(runtime.redis), store_sink(runtime.engine)], records, batch=50)
    return runtime


@pytest.fixture
def app(runtime: Runtime) -> dash.Dash:
    return make_app(runtime)


@pytest.fixture
def page(app: dash.Dash) -> ModuleType:
    from dashboard.pages import leaderboard

    return leaderboard


@pytest.fixture
def as_manager(app: dash.Dash) -> Iterator[None]:
    with app.server.test_request_context("/?lang=en"):
        set_request_identity(MANAGER)
        yield


def test_the_page_is_for_managers_and_its_ids_are_prefixed(
    app: dash.Dash, page: ModuleType
) -> None:
    entry = next(p for p in dash.page_registry.values() if p["path"] == "/leaderboard")
    assert entry["min_role"] == "manager"
    with app.server.test_request_context("/leaderboard?lang=en"):
        tree = page.layout(lang="en", period="month", at="2026-11-25")
    ids = find_ids(tree)
    assert {
        "leaderboard-period",
        "leaderboard-scope",
        "leaderboard-date",
        "leaderboard-ranking-wrap",
        "leaderboard-trend",
        "leaderboard-breakdown",
        "leaderboard-fair",
        "leaderboard-teams-wrap",
        "leaderboard-rules",
        "leaderboard-whatif-run",
        "leaderboard-publish",
    } <= ids
    assert all(i.startswith("leaderboard-") for i in ids)
    text = find_text(tree)
    assert "Expected points: for each category" in text
    with app.server.test_request_context("/leaderboard?lang=zh"):
        assert "激励排行榜" in find_text(page.layout(lang="zh"))


def test_ranking_with_movement_arrows(as_manager: None, page: ModuleType) -> None:
    title, table, options, breakdown, error = page.refresh_ranking(
        "week", "handler", WEEK_DAY, None, None
    )
    assert error is None
    assert title == "Ranking (2026-11-23 to 2026-11-29)"
    assert find_text(table).split("Points ", 1)[1] == (
        "1 new 张伟 (h-001) Claims complaints team 1 15 "
        "2 new 赵磊 (h-007) Claims complaints team 2 10 "
        "3 ▼2 王芳 (h-002) Claims complaints team 1 -10"
    )
    assert [o["value"] for o in options] == ["h-001", "h-007", "h-002"]
    by_rule = {trace.name: list(trace.x) for trace in breakdown.data}
    assert by_rule == {
        "Decision on time": [10, 10, 0],
        "Decision late": [0, 0, -10],
        "First satisfaction": [5, 0, 0],
    }


def test_teams_and_the_team_filter(as_manager: None, page: ModuleType) -> None:
    _, teams, *_ = page.refresh_ranking("week", "team", WEEK_DAY, None, None)
    assert find_text(teams).split("Points ", 1)[1] == (
        "1 new Claims complaints team 2 Claims complaints team 2 10 2 ▼1 Claims complaints team 1 Claims complaints team 1 5"
    )
    _, _table, options, *_ = page.refresh_ranking("week", "handler", WEEK_DAY, "claims-north", 0)
    assert [o["value"] for o in options] == ["h-007"]


def test_an_empty_period(as_manager: None, page: ModuleType) -> None:
    title, table, options, _, error = page.refresh_ranking("day", "handler", "2026-10-01", None, 0)
    assert "2026-10-01 to 2026-10-01" in title and options == [] and error is None
    assert find_text(table) == "Nobody has gained or lost points in this period yet."


def test_why_these_points_lists_every_award(as_manager: None, page: ModuleType) -> None:
    table = page.show_lines("week", "handler", WEEK_DAY, "h-001")
    text = find_text(table)
    assert "24 Nov 10:00 Decision on time 10 QUICK" in text
    assert "25 Nov 10:00 First satisfaction 5 QUICK" in text
    assert page.show_lines("week", "handler", WEEK_DAY, None) is None


def test_trend_draws_the_last_eight_periods(as_manager: None, page: ModuleType) -> None:
    figure = page.refresh_trend("week", "handler", WEEK_DAY, None, None, 0)
    assert isinstance(figure, go.Figure)
    lines = {trace.name: list(trace.y) for trace in figure.data}
    assert list(figure.data[0].x)[-2:] == ["2026-W47", "2026-W48"]
    assert len(figure.data[0].x) == 8
    assert lines["王芳 (h-002)"][-2:] == [10, -10]
    assert lines["张伟 (h-001)"][-2:] == [None, 15]


def test_fair_views_and_teams_per_head(as_manager: None, page: ModuleType) -> None:
    figure, fair, teams = page.refresh_fair("week", WEEK_DAY, None)
    # claims cases average (15 + 10) / 2 = 12.5; the only sales case -10: h-002 is as
    # expected for their mix.
    assert list(figure.data[0].y) == ["张伟 (h-001)", "王芳 (h-002)", "赵磊 (h-007)"]
    assert list(figure.data[0].x) == [2.5, 0, -2.5]
    assert "张伟 (h-001) Claims complaints team 1 15 1 15 12.5 2.5 Claims 1" in find_text(fair)
    # claims-east: 5 points over 6 configured handlers
    assert "Claims complaints team 1 5 6 0.83" in find_text(teams)
    _, only_north, _ = page.refresh_fair("week", WEEK_DAY, "claims-north")
    assert "王芳" not in find_text(only_north)


def test_csv_exports_have_a_bom_and_the_rows(as_manager: None, page: ModuleType) -> None:
    data = page.export_ranking(1, "week", "handler", WEEK_DAY, None)
    raw = base64.b64decode(data["content"])
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Rank", "Move", "Name", "Team", "Points"]
    assert rows[1:] == [
        ["1", "", "张伟 (h-001)", "Claims complaints team 1", "15"],
        ["2", "", "赵磊 (h-007)", "Claims complaints team 2", "10"],
        ["3", "-2", "王芳 (h-002)", "Claims complaints team 1", "-10"],
    ]
    assert data["filename"].startswith("leaderboard-handler-2026-W48-")
    lines = page.export_lines(1, "week", "handler", WEEK_DAY, "h-002")
    text = base64.b64decode(lines["content"]).decode("utf-8-sig")
    assert "2026-11-26T10:00:00+08:00,Decision late,-10,LATE," in text
    assert page.export_lines(1, "week", "handler", WEEK_DAY, None) is dash.no_update


def test_what_if_shows_every_rank_change(as_manager: None, page: ModuleType) -> None:
    text = SHIPPED.replace("decision_late: -10", "decision_late: -30").replace(
        "sales: 1.0", "sales: 0.0"
    )
    result, figure = page.run_whatif(1, text, "2026-W48")
    shown = find_text(result)
    assert "Replayed 6 events of 3 cases: 1 handlers and 2 teams would change" in shown
    # The late decision is on a sales case: weight 0 removes it, h-002 leaves the ranking.
    assert "3 → out out 王芳 (h-002) Claims complaints team 1 -10 → 0" in shown
    assert [trace.name for trace in figure.data][-2:] == ["Now", "Test"]


@pytest.mark.parametrize(
    ("text", "period", "message"),
    [
        (
            SHIPPED.replace("rework: -2", "rework: x"),
            "2026-W48",
            "scoring.yaml: points.rework: must be a number from -1000 to 1000, got 'x'",
        ),
        (SHIPPED, "2026-13", "Bad period to test: no such period '2026-13'"),
    ],
)
def test_what_if_explains_bad_input(
    as_manager: None, page: ModuleType, text: str, period: str, message: str
) -> None:
    result, _ = page.run_whatif(1, text, period)
    assert find_text(result).startswith(message)


def test_publishing_needs_a_manager_and_a_future_date(
    app: dash.Dash, page: ModuleType, runtime: Runtime
) -> None:
    text = SHIPPED.replace("rework: -2", "rework: -4")
    with app.server.test_request_context("/?lang=en"):
        set_request_identity(LEADER)
        with pytest.raises(Forbidden):
            page.publish_rules(1, text, "2099-01-01", None)
        with pytest.raises(Forbidden):
            page.run_whatif(1, text, "2026-W48")
        set_request_identity(MANAGER)
        message, listing = page.publish_rules(None, text, None, None)
        assert message is None
        assert find_text(listing) == "No rule set published yet: scoring.yaml applies."
        message, _ = page.publish_rules(1, text, "2020-01-01", None)
        assert "the effective-from date must be" in find_text(message)
        message, listing = page.publish_rules(1, text, "2099-01-01", " less rework ")
    assert find_text(message) == "Published rules-2099-01-01: in force from 2099-01-01, by m-001."
    assert "rules-2099-01-01 2099-01-01 m-001" in find_text(listing)
    assert "less rework" in find_text(listing)
    from incentives.publish import list_published

    (item,) = list_published(runtime.engine)
    assert item.rules.rework == -4 and item.source_yaml == text


def test_an_upload_fills_the_editor(as_manager: None, page: ModuleType) -> None:
    encoded = base64.b64encode("points: {}\n# 中文".encode()).decode()
    assert page.load_upload(f"data:text/yaml;base64,{encoded}") == ("points: {}\n# 中文", None)
    bad = base64.b64encode(b"\xff\xfe").decode()
    value, message = page.load_upload(f"data:text/yaml;base64,{bad}")
    assert value is dash.no_update
    assert find_text(message) == "Cannot read the uploaded file: UTF-8 text is needed."


def test_dates_default_to_today(app: dash.Dash, page: ModuleType, runtime: Runtime) -> None:
    with app.server.test_request_context("/"):
        assert page._date_or_today("not a date", runtime) == page.today(runtime)
        assert page._date_or_today("2026-11-25T00:00:00", runtime) == date(2026, 11, 25)


@pytest.mark.parametrize("at", ["0001-01-01", "1969-12-31", "9000-01-01", "9999-12-31"])
def test_a_date_out_of_range_is_today(
    as_manager: None, page: ModuleType, runtime: Runtime, at: str
) -> None:
    today = page.today(runtime)
    assert page._date_or_today(at, runtime) == today
    tree = page.layout(lang="en", period="day", at=at)
    assert find_component(tree, "leaderboard-date").date == today.isoformat()
    title, *_rest, error = page.refresh_ranking("quarter", "handler", at, None, None)
    assert (
        error is None and title == page.refresh_ranking("quarter", "handler", None, None, None)[0]
    )
    assert isinstance(page.refresh_trend("week", "handler", at, None, None, 0), go.Figure)
    page.refresh_fair("month", at, None)
    assert page.export_ranking(1, "day", "handler", at, None)["filename"].endswith(".csv")
