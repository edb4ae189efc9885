"""Analytics page (/analytics): complaints by channel, category, product line,
priority, complainant profile (投诉人画像), outcome and satisfaction, and
trends by ISO week; every table exports as CSV (UTF-8 with BOM)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, Final, NamedTuple

import dash
import plotly.graph_objects as go
from dash import ALL, Input, Output, State, callback, dcc, html
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from dashboard import dates, export
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.components.tile import tile
from dashboard.desk_labels import team_names, team_options, translator
from dashboard.desk_layout import (
    BUTTON_STYLE,
    CONTROLS_STYLE,
    GRAPH_CONFIG,
    LABEL_STYLE,
    PAGE_STYLE,
    TILES_STYLE,
    error,
    table,
    team_filter,
)
from dashboard.figures import analytics as figures
from dashboard.figures.desk_style import empty_figure
from dashboard.i18n import (
    current_language,
    format_date,
    format_number,
    format_percent,
    normalise_language,
    register_catalog,
    t,
)
from dashboard.queries import analytics as queries
from dashboard.queries.analytics import AnalyticsFilter, BreakdownRow, WeeklyTrend

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/analytics",
    name="Analytics",
    title="分析 Analytics · ComplaintOps",
    nav_label={"zh": "分析", "en": "Analytics"},
    order=50,
)

BREAKDOWNS: Final = (
    "channel",
    "category",
    "product_line",
    "priority",
    "gender",
    "age_band",
    "repeat",
    "outcome",
    "satisfaction",
    "resolution",
)
TREND_DIMENSIONS: Final = ("category", "channel", "product_line", "priority", "age_band")
TREND_TABLE: Final = "trend"
EXPORT_TYPE: Final = "analytics-export"

register_catalog(
    {
        "zh": {
            "analytics.title": "投诉分析",
            "analytics.subtitle": "投诉人画像与案件分析：按立案日期和团队筛选",
            "analytics.dates": "立案日期",
            "analytics.trend_by": "趋势分组",
            "analytics.trend_title": "每周投诉量（ISO 周）与平均满意度",
            "analytics.iso_week": "ISO 周",
            "analytics.cases": "案件数",
            "analytics.share": "占比",
            "analytics.rated": "已评价",
            "analytics.satisfaction": "平均满意度",
            "analytics.total": "合计",
            "analytics.unknown": "未提供",
            "analytics.none_yet": "暂无",
            "analytics.value": "分类",
            "analytics.kpi_cases": "立案",
            "analytics.kpi_closed": "已结案",
            "analytics.kpi_satisfaction": "平均满意度（1–5）",
            "analytics.kpi_repeat": "重复投诉占比",
            "analytics.kpi_regulator": "升级至监管占比",
            "analytics.range_hint": "{start} 至 {end}",
            "analytics.bad_range": "结束日期早于开始日期。",
            "analytics.by.channel": "投诉渠道",
            "analytics.by.category": "投诉类别",
            "analytics.by.product_line": "险种",
            "analytics.by.priority": "优先级",
            "analytics.by.gender": "投诉人性别",
            "analytics.by.age_band": "投诉人年龄段",
            "analytics.by.repeat": "是否重复投诉",
            "analytics.by.outcome": "处理结果",
            "analytics.by.satisfaction": "满意度评分",
            "analytics.by.resolution": "结案方式",
            "analytics.file.trend": "每周趋势",
        },
        "en": {
            "analytics.title": "Complaint analytics",
            "analytics.subtitle": "Complainant profile and case analysis, by opening date and team",
            "analytics.dates": "Opened",
            "analytics.trend_by": "Trend by",
            "analytics.trend_title": "Complaints per ISO week and mean satisfaction",
            "analytics.iso_week": "ISO week",
            "analytics.cases": "Cases",
            "analytics.share": "Share",
            "analytics.rated": "Rated",
            "analytics.satisfaction": "Mean satisfaction",
            "analytics.total": "Total",
            "analytics.unknown": "Not given",
            "analytics.none_yet": "None yet",
            "analytics.value": "Value",
            "analytics.kpi_cases": "Opened",
            "analytics.kpi_closed": "Closed",
            "analytics.kpi_satisfaction": "Mean satisfaction (1–5)",
            "analytics.kpi_repeat": "Repeat complainants",
            "analytics.kpi_regulator": "Escalated to the regulator",
            "analytics.range_hint": "{start} to {end}",
            "analytics.bad_range": "The end date is before the start date.",
            "analytics.by.channel": "Channel",
            "analytics.by.category": "Category",
            "analytics.by.product_line": "Product line",
            "analytics.by.priority": "Priority",
            "analytics.by.gender": "Complainant gender",
            "analytics.by.age_band": "Complainant age band",
            "analytics.by.repeat": "Repeat complainant",
            "analytics.by.outcome": "Outcome",
            "analytics.by.satisfaction": "Satisfaction score",
            "analytics.by.resolution": "Resolution",
            "analytics.file.trend": "weekly-trend",
        },
    }
)


# -- tables (shown and exported) -------------------------------------------------------------


class Table(NamedTuple):
    headers: list[str]
    rows: list[list[Any]]


def breakdown_table(rows: list[BreakdownRow], dimension: str, lang: str) -> Table:
    tr = translator(lang)
    headers = [
        t(f"analytics.by.{dimension}", lang),
        t("analytics.cases", lang),
        t("analytics.share", lang),
        t("analytics.rated", lang),
        t("analytics.satisfaction", lang),
    ]
    body = [
        [
            figures.value_label(dimension, r.value, tr),
            r.cases,
            round(r.share, 4),
            r.rated,
            round(r.satisfaction, 2) if r.satisfaction is not None else None,
        ]
        for r in rows
    ]
    return Table(headers, body)


def trend_table(trend: WeeklyTrend, lang: str) -> Table:
    tr = translator(lang)
    headers = [
        t("analytics.iso_week", lang),
        *(figures.value_label(trend.dimension, v, tr) for v in trend.values),
        t("analytics.total", lang),
        t("analytics.satisfaction", lang),
    ]
    body = []
    for week in trend.weeks:
        mean = trend.satisfaction[week]
        body.append(
            [
                week,
                *(trend.counts[v][week] for v in trend.values),
                trend.totals[week],
                round(mean, 2) if mean is not None else None,
            ]
        )
    return Table(headers, body)


def html_table(table_data: Table, lang: str, table_id: str, shares: bool = False) -> html.Table:
    """A table for the page; the share column (index 2) as a percentage when ``shares``."""

    def shown(index: int, value: Any) -> Any:
        if value is None:
            return "—"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        if shares and index == 2:
            return format_percent(value, lang)
        return format_number(value, lang, 2 if isinstance(value, float) else 0)

    numeric = [False] + [True] * (len(table_data.headers) - 1)
    rows = [[shown(i, v) for i, v in enumerate(row)] for row in table_data.rows]
    return table(table_data.headers, rows, table_id, numeric)


# -- the page's data -------------------------------------------------------------------------


class AnalyticsView(NamedTuple):
    kpis: list[Any]
    trend: go.Figure
    trend_table: Any
    charts: list[go.Figure]
    tables: list[Any]


def build_view(runtime: Runtime, lang: str, flt: AnalyticsFilter, trend_by: str) -> AnalyticsView:
    tr = translator(lang)
    tz = runtime.tz
    with Session(runtime.engine) as session:
        head = queries.headline(session, flt, tz)
        trend = queries.weekly_trend(session, flt, tz, trend_by)
        breakdowns = {d: queries.breakdown(session, d, flt, tz) for d in BREAKDOWNS}
    kpis = [
        tile(
            t("analytics.kpi_cases", lang),
            format_number(head.cases),
            hint=t(
                "analytics.range_hint",
                lang,
                start=format_date(flt.start, tz, lang),
                end=format_date(flt.end, tz, lang),
            ),
            tile_id="analytics-kpi-cases",
        ),
        tile(
            t("analytics.kpi_closed", lang),
            format_number(head.closed),
            tile_id="analytics-kpi-closed",
        ),
        tile(
            t("analytics.kpi_satisfaction", lang),
            format_number(head.satisfaction, lang, 2) if head.satisfaction is not None else None,
            tile_id="analytics-kpi-satisfaction",
        ),
        tile(
            t("analytics.kpi_repeat", lang),
            format_percent(head.repeat_share, lang),
            tile_id="analytics-kpi-repeat",
        ),
        tile(
            t("analytics.kpi_regulator", lang),
            format_percent(head.regulator_share, lang),
            level="red" if head.regulator_share > 0 else "ok",
            tile_id="analytics-kpi-regulator",
        ),
    ]
    no_data = t("desk.no_data", lang)
    charts = [
        figures.breakdown_figure(breakdowns[d], d, tr)
        if breakdowns[d]
        else empty_figure(no_data, 200)
        for d in BREAKDOWNS
    ]
    tables = [
        html_table(
            breakdown_table(breakdowns[d], d, lang), lang, f"analytics-table-{d}", shares=True
        )
        for d in BREAKDOWNS
    ]
    return AnalyticsView(
        kpis=kpis,
        trend=figures.weekly_trend_figure(trend, tr) if head.cases else empty_figure(no_data),
        trend_table=html_table(trend_table(trend, lang), lang, "analytics-table-trend"),
        charts=charts,
        tables=tables,
    )


def table_csv(
    runtime: Runtime, lang: str, name: str, flt: AnalyticsFilter, trend_by: str
) -> dict[str, Any]:
    """One of the page's tables (a breakdown or the weekly trend) as a ``dcc.Download`` CSV."""
    tz = runtime.tz
    with Session(runtime.engine) as session:
        if name == TREND_TABLE:
            table = trend_table(queries.weekly_trend(session, flt, tz, trend_by), lang)
            stem = t("analytics.file.trend", lang)
        elif name in BREAKDOWNS:
            table = breakdown_table(queries.breakdown(session, name, flt, tz), name, lang)
            stem = t(f"analytics.by.{name}", lang)
        else:
            raise ValueError(f"unknown table {name!r}")
    team = team_names(runtime.rules, lang).get(flt.team, flt.team) if flt.team else None
    stem = "-".join(filter(None, [stem, team, f"{flt.start:%Y%m%d}-{flt.end:%Y%m%d}"]))
    moment = datetime.fromtimestamp(runtime.query.clock(), tz)
    return export.download(stem, table.headers, table.rows, moment)


def parse_filter(runtime: Runtime, start: Any, end: Any, team: Any) -> AnalyticsFilter:
    """The date pickers' values (ISO dates) and the team; missing, malformed or
    out-of-range dates (``dashboard.dates``) take the defaults.

    Raises ValueError for an end before the start.
    """
    default = queries.default_filter(runtime.query.clock(), runtime.tz)

    def day(value: Any, fallback: date) -> date:
        parsed = dates.parse_date(value)
        return parsed if parsed is not None else fallback

    return AnalyticsFilter(
        day(start, default.start),
        day(end, default.end),
        team if isinstance(team, str) and team else None,
    )


# -- layout ----------------------------------------------------------------------------------


def _graph(graph_id: str) -> dcc.Graph:
    return dcc.Graph(id=graph_id, config=GRAPH_CONFIG)


def _export_button(name: str, lang: str) -> html.Button:
    return html.Button(
        t("desk.export_csv", lang),
        id={"type": EXPORT_TYPE, "table": name},
        className="desk-button",
        style=BUTTON_STYLE,
        n_clicks=0,
    )


def _card(name: str, lang: str) -> html.Section:
    return panel(
        t(f"analytics.by.{name}", lang),
        [
            _export_button(name, lang),
            _graph(f"analytics-chart-{name}"),
            html.Details(
                [html.Summary(t("desk.table", lang)), html.Div(id=f"analytics-tablewrap-{name}")],
                className="desk-details",
                style=DETAILS_STYLE,
            ),
        ],
        panel_id=f"analytics-card-{name}",
    )


def layout(
    lang: str | None = None,
    team: str | None = None,
    start: str | None = None,
    end: str | None = None,
    **_: Any,
) -> html.Div:
    language = normalise_language(lang) or current_language()
    runtime = current_runtime()
    try:
        flt = parse_filter(runtime, start, end, team)
        range_error = None
    except ValueError:  # a bookmarked range that ends before it starts: the default one
        flt = parse_filter(runtime, None, None, team)
        range_error = error(t("analytics.bad_range", language))
    controls = html.Div(
        [
            html.Label(
                t("analytics.dates", language),
                htmlFor="analytics-dates",
                className="desk-label",
                style=LABEL_STYLE,
            ),
            dcc.DatePickerRange(
                id="analytics-dates",
                start_date=flt.start.isoformat(),
                end_date=flt.end.isoformat(),
                display_format="YYYY-MM-DD",
                first_day_of_week=1,
                minimum_nights=0,
                className="desk-dates",
                persistence=True,
                persistence_type="session",
            ),
            *team_filter(
                "analytics",
                team_options(runtime.rules, language),
                flt.team,
                t("desk.team", language),
                t("desk.all_teams", language),
            ),
            html.Label(
                t("analytics.trend_by", language),
                htmlFor="analytics-trend-by",
                className="desk-label",
                style=LABEL_STYLE,
            ),
            dcc.Dropdown(
                id="analytics-trend-by",
                options=[
                    {"label": t(f"analytics.by.{d}", language), "value": d}
                    for d in TREND_DIMENSIONS
                ],
                value="category",
                clearable=False,
                className="desk-dropdown",
                style={"minWidth": "180px"},
                persistence=True,
                persistence_type="session",
            ),
        ],
        className="desk-controls",
        style=CONTROLS_STYLE,
    )
    return html.Div(
        [
            page_header(
                t("analytics.title", language), t("analytics.subtitle", language), controls
            ),
            html.Div(range_error, id="analytics-range-error", role="alert"),
            html.Div(id="analytics-error", role="alert"),
            html.Div(id="analytics-kpis", className="desk-tiles", style=TILES_STYLE),
            panel(
                t("analytics.trend_title", language),
                [
                    _export_button(TREND_TABLE, language),
                    _graph("analytics-trend"),
                    html.Details(
                        [
                            html.Summary(t("desk.table", language)),
                            html.Div(id="analytics-tablewrap-trend"),
                        ],
                        className="desk-details",
                        style=DETAILS_STYLE,
                    ),
                ],
                panel_id="analytics-card-trend",
            ),
            html.Div(
                [_card(name, language) for name in BREAKDOWNS],
                className="desk-grid",
                style=CARDS_STYLE,
            ),
            dcc.Download(id="analytics-download"),
        ],
        className="co-page desk-page",
        id="analytics-page",
        style=PAGE_STYLE,
    )


CARDS_STYLE: Final = {
    "display": "grid",
    "gridTemplateColumns": "repeat(auto-fill, minmax(520px, 1fr))",
    "gap": "12px",
    "marginTop": "12px",
}
DETAILS_STYLE: Final = {"marginTop": "8px", "color": "var(--co-muted)"}


# -- callbacks -------------------------------------------------------------------------------


@callback(
    Output("analytics-kpis", "children"),
    Output("analytics-trend", "figure"),
    Output("analytics-tablewrap-trend", "children"),
    *(Output(f"analytics-chart-{d}", "figure") for d in BREAKDOWNS),
    *(Output(f"analytics-tablewrap-{d}", "children") for d in BREAKDOWNS),
    Output("analytics-error", "children"),
    Input("analytics-dates", "start_date"),
    Input("analytics-dates", "end_date"),
    Input("analytics-team", "value"),
    Input("analytics-trend-by", "value"),
)
def refresh(start: Any, end: Any, team: Any, trend_by: Any) -> tuple[Any, ...]:
    lang = current_language()
    runtime = current_runtime()
    blank = empty_figure(t("desk.no_data", lang))
    empty = ([], blank, None, *([blank] * len(BREAKDOWNS)), *([None] * len(BREAKDOWNS)))
    try:
        flt = parse_filter(runtime, start, end, team)
    except ValueError:
        return (*empty, error(t("analytics.bad_range", lang)))
    dimension = trend_by if trend_by in TREND_DIMENSIONS else "category"
    try:
        view = build_view(runtime, lang, flt, dimension)
    except SQLAlchemyError as exc:
        log.warning("analytics page: data unavailable: %s", exc)
        message = t("desk.unavailable", lang, reason=type(exc).__name__)
        return (*empty, error(message))
    return (view.kpis, view.trend, view.trend_table, *view.charts, *view.tables, None)


@callback(
    Output("analytics-download", "data"),
    Input({"type": EXPORT_TYPE, "table": ALL}, "n_clicks"),
    State("analytics-dates", "start_date"),
    State("analytics-dates", "end_date"),
    State("analytics-team", "value"),
    State("analytics-trend-by", "value"),
    prevent_initial_call=True,
)
def export_table(clicks: list[int | None], start: Any, end: Any, team: Any, trend_by: Any) -> Any:
    trigger = dash.ctx.triggered_id
    if not any(clicks) or not isinstance(trigger, dict):
        return dash.no_update
    return export_for(str(trigger.get("table")), start, end, team, trend_by)


def export_for(name: str, start: Any, end: Any, team: Any, trend_by: Any) -> Any:
    """The download for the table ``name`` with the page's current filters."""
    lang = current_language()
    runtime = current_runtime()
    try:
        flt = parse_filter(runtime, start, end, team)
        dimension = trend_by if trend_by in TREND_DIMENSIONS else "category"
        return table_csv(runtime, lang, name, flt, dimension)
    except ValueError:
        return dash.no_update
