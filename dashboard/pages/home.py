"""The home page (``/``): today's key figures and the pages the user may open."""

from __future__ import annotations

import logging
from typing import Any

import dash
from dash import html

from dashboard.api import views
from dashboard.auth import current_identity
from dashboard.auth.context import auth_context
from dashboard.components.page import page_header, panel
from dashboard.components.runtime import current_runtime
from dashboard.components.shell import nav_entries
from dashboard.components.tile import tile
from dashboard.i18n import current_language, format_date, register_catalog, t
from dashboard.wall_data import metric_levels, metric_values, team_name

log = logging.getLogger(__name__)

dash.register_page(
    __name__,
    path="/",
    title="ComplaintOps 投诉运营",
    name="首页",
    nav_label={"zh": "首页", "en": "Home"},
    order=0,
    min_role="leader",
)

register_catalog(
    {
        "zh": {
            "home.greeting": "您好，{name}",
            "home.today": "今日概况 · {team}",
            "home.pages": "页面",
        },
        "en": {
            "home.greeting": "Hello, {name}",
            "home.today": "Today · {team}",
            "home.pages": "Pages",
        },
    }
)

HOME_FIELDS = (
    "open_cases",
    "decision_breached",
    "decision_at_risk",
    "decisions_due_today",
    "follow_ups_overdue",
    "entered_today.intake",
)


def layout(**_query: Any) -> html.Div:
    runtime = current_runtime()
    lang = current_language()
    who = current_identity()
    team = who.team_id if who is not None and who.role == "leader" else None
    try:
        overview = views.overview(runtime, team=team)
        values = metric_values(overview, HOME_FIELDS)
        levels = metric_levels(values, runtime.rules.wall)
        tiles: Any = html.Div(
            [
                tile(t(f"wall.{field}", lang), values[field], metric=field, level=levels[field])
                for field in HOME_FIELDS
            ],
            className="co-tiles",
        )
    except Exception as exc:  # the page still offers its links
        log.warning("home: overview unavailable: %s", exc)
        tiles = html.P(t("wall.unavailable", lang), className="co-page__subtitle")
    links = [
        html.A([label, html.Small(path)], href=path, className="co-home__link")
        for path, label in nav_entries(
            dash.page_registry.values(), who, lang, auth_context().page_roles
        )
        if path != "/"
    ]
    name = who.username if who is not None else ""
    today = format_date(runtime.query.clock(), runtime.tz, lang, weekday=True)
    return html.Div(
        [
            page_header(t("home.greeting", lang, name=name), today),
            panel(t("home.today", lang, team=team_name(runtime, team, lang)), tiles),
            html.Div(links, className="co-home__links", id="home-links"),
        ],
        className="co-page",
    )
