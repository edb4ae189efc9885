"""Labels shared by the desk pages (flow, workload, cases, analytics).

The contract's enumerations (channel, category, product line, priority,
complainant profile, outcome, resolution), the decision clock's states and
event types, registered in both languages; ``translator(lang)``: the ``tr``
function the figure builders take, which also names the six stages; team
and handler names from teams.yaml.
"""

from __future__ import annotations

from collections.abc import Mapping

from config import Rules
from dashboard.figures.desk_style import Translate
from dashboard.i18n import register_catalog, stage_name, t

ENUM_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "channel": {
        "phone": ("电话", "Phone"),
        "online": ("网络", "Online"),
        "email": ("电子邮件", "Email"),
        "letter": ("信函", "Letter"),
        "visit": ("来访", "Walk-in"),
        "app": ("App", "App"),
        "regulator_referral": ("监管转办", "Regulator referral"),
    },
    "category": {
        "claims": ("理赔", "Claims"),
        "sales": ("销售", "Sales"),
        "surrender": ("退保", "Surrender"),
        "premium": ("保费", "Premium"),
        "policy_service": ("保全服务", "Policy service"),
        "other": ("其他", "Other"),
    },
    "product_line": {
        "auto": ("车险", "Auto"),
        "property": ("财产险", "Property"),
        "life": ("寿险", "Life"),
        "health": ("健康险", "Health"),
        "accident": ("意外险", "Accident"),
        "other": ("其他", "Other"),
    },
    "priority": {
        "normal": ("普通", "Normal"),
        "urgent": ("紧急", "Urgent"),
        "major": ("重大", "Major"),
    },
    "gender": {"f": ("女", "Female"), "m": ("男", "Male"), "u": ("未说明", "Not stated")},
    "age_band": {
        "<30": ("30岁以下", "Under 30"),
        "30-44": ("30–44岁", "30–44"),
        "45-59": ("45–59岁", "45–59"),
        "60+": ("60岁及以上", "60 and over"),
    },
    "repeat": {"true": ("重复投诉", "Complained before"), "false": ("首次投诉", "First complaint")},
    "outcome": {
        "upheld": ("支持", "Upheld"),
        "partially_upheld": ("部分支持", "Partially upheld"),
        "rejected": ("不支持", "Rejected"),
    },
    "resolution": {
        "resolved": ("已解决", "Resolved"),
        "withdrawn": ("已撤诉", "Withdrawn"),
        "merged": ("已合并", "Merged"),
        "unresolved": ("未解决", "Unresolved"),
    },
    "status": {"open": ("处理中", "Open"), "closed": ("已结案", "Closed")},
    "clock": {
        "running": ("计时中", "Running"),
        "paused": ("已暂停", "Paused"),
        "decided": ("已决定", "Decided"),
        "at_risk": ("即将超时", "At risk"),
        "breached": ("已超时", "Breached"),
        "closed": ("已结案", "Closed"),
    },
    "pause_reason": {
        "external_appraisal": ("外部鉴定", "External appraisal"),
        "mediation": ("调解", "Mediation"),
    },
    "event": {
        "case.opened": ("受理立案", "Opened"),
        "case.assigned": ("分派", "Assigned"),
        "case.stage_changed": ("转入环节", "Stage changed"),
        "case.clock_paused": ("时限暂停", "Clock paused"),
        "case.clock_resumed": ("时限恢复", "Clock resumed"),
        "case.deadline_extended": ("延长时限", "Deadline extended"),
        "case.decision_made": ("作出处理决定", "Decision made"),
        "case.follow_up_scheduled": ("安排回访", "Return visit scheduled"),
        "case.follow_up_done": ("完成回访", "Return visit done"),
        "case.escalated": ("投诉升级", "Escalated"),
        "case.closed": ("结案", "Closed"),
        "case.reopened": ("重新打开", "Reopened"),
    },
}

register_catalog(
    {
        "zh": {
            f"{group}.{value}": zh
            for group, values in ENUM_LABELS.items()
            for value, (zh, _) in values.items()
        },
        "en": {
            f"{group}.{value}": en
            for group, values in ENUM_LABELS.items()
            for value, (_, en) in values.items()
        },
    }
)
register_catalog(
    {
        "zh": {
            "desk.all_teams": "全部团队",
            "desk.team": "团队",
            "desk.any": "全部",
            "desk.export_csv": "导出 CSV",
            "desk.table": "表格",
            "desk.no_data": "暂无数据",
            "desk.unavailable": "数据暂时不可用：{reason}",
            "desk.updated": "更新于 {time}",
            "desk.unit_h": "小时",
            "desk.unit_cases": "件",
        },
        "en": {
            "desk.all_teams": "All teams",
            "desk.team": "Team",
            "desk.any": "Any",
            "desk.export_csv": "Export CSV",
            "desk.table": "Table",
            "desk.no_data": "No data",
            "desk.unavailable": "Data unavailable for now: {reason}",
            "desk.updated": "Updated {time}",
            "desk.unit_h": "h",
            "desk.unit_cases": "cases",
        },
    }
)


def translator(lang: str) -> Translate:
    """``tr(key)`` for figure builders: ``stage.<id>`` names a stage, anything
    else comes from the catalogs."""

    def tr(key: str) -> str:
        if key.startswith("stage."):
            return stage_name(key.removeprefix("stage."), lang)
        return t(key, lang)

    return tr


def enum_options(group: str, lang: str) -> list[dict[str, str]]:
    """Dropdown options of one enumeration, in the contract's order."""
    return [{"label": t(f"{group}.{value}", lang), "value": value} for value in ENUM_LABELS[group]]


def team_names(rules: Rules, lang: str) -> dict[str, str]:
    """Team id -> its name in ``lang`` (teams.yaml)."""
    return {team.id: team.name.in_language(lang) for team in rules.teams.teams}


def handler_names(rules: Rules) -> dict[str, str]:
    """Handler id -> "name (id)" when teams.yaml names the handler, else the id."""
    return {
        handler.id: f"{handler.name} ({handler.id})" if handler.name else handler.id
        for team in rules.teams.teams
        for handler in team.handlers
    }


def team_options(
    rules: Rules, lang: str, extra: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Dropdown options of the configured teams (plus ``extra`` id -> label), by name."""
    names = {**(extra or {}), **team_names(rules, lang)}
    return [
        {"label": label, "value": team_id}
        for team_id, label in sorted(names.items(), key=lambda kv: kv[0])
    ]
