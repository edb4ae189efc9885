from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboard.components.theme import AMBER, MUTED, OK, RED
from dashboard.figures.wall import (
    fingerprint,
    load_color,
    scale_for,
    stage_totals,
    throughput_figure,
    workload_figure,
    workload_rows,
)
from events.contract import STAGES


def bucket(entered: dict[str, int], exited: dict[str, int]) -> dict[str, object]:
    return {
        "start": "2026-11-24T09:00:00+08:00",
        "entered": {s: entered.get(s, 0) for s in STAGES},
        "exited": {s: exited.get(s, 0) for s in STAGES},
    }


THROUGHPUT = {
    "buckets": [
        bucket({"intake": 3, "investigation": 1}, {"intake": 1}),
        bucket({"intake": 2}, {"intake": 2, "review": 4}),
    ]
}
WORKLOAD = {
    "teams": [
        {
            "team_id": "claims-east",
            "open_cases": 30,
            "wip": {},
            "handlers": [
                {"handler_id": "h-001", "open_cases": 26, "capacity": 25},
                {"handler_id": "h-002", "open_cases": 4, "capacity": 25},
            ],
        },
        {
            "team_id": "claims-north",
            "open_cases": 0,
            "wip": {},
            "handlers": [{"handler_id": "h-099", "open_cases": 0, "capacity": None}],
        },
    ]
}


@pytest.mark.parametrize(
    ("viewport", "scale"),
    [
        (None, 1.0),
        ({"w": 1920, "h": 1080}, 1.0),
        ({"w": 3840, "h": 2160}, 2.0),
        ({"w": 3840, "h": 1080}, 1.0),  # the tighter side decides
        ({"w": 100, "h": 100}, 0.6),
        ({"w": 20000, "h": 20000}, 3.0),
        ({"w": "x", "h": 1}, 1.0),
        ({"w": 0, "h": 1080}, 1.0),
    ],
)
def test_scale_for(viewport: dict[str, object] | None, scale: float) -> None:
    assert scale_for(viewport) == scale


def test_stage_totals_sum_the_buckets() -> None:
    entered, exited = stage_totals(THROUGHPUT)
    assert list(entered) == list(STAGES)
    assert entered["intake"] == 5 and entered["investigation"] == 1 and entered["review"] == 0
    assert exited["intake"] == 3 and exited["review"] == 4


def test_throughput_figure_has_entries_and_exits_per_stage_in_order() -> None:
    figure = throughput_figure(THROUGHPUT, "zh")
    go.Figure(figure)  # a valid Plotly figure
    entered, exited = figure["data"]
    assert entered["x"] == ["受理", "调查", "处理", "反馈", "跟进", "总结"]
    assert entered["y"] == [5, 1, 0, 0, 0, 0]
    assert exited["y"] == [3, 0, 0, 0, 0, 4]
    assert (entered["name"], exited["name"]) == ("流入", "流出")
    assert figure["layout"]["uirevision"] == "wall-throughput"
    english = throughput_figure(THROUGHPUT, "en")
    assert english["data"][0]["x"][0] == "Intake"
    assert english["data"][0]["name"] == "Entered"


def test_throughput_type_grows_with_the_screen() -> None:
    small = throughput_figure(THROUGHPUT, "zh", 1.0)
    large = throughput_figure(THROUGHPUT, "zh", 2.0)
    assert large["data"][0]["textfont"]["size"] == 2 * small["data"][0]["textfont"]["size"]
    assert (
        large["layout"]["xaxis"]["tickfont"]["size"]
        == 2 * small["layout"]["xaxis"]["tickfont"]["size"]
    )


def test_empty_throughput_still_draws() -> None:
    figure = throughput_figure({"buckets": []}, "zh")
    assert figure["data"][0]["y"] == [0] * 6
    assert figure["layout"]["yaxis"]["range"][1] > 0


@pytest.mark.parametrize(
    ("open_cases", "capacity", "color"),
    [
        (10, 20, OK),
        (17, 20, AMBER),
        (20, 20, AMBER),
        (21, 20, RED),
        (5, None, MUTED),
        (5, 0, MUTED),
    ],
)
def test_load_color(open_cases: int, capacity: int | None, color: str) -> None:
    assert load_color(open_cases, capacity) == color


def test_workload_rows_per_team_or_per_handler() -> None:
    teams = workload_rows(WORKLOAD, str.upper, str.lower)
    assert teams == [("CLAIMS-EAST", 30, 50), ("CLAIMS-NORTH", 0, None)]
    handlers = workload_rows(WORKLOAD, str.upper, lambda h: f"name {h}", team="claims-east")
    assert handlers == [("name h-001", 26, 25), ("name h-002", 4, 25)]


def test_workload_figure_lists_the_first_row_on_top() -> None:
    rows = [("张伟", 26, 25), ("王芳", 4, 25), ("新人", 2, None)]
    figure = workload_figure(rows, "zh")
    go.Figure(figure)
    capacity, opened = figure["data"]
    assert opened["y"] == ["新人", "王芳", "张伟"]
    assert opened["x"] == [2, 4, 26]
    assert capacity["x"] == [0, 25, 25]
    assert opened["text"] == ["2", "4/25", "26/25"]
    assert opened["marker"]["color"] == [MUTED, OK, RED]


def test_fingerprint_changes_with_the_content_only() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
