"""The flow page: layout and callback as plain functions on real data."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import dash
import pytest
import redis

from complaintops.runtime import Runtime
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
        Script("F-1").opened(30).stage("investigation", 20).stage("intake", 10),
        Script("F-2").opened(5, team="claims-north", handler="h-007"),
    ]
    Feed(runtime).send_scripts(scripts)
    return runtime


@pytest.fixture
def app(runtime: Runtime) -> dash.Dash:
    return make_app(runtime)


@pytest.fixture
def page(app: dash.Dash) -> ModuleType:
    from dashboard.pages import flow

    return flow


def test_page_is_registered(app: dash.Dash) -> None:
    paths = {p["path"]: p for p in dash.page_registry.values()}
    assert paths["/flow"]["nav_label"] == {"zh": "流程", "en": "Flow"}


def test_layout_has_the_page_ids(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/flow"):
        tree = page.layout(lang="en", hours="72")
    ids = find_ids(tree)
    assert {"flow-window", "flow-team", "flow-kpis", "flow-hourly", "flow-cfd"} <= ids
    assert all(i.startswith("flow-") for i in ids)
    assert "How the bottleneck is chosen" in find_text(tree)
    window = find_component(tree, "flow-window")
    assert window.value == 72


def test_refresh_in_chinese(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/_dash-update-component", headers={"Cookie": "lang=zh"}):
        kpis, bottleneck, hourly, cfd, daily, stage_time, distribution, error = page.refresh(
            24, None, 1
        )
    assert error is None
    text = find_text(kpis)
    assert "在办案件" in text and "返工率" in text
    # F-1 went back from investigation to intake: 1 of 2 moves; open: F-1 intake, F-2 intake.
    assert "50.0%" in text
    assert hourly.data[0].name == "受理"
    assert len(daily.data) == 12
    assert list(stage_time.data[0].y[:2]) == [10.0, 10.0]  # both stages left after 10 h
    assert distribution.data[0].text[0][3] == "1"  # intake: one exit in the 8-24 h bin
    assert cfd.data[-1].y[-1] == 2  # intake (top of the stack) now holds both cases
    # No stage over its target; intake grew from 1 to 2 in the window.
    assert bottleneck.startswith("受理：") and "+1 件" in bottleneck
    tiles = {tile.id: find_text(tile) for tile in kpis}
    assert tiles["flow-kpi-bottleneck"] == "瓶颈环节 受理"


def test_refresh_for_one_team_in_english(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=en"):
        kpis, *_rest, error = page.refresh(24, "claims-north", None)
    assert error is None
    text = find_text(kpis)
    assert "Open cases" in text
    tiles = {t.id: find_text(t) for t in kpis}
    assert tiles["flow-kpi-open"].endswith("1")


def test_refresh_shows_an_error_when_redis_is_down(
    app: dash.Dash, page: ModuleType, runtime: Runtime
) -> None:
    runtime.query.client = redis.Redis(port=1, socket_connect_timeout=0.2)
    with app.server.test_request_context("/?lang=en"):
        kpis, _, hourly, *_rest, error = page.refresh(24, None, None)
    assert kpis == []
    assert hourly.layout.annotations[0].text == "No data"
    assert "Data unavailable" in find_text(error)


def test_bottleneck_text(app: dash.Dash, page: ModuleType) -> None:
    from dashboard.queries.flow import Bottleneck, StageTime

    times = [StageTime("investigation", 3, 240.0, 120.0, {})]
    text = page.bottleneck_text(Bottleneck("investigation", "time", 2.0), times, "en")
    assert text == "Investigation: mean time in stage 240.0 h, 2.00 times its 120 h target."
    growth = page.bottleneck_text(Bottleneck("review", "growth", 3.0), times, "zh")
    assert growth.startswith("总结：") and "+3 件" in growth
    assert page.bottleneck_text(None, times, "en").startswith("Every stage is within")
