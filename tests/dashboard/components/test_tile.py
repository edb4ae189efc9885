from __future__ import annotations

from typing import Any

from dashboard.components.tile import tile


def test_tile_marks_its_number() -> None:
    component: Any = tile("在办案件", 12, metric="open_cases", level="amber", hint="今日")
    assert component.className == "co-tile co-level--amber"
    label, value, hint = component.children
    assert (label.children, hint.children) == ("在办案件", "今日")
    assert value.children == "12"
    assert getattr(value, "data-metric") == "open_cases"
    assert tile("x", None).children[1].children == "—"
