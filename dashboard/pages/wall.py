"""The wall display (大屏) for a TV across the room: ``/wall``.

``?team=ID`` limits every figure to one team, ``?screen=N`` (1-based, or a
screen id) pins a screen instead of rotating, ``?token=`` opens it as a
kiosk without signing in.

Refresh: ``wall-interval`` ticks every ``refresh_seconds``; a clientside gate
passes a tick on only when no refresh is running (Dash itself would send
overlapping requests and drop all but the newest answer) and the tab is
visible. One server callback then returns every number, tile colour, figure
and list. A failed refresh changes nothing on screen; the "updated N s ago"
badge, computed in the browser, turns amber and red instead.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import dash
import flask
from dash import ALL, ClientsideFunction, Input, Output, State, callback, dcc, html

from dashboard.auth import current_identity
from dashboard.components.runtime import current_runtime
from dashboard.components.wall import (
    WALL_FRAME_CACHE,
    alert_ticker,
    clean_team,
    flow_nodes,
    headline_tiles,
    leaderboard_table,
    panel_classes,
    pinned_screen,
    screen_at,
    wall_parts,
    wall_refresh,
)
from dashboard.figures.wall import scale_for
from dashboard.i18n import current_language, t
from dashboard.wall_data import build_snapshot, team_name, wall_view

log = logging.getLogger(__name__)

KIOSK_RELOAD_SECONDS = 6 * 3600
"""A kiosk wall reloads itself this often (its session is renewed from the URL's token)."""

dash.register_page(
    __name__,
    path="/wall",
    title="投诉运营大屏 · ComplaintOps",
    name="大屏",
    nav_label={"zh": "大屏", "en": "Wall"},
    order=90,
    min_role="leader",
)

GRAPH_CONFIG: Any = {"displayModeBar": False, "staticPlot": True, "responsive": True}


def _client_config(team: str | None, pinned: int | None, lang: str) -> dict[str, Any]:
    runtime = current_runtime()
    wall = runtime.rules.wall
    who = current_identity()
    return {
        "lang": lang,
        "team": team,
        "tz": runtime.settings.timezone,
        "pinned": pinned,
        "refresh_ms": wall.refresh_seconds * 1000,
        "amber_seconds": wall.stale.amber_seconds,
        "red_seconds": wall.stale.red_seconds,
        "screens": [
            {
                "id": s.id,
                "title": s.title.in_language(lang),
                "seconds": s.seconds,
                "panels": list(s.panels),
            }
            for s in wall.screens
        ],
        "reload_seconds": KIOSK_RELOAD_SECONDS if who is not None and who.is_kiosk else None,
        "texts": {
            "updated": t("wall.updated", lang),
            "updated_minutes": t("wall.updated_minutes", lang),
            "celebrate": t("wall.celebrate", lang),
        },
    }


def _panel(
    name: str, classes: dict[str, str], children: Any, title: str | None = None
) -> html.Section:
    body = [html.H2(title, className="wall-panel__title")] if title else []
    return html.Section([*body, children], id=f"wall-panel-{name}", className=classes[name])


def layout(team: Any = None, screen: Any = None, **_query: Any) -> html.Div:
    runtime = current_runtime()
    lang = current_language()
    team = clean_team(team)
    screens = runtime.rules.wall.screens
    pinned = pinned_screen(screen if isinstance(screen, str) else None, screens)
    current = screens[screen_at(screens, time.time(), pinned)]
    classes = panel_classes(current)
    try:
        snapshot = build_snapshot(runtime, team)
    except Exception as exc:  # keep the page up; the badge shows the data as stale
        log.warning("wall: first read failed: %s", exc)
        snapshot = None
    view = wall_view(runtime, snapshot, lang) if snapshot is not None else None
    values = view["values"] if view else {}
    levels = view["levels"] if view else {}
    parts: dict[str, Any] = {"throughput": {}, "workload": {}}
    hashes: dict[str, str] = {}
    if snapshot is not None and view is not None:
        parts, hashes = wall_parts(runtime, snapshot, view, lang, scale_for(None))
    who = current_identity()
    home = (
        html.A(t("wall.home", lang), href="/", className="wall-header__home")
        if who is not None and not who.is_kiosk
        else None
    )
    header = html.Header(
        [
            html.Div(
                [
                    html.H1(
                        current.title.in_language(lang),
                        id="wall-screen-title",
                        className="wall-header__title",
                    ),
                    html.Span(
                        team_name(runtime, team, lang),
                        className="wall-header__team",
                        id="wall-team",
                    ),
                ],
                className="wall-header__left",
            ),
            html.Div("", id="wall-celebration", className="wall-celebration", role="status"),
            html.Div(
                [
                    html.Span("", id="wall-clock-text", className="wall-header__clock"),
                    html.Span("", id="wall-badge", className="co-badge co-badge--ok wall-badge"),
                    home,
                ],
                className="wall-header__right",
            ),
        ],
        className="wall-header",
    )
    charts = html.Div(
        [
            _panel(
                "throughput",
                classes,
                dcc.Graph(
                    id="wall-throughput-graph",
                    figure=parts["throughput"],
                    config=GRAPH_CONFIG,
                    className="wall-graph",
                ),
                t("wall.throughput", lang),
            ),
            _panel(
                "workload",
                classes,
                dcc.Graph(
                    id="wall-workload-graph",
                    figure=parts["workload"],
                    config=GRAPH_CONFIG,
                    className="wall-graph",
                ),
                t("wall.workload_handlers" if team else "wall.workload", lang),
            ),
            _panel(
                "leaderboard",
                classes,
                html.Div(
                    parts.get("leaderboard", leaderboard_table(None, lang)),
                    id="wall-leaderboard-body",
                    className="wall-leaderboard",
                ),
                t("wall.leaderboard", lang),
            ),
        ],
        className="wall-row",
    )
    stores = [
        dcc.Store(id="wall-config", data=_client_config(team, pinned, lang)),
        dcc.Store(id="wall-meta", data=view["meta"] if view else None),
        dcc.Store(id="wall-received"),
        dcc.Store(id="wall-busy", data=False),
        dcc.Store(id="wall-tick"),
        dcc.Store(id="wall-top3-prev"),
        dcc.Store(id="wall-visibility", data="visible"),
        dcc.Store(id="wall-viewport"),
        dcc.Store(id="wall-hashes", data=hashes),
        dcc.Interval(id="wall-interval", interval=runtime.rules.wall.refresh_seconds * 1000),
        dcc.Interval(id="wall-clock", interval=1000),
    ]
    return html.Div(
        [
            *stores,
            header,
            _panel(
                "tiles",
                classes,
                html.Div(headline_tiles(values, levels, lang), className="wall-tiles"),
            ),
            _panel(
                "flow",
                classes,
                html.Div(flow_nodes(values, levels, lang), className="wall-flow"),
                t("wall.flow", lang),
            ),
            charts,
            _panel(
                "alerts",
                classes,
                html.Div(
                    parts.get("alerts", alert_ticker(None, lang)),
                    id="wall-alerts-ticker",
                    className="wall-ticker",
                ),
            ),
        ],
        className="wall-root",
        id="wall-root",
    )


# -- callbacks -------------------------------------------------------------------------

dash.clientside_callback(
    ClientsideFunction(namespace="complaintops_wall", function_name="gate"),
    Output("wall-tick", "data"),
    Input("wall-interval", "n_intervals"),
    State("wall-busy", "data"),
    prevent_initial_call=True,
)


@callback(
    Output({"type": "wall-value", "field": ALL, "slot": ALL}, "children"),
    Output({"type": "wall-tile", "field": ALL}, "className"),
    Output("wall-throughput-graph", "figure"),
    Output("wall-workload-graph", "figure"),
    Output("wall-leaderboard-body", "children"),
    Output("wall-alerts-ticker", "children"),
    Output("wall-meta", "data"),
    Output("wall-hashes", "data"),
    Input("wall-tick", "data"),
    State("wall-config", "data"),
    State("wall-viewport", "data"),
    State("wall-hashes", "data"),
    running=[(Output("wall-busy", "data"), True, False)],
    prevent_initial_call=True,
)
def refresh(tick: Any, config: dict[str, Any], viewport: Any, hashes: Any) -> tuple[Any, ...]:
    outputs = dash.ctx.outputs_list
    cache = flask.current_app.extensions.get(WALL_FRAME_CACHE)
    return wall_refresh(
        current_runtime(), config, viewport, hashes, outputs[0], outputs[1], cache=cache
    )


dash.clientside_callback(
    ClientsideFunction(namespace="complaintops_wall", function_name="received"),
    Output("wall-received", "data"),
    Input("wall-meta", "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="complaintops_wall", function_name="tick"),
    Output("wall-badge", "children"),
    Output("wall-badge", "className"),
    Output("wall-clock-text", "children"),
    Output("wall-screen-title", "children"),
    Output("wall-panel-tiles", "className"),
    Output("wall-panel-flow", "className"),
    Output("wall-panel-throughput", "className"),
    Output("wall-panel-workload", "className"),
    Output("wall-panel-leaderboard", "className"),
    Output("wall-panel-alerts", "className"),
    Output("wall-viewport", "data"),
    Output("wall-root", "className"),
    Input("wall-clock", "n_intervals"),
    Input("wall-received", "data"),
    State("wall-config", "data"),
    State("wall-meta", "data"),
    State("wall-viewport", "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="complaintops_wall", function_name="celebrate"),
    Output("wall-celebration", "children"),
    Output("wall-celebration", "className"),
    Output("wall-top3-prev", "data"),
    Input("wall-meta", "data"),
    State("wall-top3-prev", "data"),
    State("wall-config", "data"),
)

dash.clientside_callback(
    ClientsideFunction(namespace="complaintops_wall", function_name="pause"),
    Output("wall-interval", "disabled"),
    Input("wall-visibility", "data"),
)

__all__ = ["layout"]
