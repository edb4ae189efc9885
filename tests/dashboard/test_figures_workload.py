"""Workload page charts as pure functions."""

from __future__ import annotations

from dashboard.figures import workload as figures
from dashboard.figures.desk_style import BAND_COLOURS, MUTED
from dashboard.queries.workload import CapacityUse, Matrix, Pressure


def tr(key: str) -> str:
    return f"<{key}>"


def test_stage_heatmap_writes_counts_and_uses_labels() -> None:
    matrix = Matrix(["t1", "t2"], ["intake", "review"], [[3, 0], [1, 12]])
    figure = figures.stage_heatmap(matrix, tr, {"t1": "一组"})
    heat = figure.data[0]
    assert [list(row) for row in heat.z] == [[3, 0], [1, 12]]
    assert list(heat.y) == ["一组", "t2"]
    assert list(heat.x) == ["<stage.intake>", "<stage.review>"]
    assert heat.text[0][1] == "" and heat.text[1][1] == "12"


def test_capacity_figure_colours_by_use() -> None:
    uses = [
        CapacityUse("a", "t", 5, 10),
        CapacityUse("b", "t", 9, 10),
        CapacityUse("c", "t", 12, 10),
        CapacityUse("d", "t", 3, None),
    ]
    bar = figures.capacity_figure(uses, tr).data[0]
    assert list(bar.x) == [50.0, 90.0, 120.0, None]
    assert list(bar.marker.color) == [
        BAND_COLOURS["ok"],
        BAND_COLOURS["amber"],
        BAND_COLOURS["red"],
        MUTED,
    ]
    assert list(bar.text) == ["50%", "90%", "120%", "—"]


def test_aging_figure_has_the_four_bands_in_order() -> None:
    figure = figures.aging_figure({"0-3": 5, "4-7": 2, "8-15": 0, "15+": 1}, tr)
    bar = figure.data[0]
    assert list(bar.x) == [
        "<workload.age.0-3>",
        "<workload.age.4-7>",
        "<workload.age.8-15>",
        "<workload.age.15+>",
    ]
    assert list(bar.y) == [5, 2, 0, 1]


def test_pressure_figure_keeps_the_order_and_bands() -> None:
    pressures = [
        Pressure("h-2", "t", 20, 20, 20, 0, 0, 70.0),
        Pressure("h-1", "t", 10, 20, 0, 0, 0, 25.0),
    ]
    bar = figures.pressure_figure(pressures, tr, {"h-2": "王芳"}).data[0]
    assert list(bar.y) == ["王芳", "h-1"]
    assert list(bar.x) == [70.0, 25.0]
    assert list(bar.marker.color) == [BAND_COLOURS["red"], BAND_COLOURS["ok"]]
