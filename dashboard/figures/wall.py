"""Plotly figures of the wall display, as plain dicts (pure functions).

Sizes scale with the screen (``scale`` = viewport width / 1920), so a 4K
wall gets type twice as large as a full-HD one. ``uirevision`` stays
constant so a refresh never resets the view.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from dashboard.components.theme import (
    AMBER,
    ENTERED,
    EXITED,
    MUTED,
    OK,
    RED,
    figure_layout,
)
from dashboard.i18n import register_catalog, stage_names, t
from events.contract import STAGES

register_catalog(
    {
        "zh": {
            "wall.entered": "流入",
            "wall.exited": "流出",
            "wall.open": "在办",
            "wall.capacity": "容量",
        },
        "en": {
            "wall.entered": "Entered",
            "wall.exited": "Exited",
            "wall.open": "Open",
            "wall.capacity": "Capacity",
        },
    }
)

MIN_SCALE: Final = 0.6
MAX_SCALE: Final = 3.0
AMBER_LOAD: Final = 0.85
"""A handler or team at this share of its capacity shows amber; above 1.0, red."""


def scale_for(viewport: Mapping[str, Any] | None) -> float:
    """Type scale from the browser's viewport (``{"w": px, "h": px}``), 1.0 at 1920×1080."""
    if not viewport:
        return 1.0
    try:
        width, height = float(viewport.get("w", 1920)), float(viewport.get("h", 1080))
    except (TypeError, ValueError):
        return 1.0
    if width <= 0 or height <= 0:
        return 1.0
    return round(max(MIN_SCALE, min(MAX_SCALE, min(width / 1920, height / 1080))), 2)


def stage_totals(throughput: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Entries and exits per stage summed over every bucket."""
    entered = dict.fromkeys(STAGES, 0)
    exited = dict.fromkeys(STAGES, 0)
    for bucket in throughput.get("buckets", []):
        for stage in STAGES:
            entered[stage] += int(bucket.get("entered", {}).get(stage, 0))
            exited[stage] += int(bucket.get("exited", {}).get(stage, 0))
    return entered, exited


def throughput_figure(
    throughput: Mapping[str, Any], lang: str, scale: float = 1.0
) -> dict[str, Any]:
    """Grouped bars: entries vs exits per stage over the buckets given (24 h on the wall)."""
    entered, exited = stage_totals(throughput)
    names = list(stage_names(lang).values())
    text_size = round(24 * scale)

    def bars(name: str, values: dict[str, int], color: str) -> dict[str, Any]:
        return {
            "type": "bar",
            "name": name,
            "x": names,
            "y": [values[s] for s in STAGES],
            "marker": {"color": color},
            "text": [str(values[s]) for s in STAGES],
            "textposition": "outside",
            "cliponaxis": False,
            "textfont": {"size": text_size},
        }

    layout = figure_layout(
        scale,
        barmode="group",
        bargap=0.25,
        uirevision="wall-throughput",
        showlegend=True,
    )
    top = max([*entered.values(), *exited.values(), 1])
    layout["yaxis"] = {
        **layout["yaxis"],
        "range": [0, top * 1.25],
        "showticklabels": False,
        "showgrid": False,
    }
    layout["xaxis"] = {
        **layout["xaxis"],
        "tickfont": {"size": round(26 * scale)},
        "showgrid": False,
    }
    layout["legend"] = {**layout["legend"], "font": {"size": round(22 * scale)}}
    layout["margin"] = {
        "l": round(12 * scale),
        "r": round(12 * scale),
        "t": round(8 * scale),
        "b": round(44 * scale),
    }
    return {
        "data": [
            bars(t("wall.entered", lang), entered, ENTERED),
            bars(t("wall.exited", lang), exited, EXITED),
        ],
        "layout": layout,
    }


def load_color(open_cases: int, capacity: int | None) -> str:
    if not capacity:
        return MUTED
    ratio = open_cases / capacity
    if ratio > 1.0:
        return RED
    if ratio >= AMBER_LOAD:
        return AMBER
    return OK


def workload_rows(
    workload: Mapping[str, Any],
    label_team: Callable[[str], str],
    label_handler: Callable[[str], str],
    team: str | None = None,
) -> list[tuple[str, int, int | None]]:
    """``(label, open, capacity)``: per team, or per handler of ``team`` when given."""
    rows: list[tuple[str, int, int | None]] = []
    for entry in workload.get("teams", []):
        handlers = entry.get("handlers", [])
        if team is not None:
            if entry.get("team_id") != team:
                continue
            for handler in handlers:
                rows.append(
                    (
                        label_handler(handler["handler_id"]),
                        int(handler["open_cases"]),
                        handler.get("capacity"),
                    )
                )
            continue
        capacities = [h.get("capacity") for h in handlers if h.get("capacity")]
        capacity = sum(capacities) if capacities else None
        rows.append((label_team(entry["team_id"]), int(entry["open_cases"]), capacity))
    return rows


def workload_figure(
    rows: list[tuple[str, int, int | None]], lang: str, scale: float = 1.0
) -> dict[str, Any]:
    """Horizontal bars of open cases over a faint bar of capacity, top row first."""
    rows = list(reversed(rows))
    labels = [label for label, _, _ in rows]
    opened = [n for _, n, _ in rows]
    capacity = [cap or 0 for _, _, cap in rows]
    text = [f"{n}/{cap}" if cap else str(n) for _, n, cap in rows]
    layout = figure_layout(
        scale,
        barmode="overlay",
        uirevision="wall-workload",
        showlegend=False,
        bargap=0.3,
    )
    layout["xaxis"] = {
        **layout["xaxis"],
        "showticklabels": False,
        "showgrid": False,
        "zeroline": False,
    }
    layout["yaxis"] = {
        **layout["yaxis"],
        "automargin": True,
        "showgrid": False,
        "tickfont": {"size": round(24 * scale)},
    }
    layout["margin"] = {**layout["margin"], "l": round(8 * scale), "r": round(72 * scale)}
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": t("wall.capacity", lang),
                "y": labels,
                "x": capacity,
                "marker": {"color": "rgba(147,161,181,0.22)"},
                "hoverinfo": "skip",
            },
            {
                "type": "bar",
                "orientation": "h",
                "name": t("wall.open", lang),
                "y": labels,
                "x": opened,
                "marker": {"color": [load_color(n, cap) for _, n, cap in rows]},
                "text": text,
                "textposition": "outside",
                "cliponaxis": False,
                "textfont": {"size": round(22 * scale)},
            },
        ],
        "layout": layout,
    }


def fingerprint(value: Any) -> str:
    """A short digest of any JSON-able value (skip sending what did not change)."""
    return hashlib.sha1(
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS), usedforsecurity=False
    ).hexdigest()[:16]
