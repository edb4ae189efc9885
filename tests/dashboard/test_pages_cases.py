"""The cases page: list callback, paging, and the case detail view."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import dash
import pytest
import redis

from complaintops.runtime import Runtime
from dashboard.queries.cases import CaseSearch
from tests.dashboard.desk_data import (
    Feed,
    Script,
    at,
    find_component,
    find_ids,
    find_text,
    make_app,
    make_runtime,
)

FILTER_COUNT = 8


@pytest.fixture
def runtime(redis_client: redis.Redis, valkey_url: str, sqlite_url: str, tmp_path: Path) -> Runtime:
    runtime = make_runtime(valkey_url, sqlite_url, tmp_path)
    scripts = [Script(f"C2026-{i:06d}").opened(100 + i) for i in range(30)]
    scripts.append(
        Script("D-1")
        .opened(
            400,
            channel="letter",
            complainant={
                "gender": "f",
                "age_band": "60+",
                "occupation": "退休教师",
                "repeat": True,
            },
        )
        .stage("investigation", 390)
        .add("case.clock_paused", 380, reason="external_appraisal")
        .add("case.clock_resumed", 370)
        .add("case.deadline_extended", 360, tier=1)
        .stage("resolution", 350)
        .add("case.decision_made", 340, outcome="upheld")
        .stage("follow_up", 330)
        .add("case.follow_up_scheduled", 320, due_at=at(300))
        .add("case.follow_up_done", 310, satisfaction=5)
    )
    scripts.append(Script("B-1").opened(24 * 20))  # decision deadline passed
    Feed(runtime).send_scripts(scripts)
    return runtime


@pytest.fixture
def app(runtime: Runtime) -> dash.Dash:
    return make_app(runtime)


@pytest.fixture
def page(app: dash.Dash) -> ModuleType:
    from dashboard.pages import cases

    return cases


def no_filters(**chosen: str) -> list[str | None]:
    names = ("team", "handler", "stage", "category", "channel", "priority", "status", "clock")
    return [chosen.get(name) for name in names]


def test_layout_without_a_case(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/cases"):
        tree = page.layout(lang="en", clock="breached")
    ids = find_ids(tree)
    assert {"cases-search", "cases-team", "cases-clock", "cases-table", "cases-next"} <= ids
    assert all(i.startswith("cases-") for i in ids)
    assert "cases-detail" not in ids
    clock = find_component(tree, "cases-clock")
    assert clock.value == "breached"


def test_list_callback_filters_and_pages(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/?lang=en"):
        table, summary, shown, error = page.update_list("C2026", *no_filters(), 0, 0, 0)
    assert error is None
    assert summary == "30 found · page 1 of 2"
    assert shown == 0
    text = find_text(table)
    assert "C2026-000000" in text and "C2026-000025" not in text
    with app.server.test_request_context("/?lang=en"):
        _, summary, _, _ = page.update_list(None, *no_filters(clock="breached"), 0, 0, 3)
    assert summary == "1 found · page 1 of 1"


def test_next_page() -> None:
    from dashboard.pages import cases

    assert cases.next_page("cases-next", 0) == 1
    assert cases.next_page("cases-previous", 0) == 0
    assert cases.next_page("cases-previous", 3) == 2
    assert cases.next_page("cases-team", 3) == 0
    assert cases.next_page(None, None) == 0


def test_found_page_is_clamped(app: dash.Dash, page: ModuleType, runtime: Runtime) -> None:
    found = page.find(runtime, CaseSearch(search="C2026"), 7)
    assert found.page == 1 and len(found.rows) == 5
    with app.server.test_request_context("/?lang=zh"):
        assert page.summary_text(found, "zh") == "共 30 件 · 第 2/2 页"
        table = page.list_table(found, runtime, "zh")
    text = find_text(table)
    assert "理赔投诉一组" in text and "张伟 (h-001)" in text and "计时中" in text


def test_detail_of_a_case(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/cases?case=D-1&lang=en"):
        tree = page.layout(lang="en", case="D-1")
    ids = find_ids(tree)
    assert {"cases-detail", "cases-timeline", "cases-clock", "cases-return-visits"} <= ids
    text = find_text(tree)
    assert "Letter" in text and "60 and over" in text and "Complained before Yes" in text
    assert "退休教师" not in text  # free text of the profile is never shown
    assert "Decided" in text and "On time" in text
    assert "External appraisal" in text
    assert "tier 1 extension, limit 30 days" in text
    assert "Return visit done" in text
    timeline = find_component(tree, "cases-timeline")
    bars = timeline.figure.data[0]
    assert list(bars.y) == ["Intake", "Investigation", "Resolution", "Follow-up"]


def test_detail_of_an_unknown_case(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/cases?case=nope"):
        tree = page.layout(lang="zh", case="nope")
    assert "未找到案件 nope。" in find_text(tree)
