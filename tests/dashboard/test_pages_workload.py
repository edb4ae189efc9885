"""The workload page: layout, refresh and CSV export as plain functions."""

from __future__ import annotations

import base64
import csv
import io
from pathlib import Path
from types import ModuleType

import dash
import pytest
import redis

from complaintops.runtime import Runtime
from tests.dashboard.desk_data import Feed, Script, find_ids, find_text, make_app, make_runtime


@pytest.fixture
def runtime(redis_client: redis.Redis, valkey_url: str, sqlite_url: str, tmp_path: Path) -> Runtime:
    runtime = make_runtime(valkey_url, sqlite_url, tmp_path)
    # h-006 (capacity 15) carries 12 urgent cases: 0.5 × 12/15 + 0.2 × 1 = 60 (amber).
    scripts = [
        Script(f"U-{i}").opened(10 + i, handler="h-006", priority="urgent") for i in range(12)
    ]
    scripts.append(Script("N-1").opened(3, team="claims-north", handler="h-007"))
    Feed(runtime).send_scripts(scripts)
    return runtime


@pytest.fixture
def app(runtime: Runtime) -> dash.Dash:
    return make_app(runtime)


@pytest.fixture
def page(app: dash.Dash) -> ModuleType:
    from dashboard.pages import workload

    return workload


def test_layout_ids_are_prefixed(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/workload"):
        tree = page.layout(lang="en")
    ids = find_ids(tree)
    assert {"workload-team", "workload-kpis", "workload-pressure", "workload-export"} <= ids
    assert all(i.startswith("workload-") for i in ids)
    assert "Pressure index = 100 × (0.5 × open cases / capacity [at most 2]" in find_text(tree)


def test_refresh_for_all_teams(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=zh"):
        result = page.refresh(None, None)
    kpis, team_matrix, handler_matrix, capacity, aging, pressure, table, room, error = result
    assert error is None
    tiles = {tile.id: find_text(tile) for tile in kpis}
    assert tiles["workload-kpi-open"] == "在办案件 13"
    assert tiles["workload-kpi-red"] == "高压力处理人 0"
    assert list(team_matrix.data[0].y) == [
        "理赔投诉一组",
        "理赔投诉二组",
        "健康险与寿险投诉组",
        "销售与保全投诉组",
    ]
    assert list(team_matrix.data[0].z[0]) == [12, 0, 0, 0, 0, 0]
    # Every configured handler is a row of the SQL matrix only when a team is chosen.
    assert list(handler_matrix.data[0].y) == ["杨帆 (h-006)", "赵磊 (h-007)"]
    assert list(aging.data[0].y) == [13, 0, 0, 0]
    assert pressure.data[0].y[0] == "杨帆 (h-006)" and pressure.data[0].x[0] == 60.0
    first_row = find_text(table).split("杨帆 (h-006)", 1)[1]
    assert first_row.startswith(" 理赔投诉一组 12 15 3 12 0 0 60.0")
    # Most room first: h-004 and h-010 (capacity 30, nothing open), then by id.
    assert find_text(room).startswith("刘洋 (h-004)：还可承接 30 件（压力指数 0） 吴婷 (h-010)")
    assert capacity.data[0].x[list(capacity.data[0].y).index("杨帆 (h-006)")] == 80.0


def test_refresh_for_one_team_lists_its_handlers(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=en"):
        kpis, _team, handler_matrix, *_rest, error = page.refresh("claims-north", None)
    assert error is None
    assert handler_matrix.data[0].y[0] == "赵磊 (h-007)"
    assert len(handler_matrix.data[0].y) == 7  # the team's seven handlers
    tiles = {tile.id: find_text(tile) for tile in kpis}
    assert tiles["workload-kpi-open"] == "Open cases 1"
    assert tiles["workload-kpi-capacity"] == "Capacity 155"


def test_pressure_csv(app: dash.Dash, page: ModuleType, runtime: Runtime) -> None:
    with app.server.test_request_context("/?lang=en"):
        payload = page.pressure_csv(runtime, "en", "claims-east")
    assert payload["filename"].startswith("handler-pressure-")
    text = base64.b64decode(payload["content"]).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "Handler" and rows[0][-1] == "Pressure index"
    assert rows[1] == [
        "杨帆 (h-006)",
        "Claims complaints team 1",
        "12",
        "15",
        "3",
        "12",
        "0",
        "0",
        "60",
    ]
    assert len(rows) == 1 + 6


def test_export_callback_needs_a_click(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=en"):
        assert page.export_pressure(0, None) is dash.no_update
        assert page.export_pressure(1, None)["base64"] is True
