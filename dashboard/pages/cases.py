"""Cases page (/cases): search and filter cases, and one case in detail
(/cases?case=ID): its stage timeline, decision clock and return visits.

No personal data is shown: the events carry none, and the complainant's
free-text occupation is never displayed.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import dash
import redis
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import MissingCallbackContextException
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from dashboard.components.badge import badge
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.desk_labels import enum_options, handler_names, team_names, team_options, translator
from dashboard.desk_layout import (
    BUTTON_STYLE,
    GRAPH_CONFIG,
    INPUT_STYLE,
    LABEL_STYLE,
    PAGE_STYLE,
    error,
    note,
    table,
)
from dashboard.figures import flow as flow_figures
from dashboard.i18n import (
    current_language,
    format_datetime,
    format_duration,
    format_number,
    normalise_language,
    register_catalog,
    stage_name,
    stage_names,
    t,
)
from dashboard.queries import cases as queries
from dashboard.queries.cases import CaseList, CaseSearch, CaseView
from events.timeutil import parse_rfc3339

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/cases",
    name="Cases",
    title="案件 Cases · ComplaintOps",
    nav_label={"zh": "案件", "en": "Cases"},
    order=40,
)

FILTERS: Final = ("team", "handler", "stage", "category", "channel", "priority", "status", "clock")
CLOCK_LEVELS: Final = {
    "running": "ok",
    "decided": "ok",
    "paused": "muted",
    "closed": "muted",
    "at_risk": "amber",
    "breached": "red",
}

register_catalog(
    {
        "zh": {
            "cases.title": "案件查询",
            "cases.subtitle": "按案件号、团队、处理人、环节、类别、渠道、优先级、状态和时限状态查找案件",
            "cases.search": "案件号",
            "cases.search_placeholder": "输入案件号开头，如 C2026-",
            "cases.filter.team": "团队",
            "cases.filter.handler": "处理人",
            "cases.filter.stage": "环节",
            "cases.filter.category": "类别",
            "cases.filter.channel": "渠道",
            "cases.filter.priority": "优先级",
            "cases.filter.status": "状态",
            "cases.filter.clock": "处理时限",
            "cases.summary": "共 {total} 件 · 第 {page}/{pages} 页",
            "cases.previous": "上一页",
            "cases.next": "下一页",
            "cases.col.case_id": "案件号",
            "cases.col.status": "状态",
            "cases.col.stage": "环节",
            "cases.col.team": "团队",
            "cases.col.handler": "处理人",
            "cases.col.category": "类别",
            "cases.col.channel": "渠道",
            "cases.col.priority": "优先级",
            "cases.col.opened": "立案时间",
            "cases.col.deadline": "决定期限",
            "cases.col.clock": "时限状态",
            "cases.none": "没有符合条件的案件。",
            "cases.not_found": "未找到案件 {case_id}。",
            "cases.back": "返回列表",
            "cases.detail": "案件详情",
            "cases.facts": "基本信息",
            "cases.profile": "投诉人画像",
            "cases.product_line": "险种",
            "cases.opened_at": "立案时间",
            "cases.received_at": "收到投诉",
            "cases.gender": "性别",
            "cases.age_band": "年龄段",
            "cases.repeat": "是否重复投诉",
            "cases.group_size": "投诉人数",
            "cases.outcome": "处理结果",
            "cases.satisfaction": "满意度",
            "cases.resolution": "结案方式",
            "cases.timeline": "环节时间线",
            "cases.clock": "处理时限（监管规定）",
            "cases.limit": "时限",
            "cases.limit_days": "{days} 天",
            "cases.deadline": "决定期限",
            "cases.remaining": "剩余",
            "cases.overdue_by": "已超时",
            "cases.paused_total": "暂停累计",
            "cases.decided_at": "作出决定",
            "cases.on_time": "按时",
            "cases.late": "超时",
            "cases.pauses": "暂停记录",
            "cases.pause_item": "{start} – {end}（{reason}）",
            "cases.pause_open": "至今",
            "cases.extensions": "延期",
            "cases.extension_item": "{at}：第 {tier} 级延期，时限 {days} 天",
            "cases.none_yet": "无",
            "cases.return_visits": "回访",
            "cases.rv.scheduled": "安排时间",
            "cases.rv.due": "应回访",
            "cases.rv.done": "完成时间",
            "cases.rv.satisfaction": "满意度",
            "cases.rv.result": "结果",
            "cases.rv.pending": "待回访",
            "cases.events": "事件记录",
            "cases.ev.seq": "序号",
            "cases.ev.type": "事件",
            "cases.ev.at": "发生时间",
            "cases.yes": "是",
            "cases.no": "否",
        },
        "en": {
            "cases.title": "Cases",
            "cases.subtitle": "Find cases by id, team, handler, stage, category, channel, priority, status and clock",
            "cases.search": "Case id",
            "cases.search_placeholder": "Start of a case id, e.g. C2026-",
            "cases.filter.team": "Team",
            "cases.filter.handler": "Handler",
            "cases.filter.stage": "Stage",
            "cases.filter.category": "Category",
            "cases.filter.channel": "Channel",
            "cases.filter.priority": "Priority",
            "cases.filter.status": "Status",
            "cases.filter.clock": "Decision clock",
            "cases.summary": "{total} found · page {page} of {pages}",
            "cases.previous": "Previous",
            "cases.next": "Next",
            "cases.col.case_id": "Case",
            "cases.col.status": "Status",
            "cases.col.stage": "Stage",
            "cases.col.team": "Team",
            "cases.col.handler": "Handler",
            "cases.col.category": "Category",
            "cases.col.channel": "Channel",
            "cases.col.priority": "Priority",
            "cases.col.opened": "Opened",
            "cases.col.deadline": "Decision due",
            "cases.col.clock": "Clock",
            "cases.none": "No case matches.",
            "cases.not_found": "No case {case_id}.",
            "cases.back": "Back to the list",
            "cases.detail": "Case detail",
            "cases.facts": "Facts",
            "cases.profile": "Complainant profile",
            "cases.product_line": "Product line",
            "cases.opened_at": "Opened",
            "cases.received_at": "Received",
            "cases.gender": "Gender",
            "cases.age_band": "Age band",
            "cases.repeat": "Complained before",
            "cases.group_size": "Complainants",
            "cases.outcome": "Outcome",
            "cases.satisfaction": "Satisfaction",
            "cases.resolution": "Resolution",
            "cases.timeline": "Stage timeline",
            "cases.clock": "Decision clock (regulatory)",
            "cases.limit": "Limit",
            "cases.limit_days": "{days} days",
            "cases.deadline": "Decision due",
            "cases.remaining": "Left",
            "cases.overdue_by": "Overdue by",
            "cases.paused_total": "Paused in total",
            "cases.decided_at": "Decided",
            "cases.on_time": "On time",
            "cases.late": "Late",
            "cases.pauses": "Pauses",
            "cases.pause_item": "{start} – {end} ({reason})",
            "cases.pause_open": "now",
            "cases.extensions": "Extensions",
            "cases.extension_item": "{at}: tier {tier} extension, limit {days} days",
            "cases.none_yet": "None",
            "cases.return_visits": "Return visits",
            "cases.rv.scheduled": "Scheduled",
            "cases.rv.due": "Due",
            "cases.rv.done": "Done",
            "cases.rv.satisfaction": "Satisfaction",
            "cases.rv.result": "Result",
            "cases.rv.pending": "Pending",
            "cases.events": "Events",
            "cases.ev.seq": "Seq",
            "cases.ev.type": "Event",
            "cases.ev.at": "Occurred",
            "cases.yes": "Yes",
            "cases.no": "No",
        },
    }
)

LIST_COLUMNS: Final = (
    "case_id",
    "status",
    "stage",
    "team",
    "handler",
    "category",
    "channel",
    "priority",
    "opened",
    "deadline",
    "clock",
)


# -- the list ---------------------------------------------------------------------------


def criteria_from(search: str | None, values: dict[str, Any]) -> CaseSearch:
    """The search box and the filter menus as a ``CaseSearch`` (empty = any)."""

    def pick(name: str) -> str | None:
        value = values.get(name)
        return value if isinstance(value, str) and value else None

    return CaseSearch(
        search=(search or "").strip()[:64] or None,
        team_id=pick("team"),
        handler_id=pick("handler"),
        stage=pick("stage"),
        category=pick("category"),
        channel=pick("channel"),
        priority=pick("priority"),
        status=pick("status"),
        clock=pick("clock"),
    )


def find(runtime: Runtime, criteria: CaseSearch, page: int) -> CaseList:
    with Session(runtime.engine) as session:
        return queries.search_cases(session, runtime.query, criteria, runtime.query.clock(), page)


def list_table(found: CaseList, runtime: Runtime, lang: str) -> Any:
    if not found.rows:
        return note(t("cases.none", lang), id="cases-empty")
    teams = team_names(runtime.rules, lang)
    people = handler_names(runtime.rules)
    rows = []
    for row in found.rows:
        due = format_datetime(row.deadline, runtime.tz, lang) if row.deadline is not None else "—"
        rows.append(
            [
                dcc.Link(row.case_id, href=f"/cases?case={row.case_id}", className="co-link"),
                t(f"status.{row.status}", lang),
                stage_name(row.stage, lang),
                teams.get(row.team_id, row.team_id),
                people.get(row.handler_id, row.handler_id),
                t(f"category.{row.category}", lang),
                t(f"channel.{row.channel}", lang),
                t(f"priority.{row.priority}", lang),
                format_datetime(row.opened_at, runtime.tz, lang),
                due,
                badge(t(f"clock.{row.clock}", lang), CLOCK_LEVELS[row.clock]),
            ]
        )
    headers = [t(f"cases.col.{c}", lang) for c in LIST_COLUMNS]
    return table(headers, rows, "cases-result-table")


def summary_text(found: CaseList, lang: str) -> str:
    return t(
        "cases.summary",
        lang,
        total=format_number(found.total),
        page=found.page + 1,
        pages=found.pages,
    )


def next_page(trigger: Any, page: int | None) -> int:
    """The page to show after ``trigger``: previous/next move by one, anything
    else (a changed filter) goes back to the first page."""
    current = page or 0
    if trigger == "cases-previous":
        return max(0, current - 1)
    if trigger == "cases-next":
        return current + 1
    return 0


# -- one case ------------------------------------------------------------------------------


def _fact(label: str, value: Any) -> list[Any]:
    shown = value if value not in (None, "") else "—"
    return [html.Dt(label, style=FACT_LABEL_STYLE), html.Dd(shown, style=FACT_VALUE_STYLE)]


def _enum(group: str, value: str | None, lang: str) -> str | None:
    return t(f"{group}.{value}", lang) if value else None


def case_panel(view: CaseView, runtime: Runtime, lang: str) -> html.Div:
    tz = runtime.tz
    now = runtime.query.clock()
    detail = view.detail
    teams = team_names(runtime.rules, lang)
    people = handler_names(runtime.rules)
    clock_key = queries.clock_label(view.clock)
    profile = view.profile
    repeat = profile.get("repeat")
    facts = html.Dl(
        [
            *_fact(t("cases.col.stage", lang), stage_name(detail["stage"], lang)),
            *_fact(t("cases.col.team", lang), teams.get(detail["team_id"], detail["team_id"])),
            *_fact(
                t("cases.col.handler", lang), people.get(detail["handler_id"], detail["handler_id"])
            ),
            *_fact(t("cases.col.channel", lang), _enum("channel", detail["channel"], lang)),
            *_fact(t("cases.col.category", lang), _enum("category", detail["category"], lang)),
            *_fact(t("cases.product_line", lang), _enum("product_line", view.product_line, lang)),
            *_fact(t("cases.col.priority", lang), _enum("priority", detail["priority"], lang)),
            *_fact(
                t("cases.received_at", lang),
                format_datetime(view.received_at.timestamp(), tz, lang),
            ),
            *_fact(
                t("cases.opened_at", lang), format_datetime(view.opened_at.timestamp(), tz, lang)
            ),
            *_fact(t("cases.outcome", lang), _enum("outcome", view.outcome, lang)),
            *_fact(t("cases.resolution", lang), _enum("resolution", view.resolution, lang)),
            *_fact(
                t("cases.satisfaction", lang),
                f"{view.satisfaction} ★" if view.satisfaction is not None else None,
            ),
        ],
        className="desk-facts",
        style=FACTS_STYLE,
        id="cases-facts",
    )
    profile_facts = html.Dl(
        [
            *_fact(t("cases.gender", lang), _enum("gender", profile.get("gender"), lang)),
            *_fact(t("cases.age_band", lang), _enum("age_band", profile.get("age_band"), lang)),
            *_fact(
                t("cases.repeat", lang),
                None if repeat is None else t("cases.yes" if repeat else "cases.no", lang),
            ),
            *_fact(t("cases.group_size", lang), profile.get("group_size")),
        ],
        className="desk-facts",
        style=FACTS_STYLE,
        id="cases-profile",
    )
    timeline = flow_figures.case_timeline_figure(view.history.visits, now, translator(lang), tz)
    return html.Div(
        [
            html.Div(
                [
                    html.H2(detail["case_id"], className="co-panel__title", id="cases-detail-id"),
                    badge(
                        t(f"status.{detail['status']}", lang),
                        "ok" if detail["status"] == "open" else "muted",
                    ),
                    badge(
                        t(f"clock.{clock_key}", lang),
                        CLOCK_LEVELS[clock_key],
                        badge_id="cases-detail-clock",
                    ),
                    dcc.Link(t("cases.back", lang), href="/cases", className="co-link"),
                ],
                className="desk-detail__head",
                style={"display": "flex", "gap": "12px", "alignItems": "center"},
            ),
            html.Div(
                [
                    panel(t("cases.facts", lang), facts),
                    panel(t("cases.profile", lang), profile_facts),
                    panel(t("cases.clock", lang), clock_section(view, runtime, lang)),
                ],
                className="desk-grid",
                style=DETAIL_GRID_STYLE,
            ),
            panel(
                t("cases.timeline", lang),
                dcc.Graph(
                    id="cases-timeline",
                    figure=timeline,
                    config=GRAPH_CONFIG,
                ),
            ),
            html.Div(
                [
                    panel(t("cases.return_visits", lang), return_visits_table(view, runtime, lang)),
                    panel(t("cases.events", lang), events_table(view, runtime, lang)),
                ],
                className="desk-grid",
                style=DETAIL_GRID_STYLE,
            ),
        ],
        className="desk-detail",
        id="cases-detail",
    )


def clock_section(view: CaseView, runtime: Runtime, lang: str) -> html.Div:
    tz = runtime.tz
    status = view.clock
    detail = view.detail
    facts: list[Any] = [
        *_fact(t("cases.limit", lang), t("cases.limit_days", lang, days=detail["limit_days"])),
        *_fact(
            t("cases.deadline", lang),
            format_datetime(status.deadline, tz, lang) if status.deadline is not None else None,
        ),
    ]
    if status.remaining_seconds is not None:
        if status.remaining_seconds >= 0:
            facts += _fact(
                t("cases.remaining", lang), format_duration(status.remaining_seconds, lang)
            )
        else:
            facts += _fact(
                t("cases.overdue_by", lang), format_duration(-status.remaining_seconds, lang)
            )
    facts += _fact(t("cases.paused_total", lang), format_duration(status.paused_seconds, lang))
    decided = view.history.state.clock.decided_at if view.history.state else None
    if decided is not None:
        verdict = badge(
            t("cases.on_time" if view.decided_on_time else "cases.late", lang),
            "ok" if view.decided_on_time else "red",
            badge_id="cases-decided-verdict",
        )
        facts += _fact(
            t("cases.decided_at", lang), [format_datetime(decided, tz, lang), " ", verdict]
        )
    pauses = [
        html.Li(
            t(
                "cases.pause_item",
                lang,
                start=format_datetime(p.start, tz, lang),
                end=format_datetime(p.end, tz, lang)
                if p.end is not None
                else t("cases.pause_open", lang),
                reason=t(f"pause_reason.{p.reason}", lang),
            )
        )
        for p in view.history.pauses
    ]
    extensions = [
        html.Li(
            t(
                "cases.extension_item",
                lang,
                at=format_datetime(e.at, tz, lang),
                tier=e.tier,
                days=e.limit_days,
            )
        )
        for e in view.history.extensions
    ]
    return html.Div(
        [
            html.Dl(facts, className="desk-facts", style=FACTS_STYLE, id="cases-clock"),
            html.H3(t("cases.pauses", lang), className="desk-subtitle", style=SUBTITLE_STYLE),
            html.Ul(pauses, className="desk-list", style=LIST_STYLE)
            if pauses
            else note(t("cases.none_yet", lang)),
            html.H3(t("cases.extensions", lang), className="desk-subtitle", style=SUBTITLE_STYLE),
            html.Ul(extensions, className="desk-list", style=LIST_STYLE)
            if extensions
            else note(t("cases.none_yet", lang)),
        ]
    )


def return_visits_table(view: CaseView, runtime: Runtime, lang: str) -> Any:
    visits = view.history.return_visits
    if not visits:
        return note(t("cases.none_yet", lang))
    tz = runtime.tz
    now = runtime.query.clock()
    keys = ("scheduled", "due", "done", "satisfaction", "result")
    rows = []
    for visit in visits:
        on_time = visit.on_time(now)
        if on_time is None:
            result = badge(t("cases.rv.pending", lang), "muted")
        else:
            result = badge(
                t("cases.on_time" if on_time else "cases.late", lang), "ok" if on_time else "red"
            )
        rows.append(
            [
                format_datetime(visit.scheduled_at, tz, lang),
                format_datetime(visit.due_at, tz, lang),
                format_datetime(visit.done_at, tz, lang) if visit.done_at else "—",
                f"{visit.satisfaction} ★" if visit.satisfaction else "—",
                result,
            ]
        )
    return table([t(f"cases.rv.{k}", lang) for k in keys], rows, "cases-return-visits")


def events_table(view: CaseView, runtime: Runtime, lang: str) -> html.Table:
    rows = [
        [
            str(item["seq"]),
            t(f"event.{item['type']}", lang),
            format_datetime(parse_rfc3339(item["occurred_at"]), runtime.tz, lang),
        ]
        for item in view.detail["timeline"]
    ]
    headers = [t(f"cases.ev.{k}", lang) for k in ("seq", "type", "at")]
    return table(headers, rows, "cases-events", [True, False, False])


def detail_section(runtime: Runtime, case_id: str, lang: str) -> Any:
    """The detail of ``case_id``, or a notice when there is no such case."""
    with Session(runtime.engine) as session:
        view = queries.case_view(runtime, session, case_id, runtime.query.clock())
    if view is None:
        return html.Div(
            [
                error(t("cases.not_found", lang, case_id=case_id)),
                dcc.Link(t("cases.back", lang), href="/cases", className="co-link"),
            ],
            id="cases-detail",
        )
    return case_panel(view, runtime, lang)


# -- layout --------------------------------------------------------------------------------


def _dropdown(name: str, options: list[dict[str, str]], value: Any, lang: str) -> html.Div:
    return html.Div(
        [
            html.Label(
                t(f"cases.filter.{name}", lang),
                htmlFor=f"cases-{name}",
                className="desk-label",
                style=LABEL_STYLE,
            ),
            dcc.Dropdown(
                id=f"cases-{name}",
                options=options,
                value=value or None,
                placeholder=t("desk.any", lang),
                clearable=True,
                className="desk-dropdown",
                persistence=True,
                persistence_type="session",
            ),
        ],
        className="desk-filter",
    )


def filter_menus(runtime: Runtime, lang: str, initial: dict[str, Any]) -> list[html.Div]:
    people = handler_names(runtime.rules)
    stages = stage_names(lang)
    options = {
        "team": team_options(runtime.rules, lang),
        "handler": [{"label": label, "value": hid} for hid, label in sorted(people.items())],
        "stage": [{"label": label, "value": stage} for stage, label in stages.items()],
        "category": enum_options("category", lang),
        "channel": enum_options("channel", lang),
        "priority": enum_options("priority", lang),
        "status": enum_options("status", lang),
        "clock": [
            {"label": t(f"clock.{key}", lang), "value": key} for key in queries.CLOCK_FILTERS
        ],
    }
    return [_dropdown(name, options[name], initial.get(name), lang) for name in FILTERS]


def layout(
    lang: str | None = None, case: str | None = None, q: str | None = None, **query: Any
) -> html.Div:
    language = normalise_language(lang) or current_language()
    runtime = current_runtime()
    detail: Any = None
    if case:
        try:
            detail = detail_section(runtime, str(case)[:64], language)
        except (redis.RedisError, SQLAlchemyError) as exc:
            log.warning("cases page: detail unavailable: %s", exc)
            detail = error(t("desk.unavailable", language, reason=type(exc).__name__))
    search = html.Div(
        [
            html.Label(
                t("cases.search", language),
                htmlFor="cases-search",
                className="desk-label",
                style=LABEL_STYLE,
            ),
            dcc.Input(
                id="cases-search",
                type="search",
                value=q or "",
                placeholder=t("cases.search_placeholder", language),
                debounce=0.4,
                maxLength=64,
                className="desk-input",
                style=INPUT_STYLE,
                persistence=True,
                persistence_type="session",
            ),
        ],
        className="desk-filter",
    )
    filters = html.Div(
        [search, *filter_menus(runtime, language, query)],
        className="desk-filters",
        style=FILTERS_STYLE,
    )
    pager = html.Div(
        [
            html.Button(
                t("cases.previous", language),
                id="cases-previous",
                className="desk-button",
                style=BUTTON_STYLE,
                n_clicks=0,
            ),
            html.Span(id="cases-summary", className="desk-summary"),
            html.Button(
                t("cases.next", language),
                id="cases-next",
                className="desk-button",
                style=BUTTON_STYLE,
                n_clicks=0,
            ),
        ],
        className="desk-pager",
        style={"display": "flex", "gap": "12px", "alignItems": "center", "margin": "8px 0"},
    )
    return html.Div(
        [
            page_header(t("cases.title", language), t("cases.subtitle", language)),
            html.Div(detail, id="cases-detail-wrap"),
            panel(
                None,
                [
                    filters,
                    pager,
                    html.Div(id="cases-error", role="alert"),
                    html.Div(id="cases-table", className="desk-table-wrap"),
                ],
            ),
            dcc.Store(id="cases-page", data=0),
        ],
        className="co-page desk-page",
        id="cases-page-root",
        style=PAGE_STYLE,
    )


FACTS_STYLE: Final = {
    "display": "grid",
    "gridTemplateColumns": "max-content 1fr",
    "gap": "6px 16px",
    "margin": 0,
}
SUBTITLE_STYLE: Final = {"fontSize": "14px", "color": "var(--co-muted)", "margin": "16px 0 6px"}
LIST_STYLE: Final = {"margin": 0, "paddingLeft": "20px", "lineHeight": 1.8}
FACT_LABEL_STYLE: Final = {"color": "var(--co-muted)"}
FACT_VALUE_STYLE: Final = {"margin": 0}
FILTERS_STYLE: Final = {
    "display": "grid",
    "gridTemplateColumns": "repeat(auto-fill, minmax(180px, 1fr))",
    "gap": "8px 12px",
}
DETAIL_GRID_STYLE: Final = {
    "display": "grid",
    "gridTemplateColumns": "repeat(auto-fit, minmax(420px, 1fr))",
    "gap": "12px",
}


# -- callbacks -----------------------------------------------------------------------------


def _trigger() -> Any:
    try:
        return dash.ctx.triggered_id
    except MissingCallbackContextException:
        return None


@callback(
    Output("cases-table", "children"),
    Output("cases-summary", "children"),
    Output("cases-page", "data"),
    Output("cases-error", "children"),
    Input("cases-search", "value"),
    *(Input(f"cases-{name}", "value") for name in FILTERS),
    Input("cases-previous", "n_clicks"),
    Input("cases-next", "n_clicks"),
    State("cases-page", "data"),
)
def update_list(search: str | None, *values: Any) -> tuple[Any, ...]:
    filters = dict(zip(FILTERS, values[: len(FILTERS)], strict=True))
    page = values[-1]
    lang = current_language()
    runtime = current_runtime()
    try:
        criteria = criteria_from(search, filters)
        found = find(runtime, criteria, next_page(_trigger(), page))
    except ValueError as exc:
        return None, "", 0, error(str(exc))
    except (redis.RedisError, SQLAlchemyError) as exc:
        log.warning("cases page: data unavailable: %s", exc)
        message = t("desk.unavailable", lang, reason=type(exc).__name__)
        return None, "", page or 0, error(message)
    return list_table(found, runtime, lang), summary_text(found, lang), found.page, None
