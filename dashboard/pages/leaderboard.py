"""Leaderboard page (/leaderboard, managers): rankings with their movement, why every
point was given (down to the event), the trend, fair views, team totals per head,
CSV export, and a what-if panel to test and publish a rule change (激励与奖惩机制)."""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import dash
import plotly.graph_objects as go
import redis
from dash import Input, Output, State, callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from complaintops.runtime import Runtime
from config import ConfigError
from dashboard import dates, export
from dashboard.api.routes_leaderboard import today
from dashboard.auth import require_role
from dashboard.components import theme
from dashboard.components.badge import badge
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.components.theme import html_attributes
from dashboard.desk_labels import handler_names, team_names, team_options, translator
from dashboard.figures import leaderboard as figures
from dashboard.figures.desk_style import empty_figure
from dashboard.i18n import (
    current_language,
    format_datetime,
    format_number,
    normalise_language,
    register_catalog,
    t,
)
from dashboard.queries import leaderboard as queries
from events.periods import PERIODS, Period, period_of
from incentives.ledger import FairRow, LedgerLine, TeamRow
from incentives.period_keys import PERIOD_KEY_FORMS
from incentives.publish import PublishedRuleSet, PublishError, RuleSetsUnavailable
from incentives.whatif import WhatIfReport, WhatIfRow

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/leaderboard",
    name="Leaderboard",
    title="排行榜 Leaderboard · ComplaintOps",
    nav_label={"zh": "排行榜", "en": "Leaderboard"},
    min_role="manager",
    order=50,
)

REFRESH_SECONDS: Final = 30
DATA_ERRORS: Final = (redis.RedisError, SQLAlchemyError, RuleSetsUnavailable)

RULE_LABELS: Final[dict[str, tuple[str, str]]] = {
    "decision_on_time": ("按时作出决定", "Decision on time"),
    "decision_late": ("逾期作出决定", "Decision late"),
    "follow_up_on_time": ("按时回访", "Return visit on time"),
    "follow_up_late": ("逾期回访", "Return visit late"),
    "satisfaction": ("首次满意度", "First satisfaction"),
    "escalated_to_regulator": ("升级至监管", "Escalated to the regulator"),
    "reopened": ("重新打开", "Reopened"),
    "rework": ("返工（退回前一环节）", "Rework (back to an earlier stage)"),
}

register_catalog(
    {
        "zh": {
            "leaderboard.title": "激励排行榜",
            "leaderboard.subtitle": "每一分都来自一个事件：规则、事件、案件与时间一目了然",
            "leaderboard.period": "周期",
            "leaderboard.period.day": "日",
            "leaderboard.period.week": "周",
            "leaderboard.period.month": "月",
            "leaderboard.period.quarter": "季度",
            "leaderboard.scope": "范围",
            "leaderboard.scope.handler": "处理人",
            "leaderboard.scope.team": "团队",
            "leaderboard.date": "日期",
            "leaderboard.ranking": "排名（{start} 至 {end}）",
            "leaderboard.rank": "名次",
            "leaderboard.move": "变化",
            "leaderboard.name": "名称",
            "leaderboard.team": "团队",
            "leaderboard.points": "积分",
            "leaderboard.new": "新上榜",
            "leaderboard.empty": "本周期还没有人得分或扣分。",
            "leaderboard.why": "为什么是这些分数",
            "leaderboard.why_note": "每一行是一次加分或扣分：哪条规则、哪个事件、哪个案件、何时发生。",
            "leaderboard.member": "查看",
            "leaderboard.by_rule": "按规则分解",
            "leaderboard.time": "发生时间",
            "leaderboard.rule": "规则",
            "leaderboard.case": "案件",
            "leaderboard.event": "事件",
            "leaderboard.ruleset": "规则版本",
            "leaderboard.lines_more": "仅显示前 {limit} 条，请导出 CSV 查看全部。",
            "leaderboard.trend": "趋势（最近 8 个周期）",
            "leaderboard.fair": "公平视角：按办理案件与案件结构",
            "leaderboard.fair_note": (
                "办理案件：本周期内该处理人名下发生过事件的案件。"
                "预期积分：按各类别的人均每案积分 × 该处理人各类别办理件数求和；"
                "高于预期为正（绿），低于预期为负（红）。"
            ),
            "leaderboard.cases": "办理案件",
            "leaderboard.per_case": "每案积分",
            "leaderboard.expected": "预期积分（按案件结构）",
            "leaderboard.above": "高于预期",
            "leaderboard.mix": "类别构成",
            "leaderboard.teams": "团队合计与人均",
            "leaderboard.headcount": "人数",
            "leaderboard.per_head": "人均积分",
            "leaderboard.export": "导出 CSV",
            "leaderboard.export_lines": "导出明细 CSV",
            "leaderboard.export_name": "排行榜",
            "leaderboard.lines_name": "积分明细",
            "leaderboard.whatif": "规则试算与发布",
            "leaderboard.whatif_note": (
                "粘贴或上传 scoring.yaml，选择一个历史周期，用新规则重放该周期的全部事件"
                "（每个案件从第一个事件开始），发布前查看每一个名次变化。"
            ),
            "leaderboard.upload": "拖入或点击上传 scoring.yaml",
            "leaderboard.whatif_period": "试算周期（{forms}）",
            "leaderboard.whatif_run": "试算",
            "leaderboard.whatif_waiting": "点击“试算”后在此显示积分变化。",
            "leaderboard.whatif_summary": (
                "重放了 {cases} 个案件的 {events} 个事件：{changed} 位处理人、{teams} 个团队的"
                "名次或积分会变化。"
            ),
            "leaderboard.whatif_none": "这些规则不会改变任何名次或积分。",
            "leaderboard.whatif_rank": "名次 现在 → 试算",
            "leaderboard.whatif_points": "积分 现在 → 试算",
            "leaderboard.whatif_now": "现在",
            "leaderboard.whatif_new": "试算",
            "leaderboard.whatif_rules": "各规则积分合计",
            "leaderboard.out": "出榜",
            "leaderboard.publish": "发布",
            "leaderboard.publish_from": "生效日期（最早明天）",
            "leaderboard.publish_note": "发布说明",
            "leaderboard.publish_confirm": (
                "确认发布这些规则？自所选日期 0 点起生效，之前的周期保持不变。"
            ),
            "leaderboard.published": "已发布 {name}：{date} 起生效，发布人 {by}。",
            "leaderboard.published_list": "已发布的规则版本",
            "leaderboard.published_none": "尚未发布过规则版本，使用 scoring.yaml。",
            "leaderboard.published_by": "发布人",
            "leaderboard.published_at": "发布时间",
            "leaderboard.effective_from": "生效日期",
            "leaderboard.note": "说明",
            "leaderboard.no_date": "请选择生效日期。",
            "leaderboard.not_allowed": "只有经理可以试算和发布规则。",
            "leaderboard.bad_period": "试算周期无效：{reason}",
            "leaderboard.bad_upload": "无法读取上传的文件：需要 UTF-8 文本。",
            **{f"leaderboard.rule.{rule}": zh for rule, (zh, _) in RULE_LABELS.items()},
        },
        "en": {
            "leaderboard.title": "Incentive leaderboard",
            "leaderboard.subtitle": "Every point comes from one event: its rule, event, case and time",
            "leaderboard.period": "Period",
            "leaderboard.period.day": "Day",
            "leaderboard.period.week": "Week",
            "leaderboard.period.month": "Month",
            "leaderboard.period.quarter": "Quarter",
            "leaderboard.scope": "Scope",
            "leaderboard.scope.handler": "Handlers",
            "leaderboard.scope.team": "Teams",
            "leaderboard.date": "Date",
            "leaderboard.ranking": "Ranking ({start} to {end})",
            "leaderboard.rank": "Rank",
            "leaderboard.move": "Move",
            "leaderboard.name": "Name",
            "leaderboard.team": "Team",
            "leaderboard.points": "Points",
            "leaderboard.new": "new",
            "leaderboard.empty": "Nobody has gained or lost points in this period yet.",
            "leaderboard.why": "Why these points",
            "leaderboard.why_note": "Each line is one award: the rule, the event, the case, when.",
            "leaderboard.member": "Show",
            "leaderboard.by_rule": "Points by rule",
            "leaderboard.time": "Occurred",
            "leaderboard.rule": "Rule",
            "leaderboard.case": "Case",
            "leaderboard.event": "Event",
            "leaderboard.ruleset": "Rule set",
            "leaderboard.lines_more": "Showing the first {limit} lines; export the CSV for all.",
            "leaderboard.trend": "Trend (last 8 periods)",
            "leaderboard.fair": "Fair views: per handled case and against the case mix",
            "leaderboard.fair_note": (
                "Handled cases: cases with an event in the period while assigned to the handler. "
                "Expected points: for each category, everyone's average points per handled case "
                "times the handler's cases of that category, summed; above expected is positive "
                "(green), below negative (red)."
            ),
            "leaderboard.cases": "Handled cases",
            "leaderboard.per_case": "Points per case",
            "leaderboard.expected": "Expected (case mix)",
            "leaderboard.above": "Above expected",
            "leaderboard.mix": "Category mix",
            "leaderboard.teams": "Teams: totals and per head",
            "leaderboard.headcount": "Handlers",
            "leaderboard.per_head": "Points per head",
            "leaderboard.export": "Export CSV",
            "leaderboard.export_lines": "Export lines as CSV",
            "leaderboard.export_name": "leaderboard",
            "leaderboard.lines_name": "points-lines",
            "leaderboard.whatif": "Test and publish a rule change",
            "leaderboard.whatif_note": (
                "Paste or upload a scoring.yaml, choose a past period, and replay all its events "
                "under the new rules (each case from its first event): see every rank change "
                "before publishing."
            ),
            "leaderboard.upload": "Drop or click to upload a scoring.yaml",
            "leaderboard.whatif_period": "Period to test ({forms})",
            "leaderboard.whatif_run": "Test",
            "leaderboard.whatif_waiting": "Run a test to see the changes here.",
            "leaderboard.whatif_summary": (
                "Replayed {events} events of {cases} cases: {changed} handlers and {teams} teams "
                "would change rank or points."
            ),
            "leaderboard.whatif_none": "These rules change no rank and no points.",
            "leaderboard.whatif_rank": "Rank now → test",
            "leaderboard.whatif_points": "Points now → test",
            "leaderboard.whatif_now": "Now",
            "leaderboard.whatif_new": "Test",
            "leaderboard.whatif_rules": "Points per rule",
            "leaderboard.out": "out",
            "leaderboard.publish": "Publish",
            "leaderboard.publish_from": "In force from (tomorrow at the earliest)",
            "leaderboard.publish_note": "Why the rules change",
            "leaderboard.publish_confirm": (
                "Publish these rules? They apply from 00:00 of the chosen date; earlier "
                "periods stay as they are."
            ),
            "leaderboard.published": "Published {name}: in force from {date}, by {by}.",
            "leaderboard.published_list": "Published rule sets",
            "leaderboard.published_none": "No rule set published yet: scoring.yaml applies.",
            "leaderboard.published_by": "Published by",
            "leaderboard.published_at": "Published at",
            "leaderboard.effective_from": "In force from",
            "leaderboard.note": "Note",
            "leaderboard.no_date": "Choose the date the rules apply from.",
            "leaderboard.not_allowed": "Only managers can test and publish rules.",
            "leaderboard.bad_period": "Bad period to test: {reason}",
            "leaderboard.bad_upload": "Cannot read the uploaded file: UTF-8 text is needed.",
            **{f"leaderboard.rule.{rule}": en for rule, (_, en) in RULE_LABELS.items()},
        },
    }
)

TABLE_STYLE: Final = {"width": "100%", "borderCollapse": "collapse"}
CELL_STYLE: Final = {"padding": "4px 8px", "borderBottom": "1px solid #243044"}
NUMBER_STYLE: Final = {**CELL_STYLE, "textAlign": "right", "fontVariantNumeric": "tabular-nums"}
ROW_STYLE: Final = {"display": "flex", "gap": "12px", "alignItems": "center", "flexWrap": "wrap"}
GRID_STYLE: Final = {
    "display": "grid",
    "gridTemplateColumns": "repeat(auto-fit, minmax(560px, 1fr))",
    "gap": "12px",
}
WRAP_STYLE: Final = {"maxHeight": "480px", "overflowY": "auto"}
BUTTON_STYLE: Final = {
    "background": theme.ACCENT,
    "color": theme.BACKGROUND,
    "border": "none",
    "borderRadius": "4px",
    "padding": "6px 14px",
    "cursor": "pointer",
    "fontWeight": 600,
}
FIELD_STYLE: Final = {
    "background": theme.PANEL,
    "color": theme.TEXT,
    "border": f"1px solid {theme.GRID}",
    "borderRadius": "4px",
    "padding": "6px 8px",
}
DARK_CONTROLS: Final = {
    # Dash 4's own components read these variables: the dark theme for them.
    "--Dash-Fill-Inverse-Strong": theme.PANEL,
    "--Dash-Text-Strong": theme.TEXT,
    "--Dash-Text-Primary": theme.TEXT,
    "--Dash-Text-Weak": theme.MUTED,
    "--Dash-Text-Disabled": "#5d6b80",
    "--Dash-Stroke-Strong": "#3a4860",
    "--Dash-Stroke-Weak": theme.GRID,
    "--Dash-Fill-Interactive-Strong": theme.ACCENT,
    "--Dash-Fill-Interactive-Weak": "rgba(77, 163, 255, 0.08)",
    "--Dash-Fill-Primary-Hover": "rgba(77, 163, 255, 0.10)",
    "--Dash-Fill-Primary-Active": "rgba(77, 163, 255, 0.18)",
    "--Dash-Fill-Disabled": "rgba(255, 255, 255, 0.05)",
}


# -- small builders ---------------------------------------------------------------------


def names_for(runtime: Runtime, scope: str, lang: str) -> dict[str, str]:
    return handler_names(runtime.rules) if scope == "handler" else team_names(runtime.rules, lang)


def movement(change: int | None, lang: str) -> html.Span:
    """▲n (up, green), ▼n (down, red), = (same) or 'new'."""
    if change is None:
        return badge(t("leaderboard.new", lang), "muted")
    if change > 0:
        return badge(f"▲{change}", "ok")
    if change < 0:
        return badge(f"▼{-change}", "red")
    return badge("=", "muted")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], table_id: str) -> html.Table:
    head = html.Thead(html.Tr([html.Th(text, style=CELL_STYLE) for text in headers]))
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(
                        cell, style=NUMBER_STYLE if isinstance(cell, int | float) else CELL_STYLE
                    )
                    for cell in row
                ]
            )
            for row in rows
        ]
    )
    return html.Table([head, body], id=table_id, style=TABLE_STYLE)


def _points(value: float | int | None) -> str:
    if value is None:
        return "—"
    return format_number(value, decimals=0 if float(value).is_integer() else 2)


def period_text(period: Period, lang: str) -> str:
    return t(
        "leaderboard.ranking",
        lang,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
    )


# -- the ranking ------------------------------------------------------------------------

RANKING_COLUMNS: Final = (
    "leaderboard.rank",
    "leaderboard.move",
    "leaderboard.name",
    "leaderboard.team",
    "leaderboard.points",
)


def ranking_rows(
    rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], teams: Mapping[str, str]
) -> list[list[Any]]:
    """The ranking as exported: rank, rank change, name, team, points."""
    return [
        [
            row["rank"],
            row["rank_change"],
            names.get(row["id"], row["id"]),
            teams.get(row["team_id"], row["team_id"]) if row["team_id"] else "",
            row["points"],
        ]
        for row in rows
    ]


def ranking_table(
    rows: Sequence[Mapping[str, Any]], lang: str, names: Mapping[str, str], teams: Mapping[str, str]
) -> Any:
    if not rows:
        return html.P(t("leaderboard.empty", lang), id="leaderboard-empty")
    cells = [
        [
            rank,
            movement(change, lang),
            name,
            team,
            html.Span(_points(points), **html_attributes({"data-points": str(points)})),
        ]
        for rank, change, name, team, points in ranking_rows(rows, names, teams)
    ]
    return _table([t(key, lang) for key in RANKING_COLUMNS], cells, "leaderboard-ranking")


def member_options(
    rows: Sequence[Mapping[str, Any]], names: Mapping[str, str]
) -> list[dict[str, str]]:
    return [
        {"label": f"{row['rank']}. {names.get(row['id'], row['id'])}", "value": str(row["id"])}
        for row in rows
    ]


# -- why these points -------------------------------------------------------------------

LINE_COLUMNS: Final = (
    "leaderboard.time",
    "leaderboard.rule",
    "leaderboard.points",
    "leaderboard.case",
    "leaderboard.event",
    "leaderboard.name",
    "leaderboard.ruleset",
)


def line_rows(
    lines: Sequence[LedgerLine], runtime: Runtime, lang: str, names: Mapping[str, str]
) -> list[list[Any]]:
    return [
        [
            line.occurred_at.astimezone(runtime.tz).isoformat(timespec="seconds"),
            t(f"leaderboard.rule.{line.rule}", lang),
            line.points,
            line.case_id,
            line.event_id,
            names.get(line.handler_id, line.handler_id),
            line.ruleset,
        ]
        for line in lines
    ]


def lines_table(
    lines: Sequence[LedgerLine], runtime: Runtime, lang: str, names: Mapping[str, str]
) -> Any:
    rows = line_rows(lines, runtime, lang, names)
    for row, line in zip(rows, lines, strict=True):
        row[0] = format_datetime(line.occurred_at.timestamp(), runtime.tz, lang)
    table = _table([t(key, lang) for key in LINE_COLUMNS], rows, "leaderboard-lines")
    if len(lines) >= queries.WHY_LINES_LIMIT:
        note = t("leaderboard.lines_more", lang, limit=queries.WHY_LINES_LIMIT)
        return [html.P(note), table]
    return table


# -- fair views --------------------------------------------------------------------------

FAIR_COLUMNS: Final = (
    "leaderboard.name",
    "leaderboard.team",
    "leaderboard.points",
    "leaderboard.cases",
    "leaderboard.per_case",
    "leaderboard.expected",
    "leaderboard.above",
    "leaderboard.mix",
)
TEAM_COLUMNS: Final = (
    "leaderboard.team",
    "leaderboard.points",
    "leaderboard.headcount",
    "leaderboard.per_head",
)


def fair_table(
    rows: Sequence[FairRow], lang: str, names: Mapping[str, str], teams: Mapping[str, str]
) -> Any:
    cells = [
        [
            names.get(row.handler_id, row.handler_id),
            teams.get(row.team_id or "", row.team_id or ""),
            row.points,
            row.cases,
            _points(row.points_per_case),
            row.expected,
            row.above_expected,
            ", ".join(f"{t(f'category.{k}', lang)} {n}" for k, n in row.cases_by_category.items()),
        ]
        for row in rows
    ]
    return _table([t(key, lang) for key in FAIR_COLUMNS], cells, "leaderboard-fair-table")


def teams_table(rows: Sequence[TeamRow], lang: str, teams: Mapping[str, str]) -> Any:
    cells = [
        [teams.get(row.team_id, row.team_id), row.points, row.headcount, _points(row.per_head)]
        for row in rows
    ]
    return _table([t(key, lang) for key in TEAM_COLUMNS], cells, "leaderboard-teams-table")


# -- what-if ------------------------------------------------------------------------------


def _rank_move(row: WhatIfRow, lang: str) -> str:
    old = "—" if row.old_rank is None else str(row.old_rank)
    new = t("leaderboard.out", lang) if row.new_rank is None else str(row.new_rank)
    return f"{old} → {new}"


def whatif_result(
    report: WhatIfReport, lang: str, names: Mapping[str, str], teams: Mapping[str, str]
) -> Any:
    changed = report.changes("handler")
    summary = t(
        "leaderboard.whatif_summary",
        lang,
        events=format_number(report.events),
        cases=format_number(report.cases),
        changed=len(changed),
        teams=len(report.changes("team")),
    )
    rule_rows = [
        [t(f"leaderboard.rule.{rule}", lang), old, new]
        for rule, (old, new) in report.by_rule.items()
    ]
    parts: list[Any] = [
        html.P(summary, id="leaderboard-whatif-summary"),
        html.H3(t("leaderboard.whatif_rules", lang)),
        _table(
            [
                t("leaderboard.rule", lang),
                t("leaderboard.whatif_now", lang),
                t("leaderboard.whatif_new", lang),
            ],
            rule_rows,
            "leaderboard-whatif-rules",
        ),
    ]
    if not changed and not report.changes("team"):
        parts.append(html.P(t("leaderboard.whatif_none", lang)))
        return parts
    headers = [
        t("leaderboard.whatif_rank", lang),
        t("leaderboard.move", lang),
        t("leaderboard.name", lang),
        t("leaderboard.team", lang),
        t("leaderboard.whatif_points", lang),
    ]
    for scope, members, labels in (
        ("handler", changed, names),
        ("team", report.changes("team"), teams),
    ):
        rows = [
            [
                _rank_move(row, lang),
                movement(row.rank_move, lang)
                if row.new_rank is not None
                else badge(t("leaderboard.out", lang), "red"),
                labels.get(row.id, row.id),
                teams.get(row.team_id or "", row.team_id or ""),
                f"{_points(row.old_points)} → {_points(row.new_points)}",
            ]
            for row in members
        ]
        if rows:
            parts.append(html.H3(t(f"leaderboard.scope.{scope}", lang)))
            parts.append(_table(headers, rows, f"leaderboard-whatif-{scope}"))
    return parts


def published_table(items: Sequence[PublishedRuleSet], runtime: Runtime, lang: str) -> Any:
    if not items:
        return html.P(t("leaderboard.published_none", lang))
    rows = [
        [
            item.name,
            item.effective_from.isoformat(),
            item.published_by,
            format_datetime(item.published_at.timestamp(), runtime.tz, lang),
            item.note or "",
        ]
        for item in items
    ]
    headers = [
        t("leaderboard.ruleset", lang),
        t("leaderboard.effective_from", lang),
        t("leaderboard.published_by", lang),
        t("leaderboard.published_at", lang),
        t("leaderboard.note", lang),
    ]
    return _table(headers, rows, "leaderboard-published-table")


# -- layout --------------------------------------------------------------------------------


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config={"displaylogo": False, "responsive": True})


def _controls(
    runtime: Runtime, lang: str, kind: str, scope: str, day: date, team: str | None
) -> html.Div:
    return html.Div(
        [
            html.Label(t("leaderboard.period", lang), htmlFor="leaderboard-period"),
            dcc.RadioItems(
                id="leaderboard-period",
                options=[
                    {"label": t(f"leaderboard.period.{k}", lang), "value": k} for k in PERIODS
                ],
                value=kind,
                inline=True,
            ),
            html.Label(t("leaderboard.scope", lang), htmlFor="leaderboard-scope"),
            dcc.RadioItems(
                id="leaderboard-scope",
                options=[
                    {"label": t(f"leaderboard.scope.{s}", lang), "value": s}
                    for s in ("handler", "team")
                ],
                value=scope,
                inline=True,
            ),
            html.Label(t("leaderboard.date", lang), htmlFor="leaderboard-date"),
            dcc.DatePickerSingle(
                id="leaderboard-date",
                date=day.isoformat(),
                display_format="YYYY-MM-DD",
                first_day_of_week=1,
            ),
            dcc.Dropdown(
                id="leaderboard-team",
                options=team_options(runtime.rules, lang),
                value=team,
                placeholder=t("desk.all_teams", lang),
                clearable=True,
                style={"minWidth": "220px"},
            ),
        ],
        style=ROW_STYLE,
    )


def _whatif_panel(runtime: Runtime, lang: str, day: date) -> Any:
    tomorrow = day + timedelta(days=1)
    return panel(
        t("leaderboard.whatif", lang),
        [
            html.P(t("leaderboard.whatif_note", lang)),
            dcc.Upload(
                id="leaderboard-upload",
                children=html.Div(t("leaderboard.upload", lang)),
                accept=".yaml,.yml,text/yaml",
                style={"border": "1px dashed #93a1b5", "padding": "12px", "cursor": "pointer"},
            ),
            dcc.Textarea(
                id="leaderboard-rules",
                value=queries.shipped_rules_text(runtime),
                spellCheck=False,
                style={
                    **FIELD_STYLE,
                    "width": "100%",
                    "height": "320px",
                    "fontFamily": "monospace",
                },
            ),
            html.Div(
                [
                    html.Label(
                        t("leaderboard.whatif_period", lang, forms=PERIOD_KEY_FORMS),
                        htmlFor="leaderboard-whatif-period",
                    ),
                    dcc.Input(
                        id="leaderboard-whatif-period",
                        value=period_of("month", day).previous().key,
                        debounce=True,
                        style=FIELD_STYLE,
                    ),
                    html.Button(
                        t("leaderboard.whatif_run", lang),
                        id="leaderboard-whatif-run",
                        n_clicks=0,
                        style=BUTTON_STYLE,
                    ),
                ],
                style=ROW_STYLE,
            ),
            dcc.Loading(
                [
                    html.Div(id="leaderboard-whatif-result", role="status"),
                    dcc.Graph(
                        id="leaderboard-whatif-figure",
                        figure=empty_figure(t("leaderboard.whatif_waiting", lang)),
                        config={"displaylogo": False, "responsive": True},
                    ),
                ]
            ),
            html.Div(
                [
                    html.Label(
                        t("leaderboard.publish_from", lang), htmlFor="leaderboard-publish-date"
                    ),
                    dcc.DatePickerSingle(
                        id="leaderboard-publish-date",
                        min_date_allowed=tomorrow.isoformat(),
                        initial_visible_month=tomorrow.isoformat(),
                        display_format="YYYY-MM-DD",
                        first_day_of_week=1,
                    ),
                    dcc.Input(
                        id="leaderboard-publish-note",
                        placeholder=t("leaderboard.publish_note", lang),
                        style={**FIELD_STYLE, "minWidth": "320px"},
                    ),
                    dcc.ConfirmDialogProvider(
                        html.Button(
                            t("leaderboard.publish", lang),
                            id="leaderboard-publish-button",
                            style=BUTTON_STYLE,
                        ),
                        id="leaderboard-publish",
                        message=t("leaderboard.publish_confirm", lang),
                    ),
                ],
                style=ROW_STYLE,
            ),
            html.Div(id="leaderboard-publish-result", role="status"),
            html.H3(t("leaderboard.published_list", lang)),
            html.Div(id="leaderboard-published"),
        ],
        panel_id="leaderboard-whatif-panel",
    )


def layout(
    lang: str | None = None,
    period: str | None = None,
    scope: str | None = None,
    at: str | None = None,
    team: str | None = None,
    **_: Any,
) -> html.Div:
    language = normalise_language(lang) or current_language()
    runtime = current_runtime()
    kind = period if period in PERIODS else "week"
    chosen_scope = scope if scope in ("handler", "team") else "handler"
    day = _date_or_today(at, runtime)
    return html.Div(
        [
            page_header(
                t("leaderboard.title", language),
                t("leaderboard.subtitle", language),
                _controls(runtime, language, kind, chosen_scope, day, team or None),
            ),
            html.Div(id="leaderboard-error", role="alert"),
            html.Div(
                [
                    panel(
                        None,
                        [
                            html.H2(id="leaderboard-ranking-title", className="co-panel__title"),
                            html.Div(
                                [
                                    html.Button(
                                        t("leaderboard.export", language),
                                        id="leaderboard-export",
                                        n_clicks=0,
                                        style=BUTTON_STYLE,
                                    ),
                                    dcc.Download(id="leaderboard-download"),
                                ],
                                style=ROW_STYLE,
                            ),
                            html.Div(id="leaderboard-ranking-wrap", style=WRAP_STYLE),
                        ],
                    ),
                    panel(t("leaderboard.trend", language), _graph("leaderboard-trend")),
                ],
                style=GRID_STYLE,
            ),
            panel(
                t("leaderboard.why", language),
                [
                    html.P(t("leaderboard.why_note", language)),
                    html.H3(t("leaderboard.by_rule", language)),
                    _graph("leaderboard-breakdown"),
                    html.Div(
                        [
                            html.Label(
                                t("leaderboard.member", language), htmlFor="leaderboard-member"
                            ),
                            dcc.Dropdown(id="leaderboard-member", style={"minWidth": "260px"}),
                            html.Button(
                                t("leaderboard.export_lines", language),
                                id="leaderboard-export-lines",
                                n_clicks=0,
                                style=BUTTON_STYLE,
                            ),
                            dcc.Download(id="leaderboard-download-lines"),
                        ],
                        style=ROW_STYLE,
                    ),
                    html.Div(id="leaderboard-lines-wrap", style=WRAP_STYLE),
                ],
            ),
            html.Div(
                [
                    panel(
                        t("leaderboard.fair", language),
                        [
                            html.P(t("leaderboard.fair_note", language)),
                            _graph("leaderboard-fair"),
                            html.Div(id="leaderboard-fair-wrap", style=WRAP_STYLE),
                        ],
                    ),
                    panel(t("leaderboard.teams", language), html.Div(id="leaderboard-teams-wrap")),
                ],
                style=GRID_STYLE,
            ),
            _whatif_panel(runtime, language, day),
            dcc.Interval(id="leaderboard-refresh", interval=REFRESH_SECONDS * 1000),
        ],
        className="co-page",
        id="leaderboard-page",
        style=DARK_CONTROLS,
    )


def _date_or_today(value: str | None, runtime: Runtime) -> date:
    """The chosen date; today when it is missing, malformed or out of range."""
    day = dates.parse_date(value)
    return day if day is not None else today(runtime)


def _error(exc: Exception, lang: str) -> html.P:
    log.warning("leaderboard page: data unavailable: %s", exc)
    return html.P(t("desk.unavailable", lang, reason=type(exc).__name__), className="desk-error")


# -- callbacks ---------------------------------------------------------------------------------


@callback(
    Output("leaderboard-ranking-title", "children"),
    Output("leaderboard-ranking-wrap", "children"),
    Output("leaderboard-member", "options"),
    Output("leaderboard-breakdown", "figure"),
    Output("leaderboard-error", "children"),
    Input("leaderboard-period", "value"),
    Input("leaderboard-scope", "value"),
    Input("leaderboard-date", "date"),
    Input("leaderboard-team", "value"),
    Input("leaderboard-refresh", "n_intervals"),
)
def refresh_ranking(
    kind: str, scope: str, at: str | None, team: str | None, _ticks: int | None
) -> tuple[Any, ...]:
    lang = current_language()
    runtime = current_runtime()
    day = _date_or_today(at, runtime)
    tr = translator(lang)
    try:
        board = queries.board(runtime, kind, scope, day, team or None)
        breakdown = queries.rule_breakdown(runtime, board.period, scope)
    except DATA_ERRORS as exc:
        blank = empty_figure(t("desk.no_data", lang))
        return "", None, [], blank, _error(exc, lang)
    names = names_for(runtime, scope, lang)
    teams = team_names(runtime.rules, lang)
    shown = {row["id"] for row in board.rows}
    breakdown = {member: rules for member, rules in breakdown.items() if member in shown}
    figure = (
        figures.breakdown_figure(breakdown, tr, names)
        if breakdown
        else empty_figure(t("desk.no_data", lang))
    )
    return (
        period_text(board.period, lang),
        ranking_table(board.rows, lang, names, teams),
        member_options(board.rows, names),
        figure,
        None,
    )


@callback(
    Output("leaderboard-trend", "figure"),
    Input("leaderboard-period", "value"),
    Input("leaderboard-scope", "value"),
    Input("leaderboard-date", "date"),
    Input("leaderboard-team", "value"),
    Input("leaderboard-member", "value"),
    Input("leaderboard-refresh", "n_intervals"),
)
def refresh_trend(
    kind: str, scope: str, at: str | None, team: str | None, member: str | None, _ticks: int | None
) -> go.Figure:
    lang = current_language()
    runtime = current_runtime()
    day = _date_or_today(at, runtime)
    try:
        board = queries.board(runtime, kind, scope, day, team or None)
        ids = queries.trend_members(board.rows, member)
        periods, series = queries.trend_series(runtime, kind, day, scope, ids)
    except DATA_ERRORS as exc:
        log.warning("leaderboard trend unavailable: %s", exc)
        return empty_figure(t("desk.no_data", lang))
    if not ids:
        return empty_figure(t("desk.no_data", lang))
    return figures.trend_figure(periods, series, translator(lang), names_for(runtime, scope, lang))


@callback(
    Output("leaderboard-lines-wrap", "children"),
    Input("leaderboard-period", "value"),
    Input("leaderboard-scope", "value"),
    Input("leaderboard-date", "date"),
    Input("leaderboard-member", "value"),
)
def show_lines(kind: str, scope: str, at: str | None, member: str | None) -> Any:
    if not member:
        return None
    lang = current_language()
    runtime = current_runtime()
    period = period_of(kind, _date_or_today(at, runtime))
    try:
        lines = queries.why_lines(runtime, period, scope, member)
    except DATA_ERRORS as exc:
        return _error(exc, lang)
    return lines_table(lines, runtime, lang, handler_names(runtime.rules))


@callback(
    Output("leaderboard-fair", "figure"),
    Output("leaderboard-fair-wrap", "children"),
    Output("leaderboard-teams-wrap", "children"),
    Input("leaderboard-period", "value"),
    Input("leaderboard-date", "date"),
    Input("leaderboard-team", "value"),
)
def refresh_fair(kind: str, at: str | None, team: str | None) -> tuple[Any, ...]:
    """The fair views read the SQL ledger and event log: on demand, not on every tick."""
    lang = current_language()
    runtime = current_runtime()
    period = period_of(kind, _date_or_today(at, runtime))
    try:
        fair = queries.fair_rows(runtime, period)
        team_rows = queries.team_rows(runtime, period)
    except DATA_ERRORS as exc:
        return empty_figure(t("desk.no_data", lang)), _error(exc, lang), None
    if team:
        fair = [row for row in fair if row.team_id == team]
    names = handler_names(runtime.rules)
    teams = team_names(runtime.rules, lang)
    figure = (
        figures.fair_figure(fair, translator(lang), names)
        if fair
        else empty_figure(t("desk.no_data", lang))
    )
    return figure, fair_table(fair, lang, names, teams), teams_table(team_rows, lang, teams)


@callback(
    Output("leaderboard-download", "data"),
    Input("leaderboard-export", "n_clicks"),
    State("leaderboard-period", "value"),
    State("leaderboard-scope", "value"),
    State("leaderboard-date", "date"),
    State("leaderboard-team", "value"),
    prevent_initial_call=True,
)
def export_ranking(
    n_clicks: int | None, kind: str, scope: str, at: str | None, team: str | None
) -> Any:
    if not n_clicks:
        return dash.no_update
    return ranking_csv(current_runtime(), current_language(), kind, scope, at, team or None)


def ranking_csv(
    runtime: Runtime, lang: str, kind: str, scope: str, at: str | None, team: str | None
) -> dict[str, Any]:
    """The ranking as a ``dcc.Download`` CSV (UTF-8 with BOM)."""
    board = queries.board(runtime, kind, scope, _date_or_today(at, runtime), team)
    rows = ranking_rows(
        board.rows, names_for(runtime, scope, lang), team_names(runtime.rules, lang)
    )
    headers = [t(key, lang) for key in RANKING_COLUMNS]
    stem = f"{t('leaderboard.export_name', lang)}-{scope}-{board.period.key}"
    return export.download(stem, headers, rows, datetime.now(runtime.tz))


@callback(
    Output("leaderboard-download-lines", "data"),
    Input("leaderboard-export-lines", "n_clicks"),
    State("leaderboard-period", "value"),
    State("leaderboard-scope", "value"),
    State("leaderboard-date", "date"),
    State("leaderboard-member", "value"),
    prevent_initial_call=True,
)
def export_lines(
    n_clicks: int | None, kind: str, scope: str, at: str | None, member: str | None
) -> Any:
    if not n_clicks or not member:
        return dash.no_update
    return lines_csv(current_runtime(), current_language(), kind, scope, at, member)


def lines_csv(
    runtime: Runtime, lang: str, kind: str, scope: str, at: str | None, member: str
) -> dict[str, Any]:
    """Every award of a handler or team in the period as CSV (no line limit)."""
    period = period_of(kind, _date_or_today(at, runtime))
    lines = queries.why_lines(runtime, period, scope, member, limit=None)
    rows = line_rows(lines, runtime, lang, handler_names(runtime.rules))
    headers = [t(key, lang) for key in LINE_COLUMNS]
    stem = f"{t('leaderboard.lines_name', lang)}-{member}-{period.key}"
    return export.download(stem, headers, rows, datetime.now(runtime.tz))


@callback(
    Output("leaderboard-rules", "value"),
    Output("leaderboard-whatif-result", "children", allow_duplicate=True),
    Input("leaderboard-upload", "contents"),
    prevent_initial_call=True,
)
def load_upload(contents: str | None) -> tuple[Any, Any]:
    """Put an uploaded file's text into the rules editor."""
    if not contents:
        return dash.no_update, dash.no_update
    text = decode_upload(contents)
    if text is None:
        return dash.no_update, html.P(t("leaderboard.bad_upload", current_language()))
    return text, None


def decode_upload(contents: str) -> str | None:
    """The text of a ``dcc.Upload`` data URL, None unless it is UTF-8."""
    _, _, encoded = contents.partition(",")
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


@callback(
    Output("leaderboard-whatif-result", "children"),
    Output("leaderboard-whatif-figure", "figure"),
    Input("leaderboard-whatif-run", "n_clicks"),
    State("leaderboard-rules", "value"),
    State("leaderboard-whatif-period", "value"),
    prevent_initial_call=True,
)
def run_whatif(n_clicks: int | None, text: str | None, period_key: str | None) -> tuple[Any, Any]:
    lang = current_language()
    blank = empty_figure(t("desk.no_data", lang))
    if not n_clicks:
        return dash.no_update, dash.no_update
    require_role("manager")
    runtime = current_runtime()
    try:
        candidate = queries.parse_candidate(text or "")
    except ConfigError as exc:
        return html.P(str(exc), className="desk-error"), blank
    try:
        report = queries.run_what_if(runtime, (period_key or "").strip(), candidate)
    except ValueError as exc:
        return html.P(
            t("leaderboard.bad_period", lang, reason=str(exc)), className="desk-error"
        ), blank
    except DATA_ERRORS as exc:
        return _error(exc, lang), blank
    names = handler_names(runtime.rules)
    teams = team_names(runtime.rules, lang)
    changed = report.changes("handler")
    figure = figures.whatif_figure(changed, translator(lang), names) if changed else blank
    return whatif_result(report, lang, names, teams), figure


@callback(
    Output("leaderboard-publish-result", "children"),
    Output("leaderboard-published", "children"),
    Input("leaderboard-publish", "submit_n_clicks"),
    State("leaderboard-rules", "value"),
    State("leaderboard-publish-date", "date"),
    State("leaderboard-publish-note", "value"),
)
def publish_rules(
    submitted: int | None, text: str | None, effective_from: str | None, note: str | None
) -> tuple[Any, Any]:
    """Publish on confirmation; always list the published rule sets."""
    lang = current_language()
    runtime = current_runtime()
    message: Any = None
    if submitted:
        message = publish_message(runtime, lang, text or "", effective_from, note)
    try:
        listing = published_table(queries.published(runtime), runtime, lang)
    except DATA_ERRORS as exc:
        listing = _error(exc, lang)
    return message, listing


def publish_message(
    runtime: Runtime, lang: str, text: str, effective_from: str | None, note: str | None
) -> html.P:
    """Publish as the signed-in manager; the outcome as a message."""
    who = require_role("manager")
    if not effective_from:
        return html.P(t("leaderboard.no_date", lang), className="desk-error")
    try:
        item = queries.publish_candidate(
            runtime,
            text,
            date.fromisoformat(effective_from[:10]),
            who.username,
            note=(note or "").strip() or None,
        )
    except (ConfigError, PublishError, RuleSetsUnavailable) as exc:
        return html.P(str(exc), className="desk-error")
    except SQLAlchemyError as exc:
        return _error(exc, lang)
    return html.P(
        t(
            "leaderboard.published",
            lang,
            name=item.name,
            date=item.effective_from.isoformat(),
            by=item.published_by,
        ),
        id="leaderboard-published-message",
    )
