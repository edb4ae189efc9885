"""Workload page (/workload): team × stage and handler × stage heat maps,
capacity use, aging of open cases and the handler pressure index (情绪管理)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Final, NamedTuple

import dash
import plotly.graph_objects as go
import redis
from dash import Input, Output, State, callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from complaintops.runtime import Runtime
from dashboard import export
from dashboard.components.badge import badge
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.components.tile import tile
from dashboard.desk_labels import handler_names, team_names, team_options, translator
from dashboard.desk_layout import (
    BUTTON_STYLE,
    CONTROLS_STYLE,
    GRAPH_CONFIG,
    GRID_STYLE,
    PAGE_STYLE,
    TILES_STYLE,
    error,
    note,
    table,
    team_filter,
)
from dashboard.figures import workload as figures
from dashboard.figures.desk_style import empty_figure
from dashboard.i18n import (
    current_language,
    format_number,
    format_percent,
    normalise_language,
    register_catalog,
    t,
)
from dashboard.queries import workload as queries
from dashboard.queries.workload import Pressure

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/workload",
    name="Workload",
    title="工作量 Workload · ComplaintOps",
    nav_label={"zh": "工作量", "en": "Workload"},
    order=30,
)

REFRESH_SECONDS: Final = 60
ROOM_LIST_SIZE: Final = 5

register_catalog(
    {
        "zh": {
            "workload.title": "工作量与压力",
            "workload.subtitle": "各团队、各处理人的在办量、容量使用、案龄与压力指数",
            "workload.team_matrix": "团队 × 环节 在办量",
            "workload.handler_matrix": "处理人 × 环节 在办量",
            "workload.capacity_title": "处理人容量使用",
            "workload.aging_title": "在办案件案龄",
            "workload.pressure_title": "处理人压力指数（情绪管理）",
            "workload.pressure_table_title": "压力指数明细",
            "workload.room_title": "尚有余量的处理人",
            "workload.room_none": "目前没有处理人有余量。",
            "workload.room_item": "{name}：还可承接 {room} 件（压力指数 {index}）",
            "workload.open_cases": "在办案件",
            "workload.cases": "件",
            "workload.capacity": "容量",
            "workload.capacity_use": "容量使用",
            "workload.room": "余量",
            "workload.urgent": "紧急",
            "workload.serious": "重大/监管",
            "workload.overdue": "回访逾期",
            "workload.pressure_index": "压力指数",
            "workload.handler": "处理人",
            "workload.team": "团队",
            "workload.band": "等级",
            "workload.age.0-3": "0–3 天",
            "workload.age.4-7": "4–7 天",
            "workload.age.8-15": "8–15 天",
            "workload.age.15+": "15 天以上",
            "workload.kpi_open": "在办案件",
            "workload.kpi_capacity": "总容量",
            "workload.kpi_use": "容量使用率",
            "workload.kpi_room": "有余量的处理人",
            "workload.kpi_red": "高压力处理人",
            "workload.formula": (
                "压力指数 = 100 ×（0.5 × 在办量/容量〔上限 2〕 + 0.2 × 紧急案件占比 "
                "+ 0.2 × 重大或监管升级案件占比〔上限 1〕 + 0.1 × 回访逾期占比），最高 100。"
                "满负荷单项即为 50，达到容量的 140% 即为告警。"
                "低于 40 为正常（绿），40–69 关注（黄），70 及以上告警（红）。"
                "未配置容量的处理人不计在办量一项。"
            ),
            "workload.export_name": "处理人压力指数",
        },
        "en": {
            "workload.title": "Workload and pressure",
            "workload.subtitle": "Open cases, capacity use, case age and pressure per team and handler",
            "workload.team_matrix": "Open cases: team × stage",
            "workload.handler_matrix": "Open cases: handler × stage",
            "workload.capacity_title": "Handler capacity use",
            "workload.aging_title": "Age of open cases",
            "workload.pressure_title": "Handler pressure index",
            "workload.pressure_table_title": "Pressure index by handler",
            "workload.room_title": "Handlers with room",
            "workload.room_none": "No handler has room right now.",
            "workload.room_item": "{name}: can take {room} more (pressure {index})",
            "workload.open_cases": "Open cases",
            "workload.cases": "cases",
            "workload.capacity": "Capacity",
            "workload.capacity_use": "Capacity use",
            "workload.room": "Room",
            "workload.urgent": "Urgent",
            "workload.serious": "Major/regulator",
            "workload.overdue": "Return visits overdue",
            "workload.pressure_index": "Pressure index",
            "workload.handler": "Handler",
            "workload.team": "Team",
            "workload.band": "Level",
            "workload.age.0-3": "0–3 days",
            "workload.age.4-7": "4–7 days",
            "workload.age.8-15": "8–15 days",
            "workload.age.15+": "Over 15 days",
            "workload.kpi_open": "Open cases",
            "workload.kpi_capacity": "Capacity",
            "workload.kpi_use": "Capacity use",
            "workload.kpi_room": "Handlers with room",
            "workload.kpi_red": "Handlers under high pressure",
            "workload.formula": (
                "Pressure index = 100 × (0.5 × open cases / capacity [at most 2] + 0.2 × share "
                "of urgent cases + 0.2 × share of major or regulator-escalated cases [at most 1] "
                "+ 0.1 × share of overdue return visits), at most 100. A full handler scores 50 "
                "from load alone; 140 % of capacity is red. Below 40 is OK (green), 40–69 watch "
                "(amber), 70 and above alert (red). Handlers without a configured capacity get "
                "no load term."
            ),
            "workload.export_name": "handler-pressure",
        },
    }
)


# -- the page's data ------------------------------------------------------------------


class WorkloadView(NamedTuple):
    kpis: list[Any]
    team_matrix: go.Figure
    handler_matrix: go.Figure
    capacity: go.Figure
    aging: go.Figure
    pressure: go.Figure
    pressure_table: Any
    room: Any


def build_view(runtime: Runtime, lang: str, team: str | None) -> WorkloadView:
    tr = translator(lang)
    query = runtime.query
    now = query.clock()
    configured = runtime.configured_handlers()
    loads = queries.team_loads(query, configured, team=team)
    teams = team_names(runtime.rules, lang)
    people = handler_names(runtime.rules)
    listed = [h for h, _ in configured.get(team, [])] if team else []
    handler_matrix = queries.handler_stage_matrix(runtime.engine, team=team, handlers=listed)
    capacities = queries.handler_capacity(loads)
    team_capacity = queries.team_capacity(loads)
    pressures = queries.handler_pressure(query, loads, now=now)
    open_cases = sum(t.open_cases for t in loads)
    capacity_values = [c.capacity for c in team_capacity if c.capacity is not None]
    capacity = sum(capacity_values) if capacity_values else None
    with_room = [p for p in pressures if p.room and p.band != "red"]
    kpis = [
        tile(t("workload.kpi_open", lang), format_number(open_cases), tile_id="workload-kpi-open"),
        tile(
            t("workload.kpi_capacity", lang),
            format_number(capacity),
            tile_id="workload-kpi-capacity",
        ),
        tile(
            t("workload.kpi_use", lang),
            format_percent(open_cases / capacity if capacity else None),
            level=_use_level(open_cases, capacity),
            tile_id="workload-kpi-use",
        ),
        tile(
            t("workload.kpi_room", lang),
            format_number(len(with_room)),
            level="amber" if pressures and not with_room else "ok",
            tile_id="workload-kpi-room",
        ),
        tile(
            t("workload.kpi_red", lang),
            format_number(sum(1 for p in pressures if p.band == "red")),
            level="red" if any(p.band == "red" for p in pressures) else "ok",
            tile_id="workload-kpi-red",
        ),
    ]
    no_data = t("desk.no_data", lang)
    return WorkloadView(
        kpis=kpis,
        team_matrix=figures.stage_heatmap(queries.team_stage_matrix(loads), tr, teams)
        if loads
        else empty_figure(no_data),
        handler_matrix=figures.stage_heatmap(handler_matrix, tr, people)
        if handler_matrix.rows
        else empty_figure(no_data),
        capacity=figures.capacity_figure(capacities, tr, people)
        if capacities
        else empty_figure(no_data),
        aging=figures.aging_figure(queries.aging(query, team=team, now=now), tr),
        pressure=figures.pressure_figure(pressures, tr, people)
        if pressures
        else empty_figure(no_data),
        pressure_table=pressure_table(pressures, lang, teams, people),
        room=room_list(with_room, lang, people),
    )


def _use_level(open_cases: int, capacity: int | None) -> str:
    if not capacity:
        return "ok"
    use = open_cases / capacity
    return "red" if use > 1 else "amber" if use >= 0.8 else "ok"


PRESSURE_COLUMNS: Final = (
    "workload.handler",
    "workload.team",
    "workload.open_cases",
    "workload.capacity",
    "workload.room",
    "workload.urgent",
    "workload.serious",
    "workload.overdue",
    "workload.pressure_index",
)


def pressure_rows(
    pressures: list[Pressure], teams: dict[str, str], people: dict[str, str]
) -> list[list[Any]]:
    """The pressure table's rows (also the CSV export), highest pressure first."""
    return [
        [
            people.get(p.handler_id, p.handler_id),
            teams.get(p.team_id, p.team_id),
            p.open_cases,
            p.capacity,
            p.room,
            p.urgent,
            p.serious,
            p.overdue,
            p.index,
        ]
        for p in pressures
    ]


def pressure_table(
    pressures: list[Pressure], lang: str, teams: dict[str, str], people: dict[str, str]
) -> html.Table:
    rows = []
    for p, row in zip(pressures, pressure_rows(pressures, teams, people), strict=True):
        shown: list[Any] = [row[0], row[1], *(format_number(value) for value in row[2:8])]
        shown.append(badge(format_number(p.index, decimals=1), p.band))
        rows.append(shown)
    headers = [t(key, lang) for key in PRESSURE_COLUMNS]
    numeric = [False, False] + [True] * (len(PRESSURE_COLUMNS) - 2)
    return table(headers, rows, "workload-pressure-table", numeric)


def room_list(with_room: list[Pressure], lang: str, people: dict[str, str]) -> Any:
    if not with_room:
        return note(t("workload.room_none", lang))
    best = sorted(with_room, key=lambda p: (-(p.room or 0), p.index, p.handler_id))
    return html.Ul(
        [
            html.Li(
                t(
                    "workload.room_item",
                    lang,
                    name=people.get(p.handler_id, p.handler_id),
                    room=format_number(p.room),
                    index=format_number(p.index),
                )
            )
            for p in best[:ROOM_LIST_SIZE]
        ],
        className="desk-list",
        style={"margin": 0, "paddingLeft": "20px", "lineHeight": 1.9},
    )


# -- layout ----------------------------------------------------------------------------


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG)


def layout(lang: str | None = None, team: str | None = None, **_: Any) -> html.Div:
    language = normalise_language(lang) or current_language()
    runtime = current_runtime()
    controls = html.Div(
        [
            *team_filter(
                "workload",
                team_options(runtime.rules, language),
                team or None,
                t("desk.team", language),
                t("desk.all_teams", language),
            ),
        ],
        className="desk-controls",
        style=CONTROLS_STYLE,
    )
    return html.Div(
        [
            page_header(t("workload.title", language), t("workload.subtitle", language), controls),
            html.Div(id="workload-error", role="alert"),
            html.Div(id="workload-kpis", className="desk-tiles", style=TILES_STYLE),
            html.Div(
                [
                    panel(t("workload.team_matrix", language), _graph("workload-team-matrix")),
                    panel(t("workload.aging_title", language), _graph("workload-aging")),
                    panel(
                        t("workload.handler_matrix", language), _graph("workload-handler-matrix")
                    ),
                    panel(t("workload.capacity_title", language), _graph("workload-capacity")),
                ],
                className="desk-grid",
                style=GRID_STYLE,
            ),
            html.Div(
                [
                    panel(
                        t("workload.pressure_title", language),
                        [
                            _graph("workload-pressure"),
                            note(t("workload.formula", language)),
                        ],
                    ),
                    panel(t("workload.room_title", language), html.Div(id="workload-room")),
                ],
                className="desk-grid",
                style=GRID_STYLE,
            ),
            panel(
                t("workload.pressure_table_title", language),
                [
                    html.Button(
                        t("desk.export_csv", language),
                        id="workload-export",
                        className="desk-button",
                        style=BUTTON_STYLE,
                        n_clicks=0,
                    ),
                    dcc.Download(id="workload-download"),
                    html.Div(id="workload-table", className="desk-table-wrap"),
                ],
            ),
            dcc.Interval(id="workload-refresh", interval=REFRESH_SECONDS * 1000),
        ],
        className="co-page desk-page",
        id="workload-page",
        style=PAGE_STYLE,
    )


# -- callbacks ---------------------------------------------------------------------------


@callback(
    Output("workload-kpis", "children"),
    Output("workload-team-matrix", "figure"),
    Output("workload-handler-matrix", "figure"),
    Output("workload-capacity", "figure"),
    Output("workload-aging", "figure"),
    Output("workload-pressure", "figure"),
    Output("workload-table", "children"),
    Output("workload-room", "children"),
    Output("workload-error", "children"),
    Input("workload-team", "value"),
    Input("workload-refresh", "n_intervals"),
)
def refresh(team: str | None, _ticks: int | None) -> tuple[Any, ...]:
    lang = current_language()
    try:
        view = build_view(current_runtime(), lang, team or None)
    except (redis.RedisError, SQLAlchemyError) as exc:
        log.warning("workload page: data unavailable: %s", exc)
        blank = empty_figure(t("desk.no_data", lang))
        message = t("desk.unavailable", lang, reason=type(exc).__name__)
        return (
            [],
            blank,
            blank,
            blank,
            blank,
            blank,
            None,
            None,
            error(message),
        )
    return (*view, None)


@callback(
    Output("workload-download", "data"),
    Input("workload-export", "n_clicks"),
    State("workload-team", "value"),
    prevent_initial_call=True,
)
def export_pressure(n_clicks: int | None, team: str | None) -> Any:
    if not n_clicks:
        return dash.no_update
    lang = current_language()
    runtime = current_runtime()
    return pressure_csv(runtime, lang, team or None)


def pressure_csv(runtime: Runtime, lang: str, team: str | None) -> dict[str, Any]:
    """The pressure table as a ``dcc.Download`` CSV."""
    loads = queries.team_loads(runtime.query, runtime.configured_handlers(), team=team)
    pressures = queries.handler_pressure(runtime.query, loads, now=runtime.query.clock())
    rows = pressure_rows(pressures, team_names(runtime.rules, lang), handler_names(runtime.rules))
    headers = [t(key, lang) for key in PRESSURE_COLUMNS]
    moment = datetime.fromtimestamp(runtime.query.clock(), runtime.tz)
    return export.download(t("workload.export_name", lang), headers, rows, moment)
