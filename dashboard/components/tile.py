"""A figure tile: a label and one big number, coloured by level.

With ``metric`` set, the value element carries ``data-metric="<metric>"``
and holds nothing but the number (tests and the wall's refresh rely on it).
"""

from __future__ import annotations

from typing import Any

from dash import html

from dashboard.components.theme import level_class


def tile(
    label: str,
    value: str | int | float | None,
    *,
    metric: str | None = None,
    level: str = "ok",
    hint: str | None = None,
    tile_id: Any = None,
    value_id: Any = None,
    class_name: str = "",
) -> html.Div:
    text = "—" if value is None else str(value)
    value_props: dict[str, Any] = {"className": "co-tile__value"}
    if metric is not None:
        value_props["data-metric"] = metric
    if value_id is not None:
        value_props["id"] = value_id
    children: list[Any] = [
        html.Div(label, className="co-tile__label"),
        html.Div(text, **value_props),
    ]
    if hint:
        children.append(html.Div(hint, className="co-tile__hint"))
    props: dict[str, Any] = {
        "className": " ".join(filter(None, ["co-tile", level_class(level), class_name]))
    }
    if tile_id is not None:
        props["id"] = tile_id
    return html.Div(children, **props)
