from __future__ import annotations

import sys
import time
import types
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import redis

from complaintops.runtime import Runtime
from config import load_settings
from dashboard.api import views
from dashboard.wall_data import (
    HEADLINE_FIELDS,
    TILE_FIELDS,
    VALUE_FIELDS,
    WallSnapshot,
    alert_items,
    alerts_data,
    build_snapshot,
    data_age,
    heartbeat_freshness,
    leaderboard_data,
    leaderboard_rows,
    metric_levels,
    metric_value,
    metric_values,
    output_values,
    top_three,
    wall_view,
)
from metrics import keys
from tests.dashboard.wall_scenario import apply_scenario

NOW = 1_795_500_000.0


@pytest.fixture
def runtime(valkey_url: str, redis_client: redis.Redis, tmp_path: Path) -> Runtime:
    settings = load_settings(
        redis_url=valkey_url, database_url=f"sqlite:///{tmp_path / 'none.db'}", data_dir=tmp_path
    )
    return Runtime.from_settings(settings)


def snapshot(**changes: Any) -> WallSnapshot:
    base: dict[str, Any] = {
        "as_of": NOW,
        "team": None,
        "overview": {"open_cases": 7, "wip": {"intake": 3}, "decision_breached": 2},
        "throughput": {"buckets": []},
        "workload": {"teams": []},
        "leaderboard": None,
        "alerts": None,
        "freshness": None,
    }
    base.update(changes)
    return WallSnapshot(**base)


# -- pure shaping -----------------------------------------------------------------------


def test_value_fields_cover_the_headline_and_the_flow() -> None:
    assert VALUE_FIELDS[: len(HEADLINE_FIELDS)] == HEADLINE_FIELDS
    assert "wip.follow_up" in VALUE_FIELDS and "exited_today.review" in VALUE_FIELDS
    assert len(VALUE_FIELDS) == len(set(VALUE_FIELDS)) == 5 + 18


def test_metric_value_reads_dotted_fields() -> None:
    overview = {"open_cases": 7, "wip": {"intake": 3}, "events": {"gaps": 1}}
    assert metric_value(overview, "open_cases") == 7
    assert metric_value(overview, "wip.intake") == 3
    assert metric_value(overview, "wip.review") == 0
    assert metric_value(overview, "open_cases.nested") == 0
    assert metric_values(overview, ["open_cases", "wip.intake"]) == {
        "open_cases": 7,
        "wip.intake": 3,
    }


def test_levels_follow_the_wall_thresholds(runtime: Runtime) -> None:
    wall = runtime.rules.wall  # shipped: decision_breached amber 1 red 1; at_risk 5 / 15
    levels = metric_levels(
        {
            "decision_breached": 0,
            "decision_at_risk": 5,
            "follow_ups_overdue": 10,
            "open_cases": 999,
        },
        wall,
    )
    assert levels == {
        "decision_breached": "ok",
        "decision_at_risk": "amber",
        "follow_ups_overdue": "red",
        "open_cases": "ok",
    }


def test_data_age() -> None:
    assert data_age(snapshot()) == 0.0
    assert data_age(snapshot(freshness=NOW - 12.5)) == 12.5
    assert data_age(snapshot(freshness=NOW + 3)) == 0.0  # clocks a little apart


def test_leaderboard_rows_use_display_names(runtime: Runtime) -> None:
    data = {
        "rows": [
            {"rank": 1, "id": "h-001", "team_id": "claims-east", "points": 20, "rank_change": 2},
            {"rank": 2, "id": "h-999", "team_id": None, "points": 12.5, "rank_change": None},
            {
                "rank": 2,
                "id": "h-007",
                "team_id": "claims-north",
                "points": 12.5,
                "rank_change": -1,
            },
            {"rank": 4, "id": "h-008", "team_id": "claims-north", "points": 3, "rank_change": 0},
        ]
    }
    rows = leaderboard_rows(runtime, data, "zh")
    assert rows is not None
    assert [(r["rank"], r["name"], r["team"], r["points"], r["change"]) for r in rows] == [
        (1, "张伟", "理赔投诉一组", "20", 2),
        (2, "h-999", "全部团队", "12.5", None),
        (2, "赵磊", "理赔投诉二组", "12.5", -1),
        (4, "黄敏", "理赔投诉二组", "3", 0),
    ]
    assert [r["id"] for r in top_three(rows)] == ["h-001", "h-999", "h-007"]
    assert leaderboard_rows(runtime, None, "zh") is None
    assert top_three(None) == []
    assert len(leaderboard_rows(runtime, {"rows": data["rows"] * 5}, "en") or []) == 10


def test_alert_items_put_critical_first_then_newest(runtime: Runtime) -> None:
    data = {
        "alerts": [
            {
                "id": "a1",
                "rule": "follow_up_overdue",
                "severity": "warning",
                "state": "active",
                "case_id": "C-1",
                "team_id": "claims-east",
                "handler_id": "h-001",
                "since": "2026-11-24T09:00:00+08:00",
            },
            {
                "id": "a2",
                "rule": "decision_breached",
                "severity": "critical",
                "state": "acknowledged",
                "case_id": "C-2",
                "team_id": "claims-north",
                "handler_id": None,
                "since": "2026-11-24T08:00:00+08:00",
            },
            {
                "id": "a3",
                "rule": "consumer_lag",
                "severity": "warning",
                "state": "active",
                "case_id": None,
                "team_id": None,
                "handler_id": None,
                "since": "2026-11-24T10:00:00+08:00",
            },
            {
                "id": "a4",
                "rule": "decision_at_risk",
                "severity": "warning",
                "state": "resolved",
                "case_id": "C-4",
                "team_id": None,
                "handler_id": None,
                "since": "2026-11-24T11:00:00+08:00",
            },
        ]
    }
    items = alert_items(runtime, data, "zh")
    assert items is not None
    assert [i["id"] for i in items] == ["a2", "a3", "a1"]
    assert items[0]["text"] == "决定超期 · C-2 · 理赔投诉二组"
    assert items[0]["severity"] == "critical"
    assert items[1]["text"] == "consumer_lag"
    assert items[2]["text"] == "回访逾期 · C-1 · 张伟"
    assert items[2]["since"] == "11月24日 09:00"
    assert alert_items(runtime, None, "zh") is None


def test_wall_view_values_are_plain_digits(runtime: Runtime) -> None:
    view = wall_view(runtime, snapshot(freshness=NOW - 4), "zh")
    assert view["values"]["open_cases"] == "7"
    assert view["values"]["wip.intake"] == "3"
    assert view["values"]["wip.review"] == "0"
    assert set(view["values"]) == set(VALUE_FIELDS)
    assert set(view["levels"]) == set(TILE_FIELDS)
    assert view["levels"]["decision_breached"] == "red"
    assert view["meta"] == {"as_of": NOW, "data_age": 4.0, "top3": []}
    assert view["leaderboard"] is None and view["alerts"] is None


def test_output_values_follow_the_order_dash_asks_for() -> None:
    outputs = [
        {"id": {"type": "wall-value", "field": "b", "slot": "flow"}, "property": "children"},
        {"id": {"type": "wall-value", "field": "a", "slot": "tiles"}, "property": "children"},
        {"id": {"type": "wall-value", "field": "zzz", "slot": "tiles"}, "property": "children"},
    ]
    assert output_values(outputs, {"a": "1", "b": "2"}) == ["2", "1", "—"]


# -- reading ------------------------------------------------------------------------------


def test_snapshot_is_what_the_api_answers(runtime: Runtime, redis_client: redis.Redis) -> None:
    now = time.time()
    apply_scenario(redis_client, now, runtime.tz)
    snap = build_snapshot(runtime, now=now, freshness=lambda _: None)
    assert snap.overview == views.overview(runtime, now=now)
    assert snap.throughput == views.throughput(runtime, 24, now=now)
    assert snap.workload == views.workload(runtime)
    assert snap.overview["open_cases"] > 20
    team = build_snapshot(runtime, "claims-north", now=now)
    assert team.overview == views.overview(runtime, team="claims-north", now=now)
    assert 0 < team.overview["open_cases"] < snap.overview["open_cases"]


def test_freshness_from_the_metrics_consumer_heartbeat(
    runtime: Runtime, redis_client: redis.Redis
) -> None:
    assert heartbeat_freshness(runtime) is None
    key = keys.CONSUMER_HEARTBEAT.format(runtime.settings.metrics_group)
    redis_client.hset(key, mapping={"ts": 1234.5, "lag": 0})
    assert heartbeat_freshness(runtime) == 1234.5
    redis_client.hset(key, "ts", "garbage")
    assert heartbeat_freshness(runtime) is None


def test_redis_errors_reach_the_caller(tmp_path: Path) -> None:
    runtime = Runtime.from_settings(
        load_settings(redis_url="redis://127.0.0.1:1/0", data_dir=tmp_path)
    )
    with pytest.raises(redis.ConnectionError):
        build_snapshot(runtime, now=NOW)


def test_missing_or_failing_views_read_as_unavailable(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "dashboard.api.routes_leaderboard", None)
    assert leaderboard_data(runtime, date(2026, 11, 24)) is None

    def failing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("table missing")

    module = types.ModuleType("dashboard.api.routes_alerts")
    module.alerts_view = failing  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dashboard.api.routes_alerts", module)
    assert alerts_data(runtime) is None


def test_views_are_called_as_the_api_modules_define_them(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    module = types.ModuleType("dashboard.api.routes_leaderboard")

    def leaderboard_view(
        runtime: Runtime, period: str, scope: str, at: date, team: str | None = None
    ) -> dict[str, Any]:
        calls.append((period, scope, at, team))
        return {"rows": []}

    module.leaderboard_view = leaderboard_view  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "dashboard.api.routes_leaderboard", module)
    assert leaderboard_data(runtime, date(2026, 11, 24), "claims-east") == {"rows": []}
    assert calls == [("week", "handler", date(2026, 11, 24), "claims-east")]
