from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dash import no_update

from complaintops.runtime import Runtime
from config import load_settings
from config.rules import Screen
from dashboard.components.wall import (
    REFRESH_OUTPUTS,
    WallFrameCache,
    alert_ticker,
    clean_team,
    flow_nodes,
    headline_tiles,
    leaderboard_table,
    panel_classes,
    pinned_screen,
    refresh_outputs,
    screen_at,
    tile_class,
    value_id,
    wall_refresh,
)
from dashboard.wall_data import HEADLINE_FIELDS, VALUE_FIELDS, WallSnapshot

NOW = 1_795_500_000.0


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return Runtime.from_settings(load_settings(data_dir=tmp_path))


def screens() -> list[Screen]:
    return [
        Screen.model_validate(
            {
                "id": "a",
                "title": {"zh": "甲", "en": "A"},
                "seconds": 30,
                "panels": ["tiles", "flow"],
            }
        ),
        Screen.model_validate(
            {
                "id": "b",
                "title": {"zh": "乙", "en": "B"},
                "seconds": 20,
                "panels": ["tiles", "leaderboard"],
            }
        ),
    ]


def snapshot(**changes: Any) -> WallSnapshot:
    base: dict[str, Any] = {
        "as_of": NOW,
        "team": None,
        "overview": {"open_cases": 12, "wip": {"intake": 4, "review": 1}, "decision_breached": 1},
        "throughput": {"buckets": []},
        "workload": {"teams": []},
        "leaderboard": {
            "rows": [
                {
                    "rank": 1,
                    "id": "h-001",
                    "team_id": "claims-east",
                    "points": 10,
                    "rank_change": None,
                }
            ]
        },
        "alerts": {"alerts": []},
        "freshness": NOW - 3,
    }
    base.update(changes)
    return WallSnapshot(**base)


def dash_outputs(kind: str, fields: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"id": {"type": kind, "field": field, "slot": slot}, "property": "children"}
        for field, slot in fields
    ]


def text_of(component: Any) -> str:
    """All text inside a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return "".join(text_of(c) for c in component)
    return text_of(getattr(component, "children", None))


def test_rotation_follows_the_screens_seconds_in_step_for_every_wall() -> None:
    all_screens = screens()
    assert screen_at(all_screens, 0) == 0
    assert screen_at(all_screens, 29.9) == 0
    assert screen_at(all_screens, 30) == 1
    assert screen_at(all_screens, 49) == 1
    assert screen_at(all_screens, 50) == 0  # the cycle is 50 s
    assert screen_at(all_screens, 50 * 1000 + 35) == 1
    assert screen_at(all_screens, 35, pinned=0) == 0
    assert screen_at(all_screens, 35, pinned=9) == 1  # an unknown pin is ignored


@pytest.mark.parametrize(
    ("value", "index"),
    [("1", 0), ("2", 1), ("b", 1), ("3", None), ("0", None), ("x", None), (None, None), ("", None)],
)
def test_pinned_screen(value: str | None, index: int | None) -> None:
    assert pinned_screen(value, screens()) == index


def test_panel_classes_hide_what_the_screen_does_not_show() -> None:
    classes = panel_classes(screens()[1])
    assert classes["tiles"] == "wall-panel wall-panel--tiles"
    assert classes["leaderboard"] == "wall-panel wall-panel--leaderboard"
    assert classes["flow"].endswith("wall-panel--hidden")
    assert set(classes) == {"tiles", "flow", "throughput", "workload", "leaderboard", "alerts"}


@pytest.mark.parametrize(
    ("value", "team"),
    [("claims-east", "claims-east"), ("", None), (None, None), ("x" * 65, None), (3, None)],
)
def test_clean_team(value: object, team: str | None) -> None:
    assert clean_team(value) == team


def test_tiles_and_flow_carry_one_number_per_metric() -> None:
    values = {field: str(n) for n, field in enumerate(VALUE_FIELDS)}
    tiles = headline_tiles(values, {"decision_breached": "red"}, "zh")
    assert len(tiles) == len(HEADLINE_FIELDS)
    breached = tiles[1]
    assert breached.className == tile_class("decision_breached", "red") == "wall-tile co-level--red"
    value = breached.children[1]
    assert value.id == value_id("decision_breached", "tiles")
    assert value.children == values["decision_breached"]
    assert getattr(value, "data-metric") == "decision_breached"
    nodes = flow_nodes(values, {}, "en")
    stages = [n for n in nodes if "wall-stage" in n.className]
    assert len(stages) == 6
    assert text_of(stages[0]).startswith("Intake")
    assert tile_class("wip.intake", "amber") == "wall-stage co-level--amber"


def test_leaderboard_and_ticker_show_a_dash_when_unavailable() -> None:
    assert text_of(leaderboard_table(None, "zh")) == "—"
    assert text_of(leaderboard_table([], "zh")) == "暂无数据"
    assert "—" in text_of(alert_ticker(None, "zh"))
    assert "当前无活动告警" in text_of(alert_ticker([], "zh"))
    rows = [{"rank": 1, "id": "h-001", "name": "张伟", "team": "一组", "points": "20", "change": 2}]
    assert text_of(leaderboard_table(rows, "zh")) == "1张伟一组20▲2"
    items = [
        {
            "id": "a",
            "severity": "critical",
            "severity_label": "严重",
            "text": "决定超期 · C-1",
            "since": "09:00",
        }
    ]
    ticker = text_of(alert_ticker(items, "zh"))
    assert ticker.count("决定超期 · C-1") == 2  # repeated for a seamless scroll


def test_refresh_outputs_fill_every_number_and_colour(runtime: Runtime) -> None:
    values = dash_outputs(
        "wall-value", [("open_cases", "tiles"), ("wip.intake", "flow"), ("wip.review", "flow")]
    )
    tiles = dash_outputs("wall-tile", [("decision_breached", "tiles"), ("wip.intake", "flow")])
    out = refresh_outputs(runtime, snapshot(), "zh", {"w": 1920, "h": 1080}, {}, values, tiles)
    assert len(out) == REFRESH_OUTPUTS
    numbers, classes, throughput, workload, leaderboard, ticker, meta, hashes = out
    assert workload["layout"]["uirevision"] == "wall-workload"
    assert "当前无活动告警" in text_of(ticker)
    assert numbers == ["12", "4", "1"]
    assert classes == ["wall-tile co-level--red", "wall-stage co-level--ok"]
    assert throughput["layout"]["uirevision"] == "wall-throughput"
    assert "张伟" in text_of(leaderboard)
    assert meta == {"as_of": NOW, "data_age": 3.0, "top3": [{"id": "h-001", "name": "张伟"}]}
    assert set(hashes) == {"throughput", "workload", "leaderboard", "alerts"}

    # Unchanged parts are not sent again; changed ones are.
    again = refresh_outputs(
        runtime, snapshot(), "zh", {"w": 1920, "h": 1080}, hashes, values, tiles
    )
    assert again[2:6] == (no_update,) * 4
    bigger = refresh_outputs(
        runtime, snapshot(), "zh", {"w": 3840, "h": 2160}, hashes, values, tiles
    )
    assert bigger[2] is not no_update and bigger[3] is not no_update
    assert bigger[4] is no_update


def test_a_failed_read_keeps_everything_on_screen(runtime: Runtime) -> None:
    def broken(*args: Any) -> WallSnapshot:
        raise ConnectionError("Redis went away")

    out = wall_refresh(runtime, {"lang": "zh", "team": None}, None, {}, [], [], build=broken)
    assert out == (no_update,) * REFRESH_OUTPUTS


def test_refresh_passes_the_team_on(runtime: Runtime) -> None:
    seen: list[str | None] = []

    def build(runtime: Runtime, team: str | None) -> WallSnapshot:
        seen.append(team)
        return snapshot(team=team)

    wall_refresh(runtime, {"lang": "en", "team": "claims-east"}, None, {}, [], [], build=build)
    wall_refresh(runtime, {"lang": "en", "team": "x" * 99}, None, {}, [], [], build=build)
    assert seen == ["claims-east", None]


def test_walls_of_one_view_share_a_frame_for_the_cache_lifetime(runtime: Runtime) -> None:
    now = [100.0]
    builds: list[str | None] = []

    def build(runtime: Runtime, team: str | None) -> WallSnapshot:
        builds.append(team)
        return snapshot(team=team)

    cache = WallFrameCache(ttl=1.0, clock=lambda: now[0])
    east = {"lang": "zh", "team": "claims-east"}
    first = wall_refresh(runtime, east, None, {}, [], [], build=build, cache=cache)
    second = wall_refresh(runtime, east, None, {}, [], [], build=build, cache=cache)
    assert builds == ["claims-east"] and first == second
    wall_refresh(
        runtime, {"lang": "en", "team": "claims-east"}, None, {}, [], [], build=build, cache=cache
    )
    wall_refresh(runtime, {"lang": "zh", "team": None}, None, {}, [], [], build=build, cache=cache)
    assert builds == ["claims-east", "claims-east", None]  # other language, other team
    now[0] += 1.0
    wall_refresh(runtime, east, None, {}, [], [], build=build, cache=cache)
    assert builds[-1] == "claims-east" and len(builds) == 4  # expired: read again


def test_a_failed_read_is_not_cached(runtime: Runtime) -> None:
    calls = [0]

    def flaky(runtime: Runtime, team: str | None) -> WallSnapshot:
        calls[0] += 1
        if calls[0] == 1:
            raise ConnectionError("Redis went away")
        return snapshot(team=team)

    cache = WallFrameCache(ttl=60.0)
    config = {"lang": "zh", "team": None}
    assert (
        wall_refresh(runtime, config, None, {}, [], [], build=flaky, cache=cache)
        == (no_update,) * REFRESH_OUTPUTS
    )
    assert (
        wall_refresh(runtime, config, None, {}, [], [], build=flaky, cache=cache)
        != (no_update,) * REFRESH_OUTPUTS
    )
