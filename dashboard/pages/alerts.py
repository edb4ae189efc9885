"""Alerts page (/alerts): active, acknowledged and resolved alerts; acknowledge and
silence (team leaders and managers); silences; the on-call rotations and who is on call now.

The table is built by ``alert_rows`` from the same query as ``GET /api/v1/alerts``;
every action is a plain function (``acknowledge_alerts``, ``silence``,
``end_silence``) that the callbacks call after the role check.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, Final

import dash
from dash import Input, Output, State, callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts.email import RULE_TEXT, describe
from alerts.lifecycle import (
    UnknownAlert,
    acknowledge,
    active_silences,
    add_silence,
    cancel_silence,
    counts,
    list_alerts,
    to_view,
)
from alerts.oncall import upcoming
from alerts.rules import RULE_NAMES, load_alerting, zone_of
from complaintops.runtime import Runtime
from config import ConfigError
from dashboard.auth import has_role, require_role
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.components.tile import tile
from dashboard.desk_labels import handler_names, team_names, team_options
from dashboard.desk_layout import (
    BUTTON_STYLE,
    CELL_STYLE,
    ERROR_STYLE,
    HEAD_STYLE,
    INPUT_STYLE,
    LABEL_STYLE,
    NOTE_STYLE,
    PAGE_STYLE,
    TABLE_STYLE,
)
from dashboard.i18n import (
    current_language,
    format_datetime,
    normalise_language,
    register_catalog,
    t,
)
from store.types import to_epoch

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/alerts",
    name="Alerts",
    title="告警 Alerts · ComplaintOps",
    nav_label={"zh": "告警", "en": "Alerts"},
    order=60,
    min_role="leader",
)

ACTION_ROLE: Final = "leader"
"""Who may acknowledge and silence: team leaders and everyone above them."""

REFRESH_SECONDS: Final = 30
VIEW_STATES: Final = ("active", "acknowledged", "resolved", "all")
SILENCE_HOURS: Final = (1, 4, 8, 24, 72)

register_catalog(
    {
        "zh": {
            "alerts.title": "告警",
            "alerts.subtitle": "回访逾期、决定期限、阶段时限、处理人负荷、指标延迟与重大投诉",
            "alerts.state": "状态",
            "alerts.state.active": "未恢复",
            "alerts.state.acknowledged": "已确认",
            "alerts.state.resolved": "已恢复",
            "alerts.state.all": "全部",
            "alerts.team": "团队",
            "alerts.all_teams": "全部团队",
            "alerts.tile_active": "待确认",
            "alerts.tile_acknowledged": "已确认未恢复",
            "alerts.tile_silences": "静音中",
            "alerts.col.id": "编号",
            "alerts.col.severity": "级别",
            "alerts.col.state": "状态",
            "alerts.col.rule": "告警",
            "alerts.col.case": "案件",
            "alerts.col.team": "团队",
            "alerts.col.handler": "处理人",
            "alerts.col.since": "开始",
            "alerts.col.details": "详情",
            "alerts.col.by": "确认人",
            "alerts.severity.critical": "严重",
            "alerts.severity.warning": "警告",
            "alerts.ack": "确认所选告警",
            "alerts.ack_done": "已确认 {count} 个告警。",
            "alerts.ack_none": "所选告警都已确认或已恢复。",
            "alerts.ack_pick": "请先选择要确认的告警。",
            "alerts.pick": "选择要确认的告警（可输入案件号）",
            "alerts.silence_title": "静音",
            "alerts.silence_rule": "告警类型",
            "alerts.silence_team": "团队",
            "alerts.silence_for": "时长",
            "alerts.silence_hours": "{hours} 小时",
            "alerts.silence_comment": "原因",
            "alerts.silence": "静音",
            "alerts.silence_done": "已静音至 {until}。",
            "alerts.silence_pick": "请选择告警类型或团队。",
            "alerts.silence_end": "结束所选静音",
            "alerts.silence_ended": "静音 {id} 已结束。",
            "alerts.silences_none": "当前没有静音。",
            "alerts.silence_scope": "范围",
            "alerts.silence_until": "截止",
            "alerts.silence_by": "设置人",
            "alerts.oncall_title": "值班",
            "alerts.oncall_now": "当前值班",
            "alerts.oncall_next": "接下来",
            "alerts.oncall_none": "oncall.yaml 中没有值班表。",
            "alerts.override": "代班",
            "alerts.view_only": "只有组长、经理和管理员可以确认或静音告警。",
            "alerts.unavailable": "告警数据暂不可用（{reason}）。",
            "alerts.none": "没有告警。",
        },
        "en": {
            "alerts.title": "Alerts",
            "alerts.subtitle": "Return visits, decision deadlines, stage targets, handler load, metrics lag and major complaints",
            "alerts.state": "State",
            "alerts.state.active": "Unresolved",
            "alerts.state.acknowledged": "Acknowledged",
            "alerts.state.resolved": "Resolved",
            "alerts.state.all": "All",
            "alerts.team": "Team",
            "alerts.all_teams": "All teams",
            "alerts.tile_active": "Unacknowledged",
            "alerts.tile_acknowledged": "Acknowledged, unresolved",
            "alerts.tile_silences": "Silences",
            "alerts.col.id": "ID",
            "alerts.col.severity": "Severity",
            "alerts.col.state": "State",
            "alerts.col.rule": "Alert",
            "alerts.col.case": "Case",
            "alerts.col.team": "Team",
            "alerts.col.handler": "Handler",
            "alerts.col.since": "Since",
            "alerts.col.details": "Details",
            "alerts.col.by": "Acknowledged by",
            "alerts.severity.critical": "Critical",
            "alerts.severity.warning": "Warning",
            "alerts.ack": "Acknowledge selected",
            "alerts.ack_done": "Acknowledged {count} alert(s).",
            "alerts.ack_none": "The selected alerts were already acknowledged or resolved.",
            "alerts.ack_pick": "Choose the alerts to acknowledge first.",
            "alerts.pick": "Choose alerts to acknowledge (type a case number)",
            "alerts.silence_title": "Silence",
            "alerts.silence_rule": "Alert",
            "alerts.silence_team": "Team",
            "alerts.silence_for": "For",
            "alerts.silence_hours": "{hours} h",
            "alerts.silence_comment": "Reason",
            "alerts.silence": "Silence",
            "alerts.silence_done": "Silenced until {until}.",
            "alerts.silence_pick": "Choose an alert or a team.",
            "alerts.silence_end": "End the selected silence",
            "alerts.silence_ended": "Silence {id} ended.",
            "alerts.silences_none": "No active silences.",
            "alerts.silence_scope": "Scope",
            "alerts.silence_until": "Until",
            "alerts.silence_by": "By",
            "alerts.oncall_title": "On call",
            "alerts.oncall_now": "On call now",
            "alerts.oncall_next": "Next",
            "alerts.oncall_none": "oncall.yaml has no rotations.",
            "alerts.override": "stand-in",
            "alerts.view_only": "Team leaders, managers and administrators can acknowledge and silence.",
            "alerts.unavailable": "Alerts are unavailable ({reason}).",
            "alerts.none": "No alerts.",
        },
    }
)


# -- the page's data (plain functions) --------------------------------------------------------


def rule_name(rule: str, lang: str) -> str:
    text = RULE_TEXT.get(rule)
    if text is None:
        return rule
    return text.topic_zh if lang == "zh" else text.topic_en


def alert_rows(
    runtime: Runtime, state: str, team: str | None, lang: str, now: float | None = None
) -> list[dict[str, Any]]:
    """Table rows: newest first; ``state`` is active, acknowledged, resolved or all."""
    now = time.time() if now is None else now
    query_state = "active" if state == "acknowledged" else state
    teams = team_names(runtime.rules, lang)
    handlers = handler_names(runtime.rules)
    rows = []
    with Session(runtime.engine) as session:
        for alert in list_alerts(session, state=query_state, team=team):
            if state == "acknowledged" and alert.state != "acknowledged":
                continue
            view = to_view(alert)
            zh, en = describe(view, runtime.tz, now)
            rows.append(
                {
                    "id": alert.id,
                    "severity": t(f"alerts.severity.{alert.severity}", lang),
                    "state": t(f"alerts.state.{alert.state}", lang)
                    if alert.state != "active"
                    else t("alerts.tile_active", lang),
                    "state_key": alert.state,
                    "severity_key": alert.severity,
                    "rule": rule_name(alert.rule, lang),
                    "case": alert.case_id or "",
                    "team": teams.get(alert.team_id or "", alert.team_id or ""),
                    "handler": handlers.get(alert.handler_id or "", alert.handler_id or ""),
                    "since": format_datetime(to_epoch(alert.started_at), runtime.tz, lang),
                    "details": zh if lang == "zh" else en,
                    "by": alert.acknowledged_by or "",
                }
            )
    return rows


def summary_tiles(runtime: Runtime, lang: str, now: float | None = None) -> list[Any]:
    now = time.time() if now is None else now
    with Session(runtime.engine) as session:
        totals = counts(session)
        silenced = len(active_silences(session, now))
    return [
        tile(
            t("alerts.tile_active", lang),
            totals["active"],
            level="red" if totals["active"] else "ok",
            tile_id="alerts-tile-active",
        ),
        tile(
            t("alerts.tile_acknowledged", lang), totals["acknowledged"], tile_id="alerts-tile-acked"
        ),
        tile(t("alerts.tile_silences", lang), silenced, tile_id="alerts-tile-silences"),
    ]


def silence_rows(runtime: Runtime, lang: str, now: float | None = None) -> list[dict[str, Any]]:
    now = time.time() if now is None else now
    teams = team_names(runtime.rules, lang)
    rows = []
    with Session(runtime.engine) as session:
        for silence in active_silences(session, now):
            scope = [
                rule_name(silence.rule, lang) if silence.rule else None,
                teams.get(silence.team_id, silence.team_id) if silence.team_id else None,
                silence.case_id,
            ]
            rows.append(
                {
                    "id": silence.id,
                    "scope": " · ".join(part for part in scope if part),
                    "until": format_datetime(to_epoch(silence.ends_at), runtime.tz, lang),
                    "by": silence.created_by,
                    "comment": silence.comment or "",
                }
            )
    return rows


def oncall_panel(runtime: Runtime, lang: str, now: float | None = None) -> Any:
    """Each rotation: its teams, who is on call now and the next shifts."""
    now = time.time() if now is None else now
    try:
        alerting = load_alerting(runtime.settings, runtime.rules.teams)
    except ConfigError as error:
        return html.P(str(error), className="desk-error", style=ERROR_STYLE)
    oncall = alerting.oncall
    if not oncall.rotations:
        return html.P(t("alerts.oncall_none", lang))
    tz = zone_of(oncall, runtime.tz)
    teams = team_names(runtime.rules, lang)
    items = []
    for rotation in oncall.rotations:
        now_shift, *later = upcoming(oncall, rotation, now, tz, count=4)
        stand_in = f" ({t('alerts.override', lang)})" if now_shift.override else ""
        items.append(
            html.Div(
                [
                    html.H3(
                        " · ".join(teams.get(team, team) for team in rotation.teams),
                        style={"margin": "0 0 4px", "fontSize": "15px"},
                    ),
                    html.P(
                        [
                            html.Strong(f"{t('alerts.oncall_now', lang)}: "),
                            f"{now_shift.person.name} <{now_shift.person.email}>{stand_in}",
                            f" → {format_datetime(now_shift.end, tz, lang)}",
                        ],
                        id=f"alerts-oncall-{rotation.id}",
                    ),
                    html.P(
                        f"{t('alerts.oncall_next', lang)}: "
                        + "；".join(
                            f"{format_datetime(s.start, tz, lang)} {s.person.name}" for s in later
                        ),
                        className="desk-note",
                        style=NOTE_STYLE,
                    ),
                ],
                style={"marginBottom": "12px"},
            )
        )
    return items


def acknowledge_alerts(
    runtime: Runtime, alert_ids: Sequence[int], by: str, lang: str, now: float | None = None
) -> str:
    if not alert_ids:
        return t("alerts.ack_pick", lang)
    now = time.time() if now is None else now
    try:
        with Session(runtime.engine) as session, session.begin():
            changed = acknowledge(session, list(alert_ids), by, "web", now)
    except UnknownAlert as error:
        return str(error)
    if not changed:
        return t("alerts.ack_none", lang)
    return t("alerts.ack_done", lang, count=len(changed))


def silence(
    runtime: Runtime,
    *,
    rule: str | None,
    team: str | None,
    hours: float,
    comment: str | None,
    by: str,
    lang: str,
    now: float | None = None,
) -> str:
    if not rule and not team:
        return t("alerts.silence_pick", lang)
    now = time.time() if now is None else now
    with Session(runtime.engine) as session, session.begin():
        add_silence(
            session,
            rule=rule or None,
            team=team or None,
            until=now + hours * 3600,
            by=by,
            now=now,
            comment=(comment or "").strip() or None,
        )
    return t(
        "alerts.silence_done", lang, until=format_datetime(now + hours * 3600, runtime.tz, lang)
    )


def end_silence(runtime: Runtime, silence_id: int, lang: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    with Session(runtime.engine) as session, session.begin():
        cancel_silence(session, silence_id, now)
    return t("alerts.silence_ended", lang, id=silence_id)


# -- layout --------------------------------------------------------------------------------------

COLUMNS: Final = (
    "id",
    "severity",
    "state",
    "rule",
    "case",
    "team",
    "handler",
    "since",
    "details",
    "by",
)
SEVERITY_COLOURS: Final = {"critical": "#ff5a5f", "warning": "#ffb020"}


def alerts_table(rows: Sequence[dict[str, Any]], lang: str) -> Any:
    """The alert rows as a table; cases link to the case page."""
    if not rows:
        return html.P(t("alerts.none", lang), id="alerts-empty")
    head = html.Thead(
        html.Tr([html.Th(t(f"alerts.col.{name}", lang), style=HEAD_STYLE) for name in COLUMNS])
    )
    body = []
    for row in rows:
        cells = []
        for name in COLUMNS:
            value: Any = row[name]
            style = dict(CELL_STYLE)
            if name == "case" and value:
                value = html.A(value, href=f"/cases?case={value}", className="co-link")
            if name == "severity":
                style["color"] = SEVERITY_COLOURS.get(row["severity_key"], "inherit")
            cells.append(html.Td(value, style=style))
        faded = {"opacity": 0.6} if row["state_key"] == "resolved" else {}
        body.append(html.Tr(cells, style=faded, id=f"alerts-row-{row['id']}"))
    return html.Table(
        [head, html.Tbody(body)],
        id="alerts-table",
        style=TABLE_STYLE,
    )


def pick_options(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts that can still be acknowledged, for the selection box."""
    return [
        {
            "label": f"#{row['id']} {row['rule']} {row['case'] or row['handler'] or row['team']}",
            "value": row["id"],
        }
        for row in rows
        if row["state_key"] == "active"
    ]


def silences_table(rows: Sequence[dict[str, Any]], lang: str) -> Any:
    if not rows:
        return html.P(t("alerts.silences_none", lang))
    names = ("id", "scope", "until", "by", "comment")
    labels = {
        "id": t("alerts.col.id", lang),
        "scope": t("alerts.silence_scope", lang),
        "until": t("alerts.silence_until", lang),
        "by": t("alerts.silence_by", lang),
        "comment": t("alerts.silence_comment", lang),
    }
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(labels[n], style=HEAD_STYLE) for n in names])),
            html.Tbody(
                [html.Tr([html.Td(row[n], style=CELL_STYLE) for n in names]) for row in rows]
            ),
        ],
        style=TABLE_STYLE,
    )


def _actions(lang: str, runtime: Runtime) -> Any:
    if not has_role(ACTION_ROLE):
        return html.P(
            t("alerts.view_only", lang),
            className="desk-note",
            style=NOTE_STYLE,
            id="alerts-view-only",
        )
    rule_options = [{"label": rule_name(name, lang), "value": name} for name in RULE_NAMES]
    row_style = {"display": "flex", "gap": "8px", "alignItems": "center", "flexWrap": "wrap"}
    return html.Div(
        [
            html.Div(
                [
                    dcc.Dropdown(
                        id="alerts-pick",
                        options=[],
                        multi=True,
                        placeholder=t("alerts.pick", lang),
                        style={"minWidth": "420px", "flex": "1"},
                    ),
                    html.Button(
                        t("alerts.ack", lang),
                        id="alerts-ack",
                        n_clicks=0,
                        className="desk-button",
                        style=BUTTON_STYLE,
                    ),
                ],
                style=row_style,
            ),
            html.Div(
                [
                    html.Strong(t("alerts.silence_title", lang)),
                    dcc.Dropdown(
                        id="alerts-silence-rule",
                        options=rule_options,
                        placeholder=t("alerts.silence_rule", lang),
                        style={"minWidth": "200px"},
                    ),
                    dcc.Dropdown(
                        id="alerts-silence-team",
                        options=team_options(runtime.rules, lang),
                        placeholder=t("alerts.silence_team", lang),
                        style={"minWidth": "200px"},
                    ),
                    dcc.Dropdown(
                        id="alerts-silence-hours",
                        options=[
                            {"label": t("alerts.silence_hours", lang, hours=h), "value": h}
                            for h in SILENCE_HOURS
                        ],
                        value=SILENCE_HOURS[0],
                        clearable=False,
                        style={"minWidth": "110px"},
                    ),
                    dcc.Input(
                        id="alerts-silence-comment",
                        placeholder=t("alerts.silence_comment", lang),
                        maxLength=500,
                        style={**INPUT_STYLE, "width": "280px"},
                    ),
                    html.Button(
                        t("alerts.silence", lang),
                        id="alerts-silence",
                        n_clicks=0,
                        className="desk-button",
                        style=BUTTON_STYLE,
                    ),
                ],
                style=row_style,
            ),
            html.Div(
                [
                    dcc.Dropdown(
                        id="alerts-silence-pick",
                        options=[],
                        placeholder=t("alerts.silence_end", lang),
                        style={"minWidth": "320px"},
                    ),
                    html.Button(
                        t("alerts.silence_end", lang),
                        id="alerts-silence-end",
                        n_clicks=0,
                        className="desk-button",
                        style=BUTTON_STYLE,
                    ),
                ],
                style=row_style,
            ),
            html.Div(id="alerts-message", role="status"),
        ],
        style={"display": "grid", "gap": "12px"},
    )


def layout(
    lang: str | None = None, state: str | None = None, team: str | None = None, **_: Any
) -> Any:
    language = normalise_language(lang) or current_language()
    runtime = current_runtime()
    controls = html.Div(
        [
            html.Label(
                t("alerts.state", language),
                htmlFor="alerts-state",
                className="desk-label",
                style=LABEL_STYLE,
            ),
            dcc.RadioItems(
                id="alerts-state",
                options=[
                    {"label": t(f"alerts.state.{s}", language), "value": s} for s in VIEW_STATES
                ],
                value=state if state in VIEW_STATES else "active",
                inline=True,
                className="desk-radio",
            ),
            html.Label(
                t("alerts.team", language),
                htmlFor="alerts-team",
                className="desk-label",
                style=LABEL_STYLE,
            ),
            dcc.Dropdown(
                id="alerts-team",
                options=team_options(runtime.rules, language),
                value=team or None,
                placeholder=t("alerts.all_teams", language),
                clearable=True,
                style={"minWidth": "240px"},
            ),
        ],
        style={"display": "flex", "gap": "12px", "alignItems": "center", "flexWrap": "wrap"},
    )
    return html.Div(
        [
            page_header(t("alerts.title", language), t("alerts.subtitle", language), controls),
            html.Div(id="alerts-error", role="alert"),
            html.Div(id="alerts-tiles", className="co-tiles", style={"margin": "12px 0"}),
            panel(None, _actions(language, runtime)),
            panel(None, html.Div(id="alerts-table-wrap"), panel_id="alerts-table-panel"),
            html.Div(
                [
                    panel(t("alerts.silence_title", language), html.Div(id="alerts-silences")),
                    panel(t("alerts.oncall_title", language), html.Div(id="alerts-oncall")),
                ],
                style={
                    "display": "grid",
                    "gridTemplateColumns": "repeat(auto-fit, minmax(480px, 1fr))",
                    "gap": "12px",
                    "marginTop": "12px",
                },
            ),
            dcc.Store(id="alerts-changed", data=0),
            dcc.Interval(id="alerts-refresh", interval=REFRESH_SECONDS * 1000),
        ],
        className="co-page desk-page",
        id="alerts-page",
        style=PAGE_STYLE,
    )


# -- callbacks ----------------------------------------------------------------------------------


@callback(
    Output("alerts-table-wrap", "children"),
    Output("alerts-tiles", "children"),
    Output("alerts-silences", "children"),
    Output("alerts-oncall", "children"),
    Output("alerts-error", "children"),
    Input("alerts-state", "value"),
    Input("alerts-team", "value"),
    Input("alerts-refresh", "n_intervals"),
    Input("alerts-changed", "data"),
)
def refresh(state: str | None, team: str | None, _ticks: Any, _changed: Any) -> tuple[Any, ...]:
    lang = current_language()
    runtime = current_runtime()
    try:
        rows = alert_rows(runtime, state if state in VIEW_STATES else "active", team or None, lang)
        tiles = summary_tiles(runtime, lang)
        silences = silence_rows(runtime, lang)
    except SQLAlchemyError as error:
        log.warning("alerts page: data unavailable: %s", error)
        message = t("alerts.unavailable", lang, reason=type(error).__name__)
        return (
            dash.no_update,
            dash.no_update,
            dash.no_update,
            dash.no_update,
            html.P(message, className="desk-error", style=ERROR_STYLE),
        )
    return (
        alerts_table(rows, lang),
        tiles,
        silences_table(silences, lang),
        oncall_panel(runtime, lang),
        None,
    )


@callback(
    Output("alerts-pick", "options"),
    Output("alerts-silence-pick", "options"),
    Input("alerts-team", "value"),
    Input("alerts-refresh", "n_intervals"),
    Input("alerts-changed", "data"),
)
def refresh_choices(team: str | None, _ticks: Any, _changed: Any) -> tuple[Any, Any]:
    lang = current_language()
    runtime = current_runtime()
    try:
        rows = alert_rows(runtime, "active", team or None, lang)
        silences = silence_rows(runtime, lang)
    except SQLAlchemyError:
        return dash.no_update, dash.no_update
    silence_options = [
        {"label": f"#{row['id']} {row['scope']} → {row['until']}", "value": row["id"]}
        for row in silences
    ]
    return pick_options(rows), silence_options


@callback(
    Output("alerts-message", "children", allow_duplicate=True),
    Output("alerts-changed", "data", allow_duplicate=True),
    Output("alerts-pick", "value"),
    Input("alerts-ack", "n_clicks"),
    State("alerts-pick", "value"),
    State("alerts-changed", "data"),
    prevent_initial_call=True,
)
def on_acknowledge(
    clicks: int | None, picked: list[Any] | None, changed: int | None
) -> tuple[Any, Any, Any]:
    if not clicks:
        return dash.no_update, dash.no_update, dash.no_update
    who = require_role(ACTION_ROLE)
    ids = [int(value) for value in picked or [] if str(value).isdigit()]
    message = acknowledge_alerts(current_runtime(), ids, who.username, current_language())
    return message, (changed or 0) + 1, []


@callback(
    Output("alerts-message", "children", allow_duplicate=True),
    Output("alerts-changed", "data", allow_duplicate=True),
    Input("alerts-silence", "n_clicks"),
    State("alerts-silence-rule", "value"),
    State("alerts-silence-team", "value"),
    State("alerts-silence-hours", "value"),
    State("alerts-silence-comment", "value"),
    State("alerts-changed", "data"),
    prevent_initial_call=True,
)
def on_silence(
    clicks: int | None,
    rule: str | None,
    team: str | None,
    hours: Any,
    comment: str | None,
    changed: int | None,
) -> tuple[Any, Any]:
    if not clicks:
        return dash.no_update, dash.no_update
    who = require_role(ACTION_ROLE)
    try:
        duration = float(hours) if float(hours) in SILENCE_HOURS else SILENCE_HOURS[0]
    except (TypeError, ValueError):
        duration = SILENCE_HOURS[0]
    runtime = current_runtime()
    known_team = team if team in runtime.rules.teams.team_ids() else None
    message = silence(
        runtime,
        rule=rule if rule in RULE_NAMES else None,
        team=known_team,
        hours=duration,
        comment=comment,
        by=who.username,
        lang=current_language(),
    )
    return message, (changed or 0) + 1


@callback(
    Output("alerts-message", "children", allow_duplicate=True),
    Output("alerts-changed", "data", allow_duplicate=True),
    Input("alerts-silence-end", "n_clicks"),
    State("alerts-silence-pick", "value"),
    State("alerts-changed", "data"),
    prevent_initial_call=True,
)
def on_end_silence(clicks: int | None, picked: Any, changed: int | None) -> tuple[Any, Any]:
    if not clicks or picked is None or not str(picked).isdigit():
        return dash.no_update, dash.no_update
    require_role(ACTION_ROLE)
    message = end_silence(current_runtime(), int(picked), current_language())
    return message, (changed or 0) + 1
