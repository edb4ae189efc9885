"""The wall display's parts and what one refresh sends to the browser.

Pure builders: the page (``dashboard/pages/wall.py``) lays them out and its
callbacks call ``refresh_outputs``; tests call these functions directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from dash import html, no_update

from complaintops.runtime import Runtime
from config.rules import PANEL_NAMES, Screen
from dashboard.components.theme import html_attributes, level_class
from dashboard.figures.wall import (
    fingerprint,
    scale_for,
    throughput_figure,
    workload_figure,
    workload_rows,
)
from dashboard.i18n import stage_name, t
from dashboard.wall_data import (
    HEADLINE_FIELDS,
    WallSnapshot,
    build_snapshot,
    handler_name,
    output_values,
    team_name,
    wall_view,
)
from events.contract import STAGES

log = logging.getLogger(__name__)

REFRESH_OUTPUTS: Final = 8
"""Outputs of the wall's refresh callback."""
VALUE_TYPE: Final = "wall-value"
TILE_TYPE: Final = "wall-tile"
TILE_CLASS: Final = "wall-tile"
STAGE_CLASS: Final = "wall-stage"
PANEL_CLASS: Final = "wall-panel"


def value_id(field: str, slot: str) -> dict[str, str]:
    """The id of a number; ``slot`` (tiles / flow) keeps ids unique when a
    number shows twice (today's new cases are a tile and the intake's entries)."""
    return {"type": VALUE_TYPE, "field": field, "slot": slot}


def tile_id(field: str) -> dict[str, str]:
    return {"type": TILE_TYPE, "field": field}


def tile_class(field: str, level: str) -> str:
    base = STAGE_CLASS if field.startswith("wip.") else TILE_CLASS
    return f"{base} {level_class(level)}"


def metric_value_element(field: str, text: str, class_name: str, slot: str) -> html.Span:
    """The element whose only text is the number (``data-metric`` = API field)."""
    attributes: dict[str, Any] = {"data-metric": field}
    return html.Span(text, id=value_id(field, slot), className=class_name, **attributes)


def headline_tiles(values: Mapping[str, str], levels: Mapping[str, str], lang: str) -> list[Any]:
    return [
        html.Div(
            [
                html.Div(t(f"wall.{field}", lang), className="wall-tile__label"),
                metric_value_element(field, values.get(field, "—"), "wall-tile__value", "tiles"),
            ],
            id=tile_id(field),
            className=tile_class(field, levels.get(field, "ok")),
        )
        for field in HEADLINE_FIELDS
    ]


def flow_nodes(values: Mapping[str, str], levels: Mapping[str, str], lang: str) -> list[Any]:
    """The six stages left to right with arrows: open cases, and today's in / out."""
    nodes: list[Any] = []
    for number, stage in enumerate(STAGES):
        if number:
            nodes.append(
                html.Div(
                    "→", className="wall-flow__arrow", **html_attributes({"aria-hidden": "true"})
                )
            )
        field = f"wip.{stage}"
        nodes.append(
            html.Div(
                [
                    html.Div(stage_name(stage, lang), className="wall-stage__name"),
                    metric_value_element(
                        field, values.get(field, "—"), "wall-stage__value", "flow"
                    ),
                    html.Div(
                        [
                            html.Span("+", className="wall-stage__sign"),
                            metric_value_element(
                                f"entered_today.{stage}",
                                values.get(f"entered_today.{stage}", "—"),
                                "wall-stage__in",
                                "flow",
                            ),
                            html.Span(" / −", className="wall-stage__sign"),
                            metric_value_element(
                                f"exited_today.{stage}",
                                values.get(f"exited_today.{stage}", "—"),
                                "wall-stage__out",
                                "flow",
                            ),
                            html.Span(
                                " " + t("wall.today_in_out", lang), className="wall-stage__today"
                            ),
                        ],
                        className="wall-stage__moves",
                    ),
                ],
                id=tile_id(field),
                className=tile_class(field, levels.get(field, "ok")),
            )
        )
    return nodes


def _change(change: int | None, lang: str) -> html.Span:
    if change is None:
        return html.Span(
            t("wall.new_entry", lang), className="wall-rank__change wall-rank__change--new"
        )
    if change > 0:
        return html.Span(f"▲{change}", className="wall-rank__change wall-rank__change--up")
    if change < 0:
        return html.Span(f"▼{-change}", className="wall-rank__change wall-rank__change--down")
    return html.Span("–", className="wall-rank__change")


def leaderboard_table(rows: Sequence[Mapping[str, Any]] | None, lang: str) -> Any:
    """Top ten as rows: rank, name, team, points, movement; "—" when unavailable."""
    if rows is None:
        return html.Div("—", className="wall-empty", id="wall-leaderboard-missing")
    if not rows:
        return html.Div(t("wall.unavailable", lang), className="wall-empty")
    return html.Ol(
        [
            html.Li(
                [
                    html.Span(str(row["rank"]), className="wall-rank__rank"),
                    html.Span(str(row["name"]), className="wall-rank__name"),
                    html.Span(str(row["team"]), className="wall-rank__team"),
                    html.Span(str(row["points"]), className="wall-rank__points"),
                    _change(row.get("change"), lang),
                ],
                className="wall-rank" + (" wall-rank--top" if int(row["rank"]) <= 3 else ""),
                **html_attributes({"data-id": str(row["id"])}),
            )
            for row in rows
        ],
        className="wall-ranks",
    )


def alert_ticker(items: Sequence[Mapping[str, str]] | None, lang: str) -> Any:
    """A scrolling line of active alerts; "—" when unavailable."""
    label = html.Span(t("wall.alerts", lang), className="wall-ticker__label")
    if items is None:
        return [label, html.Span("—", className="wall-ticker__empty")]
    if not items:
        return [
            label,
            html.Span(
                t("wall.no_alerts", lang), className="wall-ticker__empty wall-ticker__empty--ok"
            ),
        ]
    entries = [
        html.Span(
            [
                html.Span(
                    item["severity_label"],
                    className=f"co-badge co-badge--{'red' if item['severity'] == 'critical' else 'amber'}",
                ),
                html.Span(item["text"], className="wall-ticker__text"),
                html.Span(item["since"], className="wall-ticker__since"),
            ],
            className="wall-ticker__item",
        )
        for item in items
    ]
    # Twice in a row, so the scroll loops without a gap.
    return [
        label,
        html.Div(
            html.Div(entries + entries, className="wall-ticker__track"),
            className="wall-ticker__window",
        ),
    ]


def workload_figure_for(
    runtime: Runtime, snapshot: WallSnapshot, lang: str, scale: float
) -> dict[str, Any]:
    rows = workload_rows(
        snapshot.workload,
        lambda team_id: team_name(runtime, team_id, lang),
        lambda handler_id: handler_name(runtime, handler_id),
        team=snapshot.team,
    )
    return workload_figure(rows, lang, scale)


def panel_class(name: str, visible: bool) -> str:
    return f"{PANEL_CLASS} {PANEL_CLASS}--{name}" + ("" if visible else f" {PANEL_CLASS}--hidden")


def screen_at(screens: Sequence[Screen], now: float, pinned: int | None = None) -> int:
    """Index of the screen on show at ``now`` (all walls rotate in step); ``pinned`` wins."""
    if pinned is not None and 0 <= pinned < len(screens):
        return pinned
    total = sum(screen.seconds for screen in screens)
    moment = int(now) % total
    for index, screen in enumerate(screens):
        if moment < screen.seconds:
            return index
        moment -= screen.seconds
    return 0


def pinned_screen(value: str | None, screens: Sequence[Screen]) -> int | None:
    """``?screen=`` as a 1-based number or a screen id → index; None when absent or unknown."""
    if not value:
        return None
    if value.isdigit() and 1 <= int(value) <= len(screens):
        return int(value) - 1
    for index, screen in enumerate(screens):
        if screen.id == value:
            return index
    return None


def panel_classes(screen: Screen) -> dict[str, str]:
    return {name: panel_class(name, name in screen.panels) for name in PANEL_NAMES}


def wall_parts(
    runtime: Runtime, snapshot: WallSnapshot, view: Mapping[str, Any], lang: str, scale: float
) -> tuple[dict[str, Any], dict[str, str]]:
    """The figures and lists of the wall, and a fingerprint of each (what they show)."""
    parts: dict[str, Any] = {
        "throughput": throughput_figure(snapshot.throughput, lang, scale),
        "workload": workload_figure_for(runtime, snapshot, lang, scale),
        "leaderboard": leaderboard_table(view["leaderboard"], lang),
        "alerts": alert_ticker(view["alerts"], lang),
    }
    sources = {
        "throughput": parts["throughput"],
        "workload": parts["workload"],
        "leaderboard": view["leaderboard"],
        "alerts": view["alerts"],
    }
    return parts, {name: fingerprint([lang, value]) for name, value in sources.items()}


@dataclass(frozen=True, slots=True)
class WallFrame:
    """Everything the walls of one team, language and screen scale are sent."""

    view: dict[str, Any]
    parts: dict[str, Any]
    hashes: dict[str, str]


def build_frame(runtime: Runtime, snapshot: WallSnapshot, lang: str, scale: float) -> WallFrame:
    view = wall_view(runtime, snapshot, lang)
    parts, hashes = wall_parts(runtime, snapshot, view, lang, scale)
    return WallFrame(view, parts, hashes)


WALL_FRAME_CACHE: Final = "complaintops.wall_frames"
"""Where the web server keeps its WallFrameCache (``flask_app.extensions``)."""


class WallFrameCache:
    """Shares one frame among every wall of a (team, language, scale) for ``ttl`` seconds.

    Walls refresh every 2 s; a control room runs dozens of them on the same
    team. With a 1 s lifetime the numbers are at most 1 s older than an
    uncached read, and the server reads Redis and draws the figures once per
    second per view instead of once per display. Kept per process (in the
    Flask app's extensions), one build at a time per key.
    """

    def __init__(self, ttl: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._frames: dict[tuple[str | None, str, float], tuple[float, WallFrame]] = {}
        self._locks: dict[tuple[str | None, str, float], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(
        self,
        runtime: Runtime,
        team: str | None,
        lang: str,
        scale: float,
        build: Callable[..., WallSnapshot] = build_snapshot,
    ) -> WallFrame:
        key = (team, lang, scale)
        cached = self._frames.get(key)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._frames.get(key)
            if cached is not None and self.clock() - cached[0] < self.ttl:
                return cached[1]
            frame = build_frame(runtime, build(runtime, team), lang, scale)
            self._frames[key] = (self.clock(), frame)
            return frame


def refresh_outputs(
    runtime: Runtime,
    snapshot: WallSnapshot,
    lang: str,
    viewport: Mapping[str, Any] | None,
    previous_hashes: Mapping[str, str] | None,
    value_outputs: Sequence[Mapping[str, Any]],
    tile_outputs: Sequence[Mapping[str, Any]],
) -> tuple[Any, ...]:
    """What one refresh returns: numbers, tile colours, figures and lists that
    changed (``no_update`` for those that did not), the meta data and hashes."""
    frame = build_frame(runtime, snapshot, lang, scale_for(viewport))
    return frame_outputs(frame, previous_hashes, value_outputs, tile_outputs)


def frame_outputs(
    frame: WallFrame,
    previous_hashes: Mapping[str, str] | None,
    value_outputs: Sequence[Mapping[str, Any]],
    tile_outputs: Sequence[Mapping[str, Any]],
) -> tuple[Any, ...]:
    view, parts, hashes = frame.view, frame.parts, frame.hashes
    previous = previous_hashes or {}
    changed = [parts[name] if previous.get(name) != hashes[name] else no_update for name in parts]
    classes = {field: tile_class(field, level) for field, level in view["levels"].items()}
    return (
        output_values(value_outputs, view["values"]),
        output_values(tile_outputs, classes, default=tile_class("", "ok")),
        *changed,
        view["meta"],
        hashes,
    )


def clean_team(value: Any) -> str | None:
    """A ``?team=`` value as the API takes it (1 to 64 characters), else None."""
    if not isinstance(value, str) or not value or len(value) > 64:
        return None
    return value


def wall_refresh(
    runtime: Runtime,
    config: Mapping[str, Any],
    viewport: Mapping[str, Any] | None,
    previous_hashes: Mapping[str, str] | None,
    value_outputs: Sequence[Mapping[str, Any]],
    tile_outputs: Sequence[Mapping[str, Any]],
    build: Callable[..., WallSnapshot] = build_snapshot,
    cache: WallFrameCache | None = None,
) -> tuple[Any, ...]:
    """One refresh: fresh outputs, or ``no_update`` everywhere when reading fails
    (the last values stay on screen and the badge ages)."""
    lang = str(config.get("lang", "zh"))
    team = clean_team(config.get("team"))
    scale = scale_for(viewport)
    try:
        if cache is not None:
            frame = cache.get(runtime, team, lang, scale, build)
        else:
            frame = build_frame(runtime, build(runtime, team), lang, scale)
    except Exception as exc:
        log.warning("wall refresh failed: %s", exc)
        return (no_update,) * REFRESH_OUTPUTS
    return frame_outputs(frame, previous_hashes, value_outputs, tile_outputs)
