"""Flow page (/flow): stage entries and exits, cumulative flow, time in stage,
the bottleneck and the rework rate."""

from __future__ import annotations

import logging
from typing import Any, Final, NamedTuple

import dash
import plotly.graph_objects as go
import redis
from dash import Input, Output, callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError

from complaintops.runtime import Runtime
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.components.tile import tile
from dashboard.desk_labels import team_options, translator
from dashboard.desk_layout import (
    CONTROLS_STYLE,
    GRAPH_CONFIG,
    GRID_STYLE,
    LABEL_STYLE,
    PAGE_STYLE,
    TILES_STYLE,
    error,
    note,
    team_filter,
)
from dashboard.figures import flow as figures
from dashboard.figures.desk_style import empty_figure
from dashboard.i18n import (
    current_language,
    format_number,
    format_percent,
    normalise_language,
    register_catalog,
    stage_name,
    t,
)
from dashboard.queries import flow as queries
from events.timeutil import DAY_SECONDS

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/flow",
    name="Flow",
    title="流程 Flow · ComplaintOps",
    nav_label={"zh": "流程", "en": "Flow"},
    order=20,
)

REFRESH_SECONDS: Final = 60
DEFAULT_HOURS: Final = 24
REWORK_COHORT_DAYS: Final = 30

register_catalog(
    {
        "zh": {
            "flow.title": "流程分析",
            "flow.subtitle": "各环节的流入流出、在办量、停留时长与瓶颈",
            "flow.window": "时间窗口",
            "flow.window_hours": "{hours} 小时",
            "flow.entered": "流入",
            "flow.exited": "流出",
            "flow.hourly_title": "每小时流入（上）与流出（下）",
            "flow.daily_title": "每日流入与流出（近 30 天）",
            "flow.cfd_title": "累积流图：各环节在办量",
            "flow.stage_time_title": "各环节平均停留时长与目标",
            "flow.distribution_title": "停留时长分布（离开该环节的案件）",
            "flow.open_cases": "在办案件",
            "flow.mean_hours": "平均停留（小时）",
            "flow.target_hours": "目标（小时）",
            "flow.exits": "离开次数",
            "flow.hours": "小时",
            "flow.share_of_exits": "占比",
            "flow.time_in_stage": "停留时长",
            "flow.tick_hour": "%H:%M\n%-m月%-d日",
            "flow.tick_day": "%-m月%-d日",
            "flow.kpi_open": "在办案件",
            "flow.kpi_entered": "{hours} 小时流入",
            "flow.kpi_exited": "{hours} 小时流出",
            "flow.kpi_rework": "返工率",
            "flow.kpi_rework_hint": "近 {days} 天立案：{backward} / {moves} 次流转",
            "flow.kpi_bottleneck": "瓶颈环节",
            "flow.no_bottleneck": "无",
            "flow.bottleneck_time": (
                "{stage}：平均停留 {mean} 小时，是目标 {target} 小时的 {ratio} 倍。"
            ),
            "flow.bottleneck_growth": (
                "{stage}：各环节平均停留都未超过目标，而该环节在办量在窗口内增加最多（+{growth} 件）。"
            ),
            "flow.bottleneck_none": "各环节平均停留都在目标之内，在办量也没有增长。",
            "flow.bottleneck_rule": (
                "瓶颈的判定：先看平均停留时长超过目标的环节，取超出倍数最大的一个；"
                "若没有环节超出目标，取窗口内在办量增加最多的环节；两者都没有则无瓶颈。"
            ),
            "flow.stage_time_note": "停留时长统计自指标建立以来离开各环节的全部记录（不分团队）。",
            "flow.cfd_note": "累积流图由当前在办量向前倒推各小时的流入流出得出，最后一点即当前在办量。",
            "flow.team_note": "按团队筛选时，流入流出计入事件发生时的承办团队。",
            "flow.rework_note": (
                "返工率 = 退回更早环节的次数 ÷ 环节流转次数（case.stage_changed），"
                "统计近 {days} 天立案的案件。"
            ),
        },
        "en": {
            "flow.title": "Stage flow",
            "flow.subtitle": "Entries and exits per stage, work in progress, time in stage and the bottleneck",
            "flow.window": "Window",
            "flow.window_hours": "{hours} h",
            "flow.entered": "Entered",
            "flow.exited": "Exited",
            "flow.hourly_title": "Entries (up) and exits (down) per hour",
            "flow.daily_title": "Entries and exits per day (last 30 days)",
            "flow.cfd_title": "Cumulative flow: open cases per stage",
            "flow.stage_time_title": "Mean time in stage against the target",
            "flow.distribution_title": "Time in stage (cases that left the stage)",
            "flow.open_cases": "Open cases",
            "flow.mean_hours": "Mean time (hours)",
            "flow.target_hours": "Target (hours)",
            "flow.exits": "Exits",
            "flow.hours": "Hours",
            "flow.share_of_exits": "Share",
            "flow.time_in_stage": "Time in stage",
            "flow.tick_hour": "%H:%M\n%d %b",
            "flow.tick_day": "%d %b",
            "flow.kpi_open": "Open cases",
            "flow.kpi_entered": "Entered, {hours} h",
            "flow.kpi_exited": "Exited, {hours} h",
            "flow.kpi_rework": "Rework rate",
            "flow.kpi_rework_hint": "Opened in the last {days} days: {backward} of {moves} moves",
            "flow.kpi_bottleneck": "Bottleneck",
            "flow.no_bottleneck": "None",
            "flow.bottleneck_time": (
                "{stage}: mean time in stage {mean} h, {ratio} times its {target} h target."
            ),
            "flow.bottleneck_growth": (
                "{stage}: no stage is over its time target, and this stage's work in progress "
                "grew the most in the window (+{growth} cases)."
            ),
            "flow.bottleneck_none": "Every stage is within its time target and no stage's work in progress grew.",
            "flow.bottleneck_rule": (
                "How the bottleneck is chosen: among the stages whose mean time exceeds their "
                "target, the one exceeding it by the largest ratio; if none does, the stage whose "
                "work in progress grew the most over the window; otherwise there is none."
            ),
            "flow.stage_time_note": "Time in stage counts every exit since the metrics were built (all teams).",
            "flow.cfd_note": "Derived backwards from the current work in progress with each hour's entries and exits; the last point is the current work in progress.",
            "flow.team_note": "Filtered by team, entries and exits count for the team handling the case when they happened.",
            "flow.rework_note": (
                "Rework rate = moves back to an earlier stage ÷ stage moves (case.stage_changed), "
                "for the cases opened in the last {days} days."
            ),
        },
    }
)


# -- the page's data ------------------------------------------------------------------


class FlowView(NamedTuple):
    """Everything the flow page shows for one window and team (a NamedTuple: Dash
    runs page modules before they are in ``sys.modules``, where dataclasses fail)."""

    kpis: list[Any]
    bottleneck_text: str
    hourly: go.Figure
    cumulative: go.Figure
    daily: go.Figure
    stage_time: go.Figure
    distribution: go.Figure


def build_view(runtime: Runtime, lang: str, hours: int, team: str | None) -> FlowView:
    tr = translator(lang)
    query = runtime.query
    now = query.clock()
    hourly = queries.hourly_flow(query, hours, team=team, now=now)
    daily = queries.daily_flow(query, team=team, now=now)
    wip = query.overview(team=team, now=now).wip
    points = queries.cumulative_wip(hourly, wip, now)
    targets = runtime.rules.clocks.stage_targets_hours.as_dict()
    times = queries.stage_times(query, targets)
    bottleneck = queries.find_bottleneck(times, queries.wip_growth(points))
    rework = queries.rework_rate(
        runtime.engine, opened_since=now - REWORK_COHORT_DAYS * DAY_SECONDS, team=team
    )
    entered = sum(sum(b.entered.values()) for b in hourly)
    exited = sum(sum(b.exited.values()) for b in hourly)
    kpis = [
        tile(t("flow.kpi_open", lang), format_number(sum(wip.values())), tile_id="flow-kpi-open"),
        tile(
            t("flow.kpi_entered", lang, hours=hours),
            format_number(entered),
            tile_id="flow-kpi-entered",
        ),
        tile(
            t("flow.kpi_exited", lang, hours=hours),
            format_number(exited),
            tile_id="flow-kpi-exited",
        ),
        tile(
            t("flow.kpi_rework", lang),
            format_percent(rework.rate),
            hint=t(
                "flow.kpi_rework_hint",
                lang,
                days=REWORK_COHORT_DAYS,
                backward=format_number(rework.backward_moves),
                moves=format_number(rework.stage_moves),
            ),
            tile_id="flow-kpi-rework",
        ),
        tile(
            t("flow.kpi_bottleneck", lang),
            stage_name(bottleneck.stage, lang) if bottleneck else t("flow.no_bottleneck", lang),
            level="red" if bottleneck else "ok",
            tile_id="flow-kpi-bottleneck",
        ),
    ]
    return FlowView(
        kpis=kpis,
        bottleneck_text=bottleneck_text(bottleneck, times, lang),
        hourly=figures.flow_figure(hourly, tr, runtime.tz),
        cumulative=figures.cumulative_flow_figure(points, tr, runtime.tz),
        daily=figures.flow_figure(daily, tr, runtime.tz),
        stage_time=figures.stage_time_figure(times, bottleneck, tr),
        distribution=figures.stage_time_distribution_figure(times, tr),
    )


def bottleneck_text(
    bottleneck: queries.Bottleneck | None, times: list[queries.StageTime], lang: str
) -> str:
    """One sentence saying which stage is the bottleneck and why."""
    if bottleneck is None:
        return t("flow.bottleneck_none", lang)
    stage = stage_name(bottleneck.stage, lang)
    if bottleneck.reason == "growth":
        return t(
            "flow.bottleneck_growth", lang, stage=stage, growth=format_number(bottleneck.value)
        )
    timing = next(x for x in times if x.stage == bottleneck.stage)
    return t(
        "flow.bottleneck_time",
        lang,
        stage=stage,
        mean=format_number(timing.mean_hours, decimals=1),
        target=format_number(timing.target_hours),
        ratio=format_number(bottleneck.value, decimals=2),
    )


# -- layout -------------------------------------------------------------------------------


def _hours(value: Any) -> int:
    try:
        hours = int(value)
    except (TypeError, ValueError):
        return DEFAULT_HOURS
    return hours if hours in queries.WINDOW_HOURS else DEFAULT_HOURS


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG)


def layout(
    lang: str | None = None, team: str | None = None, hours: str | None = None, **_: Any
) -> html.Div:
    language = normalise_language(lang) or current_language()
    runtime = current_runtime()
    controls = html.Div(
        [
            html.Label(
                t("flow.window", language),
                htmlFor="flow-window",
                className="desk-label",
                style=LABEL_STYLE,
            ),
            dcc.RadioItems(
                id="flow-window",
                options=[
                    {"label": t("flow.window_hours", language, hours=h), "value": h}
                    for h in queries.WINDOW_HOURS
                ],
                value=_hours(hours),
                inline=True,
                className="desk-radio",
                labelStyle={"color": "var(--co-text)", "marginRight": "14px", "cursor": "pointer"},
                persistence=True,
                persistence_type="session",
            ),
            *team_filter(
                "flow",
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
            page_header(t("flow.title", language), t("flow.subtitle", language), controls),
            html.Div(id="flow-error", role="alert"),
            html.Div(id="flow-kpis", className="desk-tiles", style=TILES_STYLE),
            panel(
                t("flow.kpi_bottleneck", language),
                [
                    html.P(id="flow-bottleneck", className="desk-emphasis"),
                    note(t("flow.bottleneck_rule", language)),
                ],
                panel_id="flow-bottleneck-panel",
            ),
            html.Div(
                [
                    panel(t("flow.hourly_title", language), _graph("flow-hourly")),
                    panel(
                        t("flow.cfd_title", language),
                        [
                            _graph("flow-cfd"),
                            note(t("flow.cfd_note", language)),
                        ],
                    ),
                    panel(t("flow.stage_time_title", language), _graph("flow-stage-time")),
                    panel(
                        t("flow.distribution_title", language),
                        [
                            _graph("flow-distribution"),
                            note(t("flow.stage_time_note", language)),
                        ],
                    ),
                ],
                className="desk-grid",
                style=GRID_STYLE,
            ),
            panel(
                t("flow.daily_title", language),
                [
                    _graph("flow-daily"),
                    note(t("flow.rework_note", language, days=REWORK_COHORT_DAYS)),
                    note(t("flow.team_note", language)),
                ],
            ),
            dcc.Interval(id="flow-refresh", interval=REFRESH_SECONDS * 1000),
        ],
        className="co-page desk-page",
        id="flow-page",
        style=PAGE_STYLE,
    )


# -- callbacks ------------------------------------------------------------------------------


@callback(
    Output("flow-kpis", "children"),
    Output("flow-bottleneck", "children"),
    Output("flow-hourly", "figure"),
    Output("flow-cfd", "figure"),
    Output("flow-daily", "figure"),
    Output("flow-stage-time", "figure"),
    Output("flow-distribution", "figure"),
    Output("flow-error", "children"),
    Input("flow-window", "value"),
    Input("flow-team", "value"),
    Input("flow-refresh", "n_intervals"),
)
def refresh(hours: Any, team: str | None, _ticks: int | None) -> tuple[Any, ...]:
    lang = current_language()
    try:
        view = build_view(current_runtime(), lang, _hours(hours), team or None)
    except (redis.RedisError, SQLAlchemyError) as exc:
        log.warning("flow page: data unavailable: %s", exc)
        blank = empty_figure(t("desk.no_data", lang))
        message = t("desk.unavailable", lang, reason=type(exc).__name__)
        return [], "", blank, blank, blank, blank, blank, error(message)
    return (
        view.kpis,
        view.bottleneck_text,
        view.hourly,
        view.cumulative,
        view.daily,
        view.stage_time,
        view.distribution,
        None,
    )
