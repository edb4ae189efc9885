"""What the wall display shows, as plain data (the page's callbacks stay thin).

``build_snapshot`` reads everything one refresh needs through the same view
functions as the JSON API (``dashboard.api.views``), so a tile always equals
``GET /api/v1/overview`` with the same team filter. ``wall_view`` turns a
snapshot into display values in one language. The leaderboard and the
active alerts come from their API modules when those are installed, through
small adapters that answer None (shown as "—") when they are not.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from complaintops.runtime import Runtime
from config.rules import WallConfig
from dashboard.api import views
from dashboard.i18n import format_datetime, format_number, register_catalog, t
from events.contract import STAGES
from events.timeutil import local_date
from metrics import keys

log = logging.getLogger(__name__)

HEADLINE_FIELDS: Final = (
    "open_cases",
    "decision_breached",
    "decision_at_risk",
    "decisions_due_today",
    "follow_ups_overdue",
    "entered_today.intake",
)
"""The big tiles, left to right."""

WIP_FIELDS: Final = tuple(f"wip.{stage}" for stage in STAGES)
ENTERED_FIELDS: Final = tuple(f"entered_today.{stage}" for stage in STAGES)
EXITED_FIELDS: Final = tuple(f"exited_today.{stage}" for stage in STAGES)
FLOW_FIELDS: Final = WIP_FIELDS + ENTERED_FIELDS + EXITED_FIELDS
VALUE_FIELDS: Final = tuple(dict.fromkeys(HEADLINE_FIELDS + FLOW_FIELDS))
"""Every number the wall shows (each is the text of one ``data-metric`` element)."""
TILE_FIELDS: Final = HEADLINE_FIELDS + WIP_FIELDS
"""Numbers whose tile is coloured by the wall's thresholds."""

LEADERBOARD_PERIOD: Final = "week"
LEADERBOARD_SIZE: Final = 10
ALERTS_SHOWN: Final = 12
THROUGHPUT_HOURS: Final = 24

LEADERBOARD_MODULE: Final = "dashboard.api.routes_leaderboard"
ALERTS_MODULE: Final = "dashboard.api.routes_alerts"

register_catalog(
    {
        "zh": {
            "wall.title": "投诉处理运营大屏",
            "wall.all_teams": "全部团队",
            "wall.open_cases": "在办案件",
            "wall.decision_breached": "超期未决",
            "wall.decision_at_risk": "临期未决",
            "wall.decisions_due_today": "今日到期",
            "wall.follow_ups_overdue": "回访逾期",
            "wall.entered_today.intake": "今日新增",
            "wall.today_in_out": "今日",
            "wall.flow": "六阶段流程 · 在办",
            "wall.throughput": "近24小时 各阶段流入/流出",
            "wall.workload": "团队负荷（在办/容量）",
            "wall.workload_handlers": "处理人负荷（在办/容量）",
            "wall.leaderboard": "本周积分榜",
            "wall.points": "积分",
            "wall.new_entry": "新",
            "wall.alerts": "告警",
            "wall.no_alerts": "当前无活动告警",
            "wall.unavailable": "暂无数据",
            "wall.updated": "更新于 {seconds} 秒前",
            "wall.updated_minutes": "更新于 {minutes} 分钟前",
            "wall.updated_now": "实时",
            "wall.celebrate": "★ {names} 进入前三！",
            "wall.severity.critical": "严重",
            "wall.severity.warning": "警告",
            "alert.rule.follow_up_overdue": "回访逾期",
            "alert.rule.decision_at_risk": "决定临期",
            "alert.rule.decision_breached": "决定超期",
            "wall.home": "返回",
        },
        "en": {
            "wall.title": "Complaint operations wall",
            "wall.all_teams": "All teams",
            "wall.open_cases": "Open cases",
            "wall.decision_breached": "Decisions overdue",
            "wall.decision_at_risk": "Decisions at risk",
            "wall.decisions_due_today": "Decisions due today",
            "wall.follow_ups_overdue": "Return visits overdue",
            "wall.entered_today.intake": "New today",
            "wall.today_in_out": "today",
            "wall.flow": "Six-stage process · open cases",
            "wall.throughput": "Last 24 h: entries and exits per stage",
            "wall.workload": "Team workload (open / capacity)",
            "wall.workload_handlers": "Handler workload (open / capacity)",
            "wall.leaderboard": "Leaderboard this week",
            "wall.points": "Points",
            "wall.new_entry": "new",
            "wall.alerts": "Alerts",
            "wall.no_alerts": "No active alerts",
            "wall.unavailable": "No data",
            "wall.updated": "Updated {seconds} s ago",
            "wall.updated_minutes": "Updated {minutes} min ago",
            "wall.updated_now": "Live",
            "wall.celebrate": "★ {names} moved into the top 3!",
            "wall.severity.critical": "Critical",
            "wall.severity.warning": "Warning",
            "alert.rule.follow_up_overdue": "Return visit overdue",
            "alert.rule.decision_at_risk": "Decision at risk",
            "alert.rule.decision_breached": "Decision overdue",
            "wall.home": "Back",
        },
    }
)


# -- reading ------------------------------------------------------------------------------


FreshnessSource = Callable[[Runtime], float | None]


def heartbeat_freshness(runtime: Runtime) -> float | None:
    """When the metrics consumer last reported (``co:consumer:<group>`` ``ts``), or None."""
    key = keys.CONSUMER_HEARTBEAT.format(runtime.settings.metrics_group)
    raw = runtime.redis.hget(key, "ts")
    if raw is None:
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


_reported: set[str] = set()


def _report_once(message: str) -> None:
    """Warn the first time a panel is unavailable for a reason (every 2 s is noise)."""
    if message in _reported:
        log.debug("%s", message)
        return
    _reported.add(message)
    log.warning("%s", message)


def _optional_view(module_name: str, function: str) -> Callable[..., Any] | None:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    view = getattr(module, function, None)
    return view if callable(view) else None


def leaderboard_data(runtime: Runtime, at: date, team: str | None = None) -> dict[str, Any] | None:
    """This week's handler leaderboard (the API's answer), or None when unavailable."""
    view = _optional_view(LEADERBOARD_MODULE, "leaderboard_view")
    if view is None:
        return None
    try:
        result: dict[str, Any] = view(runtime, LEADERBOARD_PERIOD, "handler", at, team=team)
    except Exception as exc:  # the wall shows "—" rather than failing
        _report_once(f"wall leaderboard unavailable: {exc.__class__.__name__}: {exc}")
        return None
    return result


def alerts_data(runtime: Runtime, team: str | None = None) -> dict[str, Any] | None:
    """The active alerts (the API's answer), or None when unavailable."""
    view = _optional_view(ALERTS_MODULE, "alerts_view")
    if view is None:
        return None
    try:
        result: dict[str, Any] = view(runtime, state="active", team=team)
    except Exception as exc:  # the wall shows "—" rather than failing
        _report_once(f"wall alerts unavailable: {exc.__class__.__name__}: {exc}")
        return None
    return result


@dataclass(frozen=True, slots=True)
class WallSnapshot:
    """One refresh's worth of data, as the API would answer it."""

    as_of: float
    team: str | None
    overview: dict[str, Any]
    throughput: dict[str, Any]
    workload: dict[str, Any]
    leaderboard: dict[str, Any] | None
    alerts: dict[str, Any] | None
    freshness: float | None


def build_snapshot(
    runtime: Runtime,
    team: str | None = None,
    now: float | None = None,
    freshness: FreshnessSource = heartbeat_freshness,
) -> WallSnapshot:
    """Read everything the wall shows; Redis errors propagate (the caller keeps old values)."""
    now = time.time() if now is None else now
    return WallSnapshot(
        as_of=now,
        team=team,
        overview=views.overview(runtime, team=team, now=now),
        throughput=views.throughput(runtime, THROUGHPUT_HOURS, team=team, now=now),
        workload=views.workload(runtime, team=team),
        leaderboard=leaderboard_data(runtime, local_date(now, runtime.tz), team),
        alerts=alerts_data(runtime, team),
        freshness=freshness(runtime),
    )


# -- shaping --------------------------------------------------------------------------------


def metric_value(overview: Mapping[str, Any], field: str) -> int:
    """The number at a dotted field of the overview (``wip.intake``); 0 when absent."""
    value: Any = overview
    for part in field.split("."):
        if not isinstance(value, Mapping):
            return 0
        value = value.get(part, 0)
    return int(value) if isinstance(value, int | float) else 0


def metric_values(
    overview: Mapping[str, Any], fields: Sequence[str] = VALUE_FIELDS
) -> dict[str, int]:
    return {field: metric_value(overview, field) for field in fields}


def metric_levels(values: Mapping[str, int], wall: WallConfig) -> dict[str, str]:
    """ok / amber / red of every tile from the wall's thresholds."""
    return {field: wall.level(field, value) for field, value in values.items()}


def data_age(snapshot: WallSnapshot) -> float:
    """Seconds between the metrics' last movement and the read (0 when unknown)."""
    if snapshot.freshness is None:
        return 0.0
    return max(0.0, snapshot.as_of - snapshot.freshness)


def handler_name(runtime: Runtime, handler_id: str) -> str:
    handler = runtime.rules.teams.handler(handler_id)
    return handler.name if handler is not None and handler.name else handler_id


def team_name(runtime: Runtime, team_id: str | None, lang: str) -> str:
    if team_id is None:
        return t("wall.all_teams", lang)
    team = runtime.rules.teams.team(team_id)
    return team.name.in_language(lang) if team is not None else team_id


def _points(value: float) -> str:
    return format_number(value, decimals=0 if float(value).is_integer() else 1)


def leaderboard_rows(
    runtime: Runtime, data: Mapping[str, Any] | None, lang: str, limit: int = LEADERBOARD_SIZE
) -> list[dict[str, Any]] | None:
    """Top rows for display: rank, name, team, points, change; None when unavailable."""
    if data is None:
        return None
    rows = []
    for row in list(data.get("rows", []))[:limit]:
        change = row.get("rank_change")
        rows.append(
            {
                "rank": int(row.get("rank", 0)),
                "id": str(row.get("id", "")),
                "name": handler_name(runtime, str(row.get("id", ""))),
                "team": team_name(runtime, row.get("team_id"), lang),
                "points": _points(float(row.get("points", 0))),
                "change": None if change is None else int(change),
            }
        )
    return rows


def top_three(rows: Sequence[Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """``[{id, name}]`` of the rows ranked 1 to 3 (ties included)."""
    return [
        {"id": str(row["id"]), "name": str(row["name"])}
        for row in rows or []
        if 1 <= int(row["rank"]) <= 3
    ]


def alert_items(
    runtime: Runtime, data: Mapping[str, Any] | None, lang: str, limit: int = ALERTS_SHOWN
) -> list[dict[str, str]] | None:
    """Active alerts for the ticker, critical first then newest; None when unavailable."""
    if data is None:
        return None
    alerts = [a for a in data.get("alerts", []) if a.get("state") != "resolved"]
    alerts.sort(key=lambda a: str(a.get("since", "")), reverse=True)
    alerts.sort(key=lambda a: 0 if a.get("severity") == "critical" else 1)
    items = []
    for alert in alerts[:limit]:
        rule = str(alert.get("rule", ""))
        label = t(f"alert.rule.{rule}", lang)
        parts = [label if label != f"alert.rule.{rule}" else rule]
        if alert.get("case_id"):
            parts.append(str(alert["case_id"]))
        if alert.get("handler_id"):
            parts.append(handler_name(runtime, str(alert["handler_id"])))
        elif alert.get("team_id"):
            parts.append(team_name(runtime, str(alert["team_id"]), lang))
        items.append(
            {
                "id": str(alert.get("id", "")),
                "severity": "critical" if alert.get("severity") == "critical" else "warning",
                "severity_label": t(f"wall.severity.{alert.get('severity', 'warning')}", lang),
                "text": " · ".join(parts),
                "since": _since(runtime, alert.get("since"), lang),
            }
        )
    return items


def _since(runtime: Runtime, value: Any, lang: str) -> str:
    from events.timeutil import parse_rfc3339

    if not isinstance(value, str):
        return ""
    try:
        return format_datetime(parse_rfc3339(value), runtime.tz, lang)
    except ValueError:
        return value


def wall_view(runtime: Runtime, snapshot: WallSnapshot, lang: str) -> dict[str, Any]:
    """Everything one refresh puts on screen, JSON-ready."""
    values = metric_values(snapshot.overview)
    levels = metric_levels({f: values[f] for f in TILE_FIELDS}, runtime.rules.wall)
    rows = leaderboard_rows(runtime, snapshot.leaderboard, lang)
    return {
        "values": {field: str(value) for field, value in values.items()},
        "levels": levels,
        "leaderboard": rows,
        "alerts": alert_items(runtime, snapshot.alerts, lang),
        "meta": {
            "as_of": snapshot.as_of,
            "data_age": round(data_age(snapshot), 3),
            "top3": top_three(rows),
        },
    }


def output_values(
    output_ids: Sequence[Mapping[str, Any]], mapping: Mapping[str, Any], default: Any = "—"
) -> list[Any]:
    """Values for pattern-matching outputs ``{"type": ..., "field": f}``, in their order."""
    return [mapping.get(str(item["id"]["field"]), default) for item in output_ids]
