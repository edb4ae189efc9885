"""Alert emails: HTML and plain text, Chinese first then English (pure).

The subject says what and how many, e.g.
``[严重 CRITICAL] 3 个案件决定期限已超 / 3 decision deadlines breached — claims-east``.
Each alert links to its case on the dashboard, and carries a signed,
expiring acknowledge link; one more link acknowledges every alert of the email.
"""

from __future__ import annotations

import email.policy
import html
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Final
from urllib.parse import quote
from zoneinfo import ZoneInfo

from alerts import tokens
from alerts.routing import ESCALATION, REMINDER, RESOLVED_NOTICE, AlertView, Notice
from alerts.rules import (
    CONSUMER_LAG,
    DECISION_AT_RISK,
    DECISION_BREACHED,
    FOLLOW_UP_OVERDUE,
    HANDLER_OVERLOADED,
    MAJOR_COMPLAINT_OPENED,
    STAGE_SLA_BREACHED,
)
from config.rules import TeamsConfig
from events.contract import STAGE_NAMES_ZH


@dataclass(frozen=True, slots=True)
class RuleText:
    """How a rule is named: a counted phrase in Chinese and English, and a topic."""

    zh: str  # with {n}
    en_one: str
    en_many: str  # with {n}
    topic_zh: str
    topic_en: str

    def phrase(self, count: int) -> tuple[str, str]:
        english = self.en_one if count == 1 else self.en_many
        return self.zh.format(n=count), english.format(n=count)


RULE_TEXT: Final[Mapping[str, RuleText]] = {
    FOLLOW_UP_OVERDUE: RuleText(
        "{n} 个案件回访逾期",
        "1 return visit overdue",
        "{n} return visits overdue",
        "回访逾期",
        "return visit overdue",
    ),
    DECISION_AT_RISK: RuleText(
        "{n} 个案件决定期限临近",
        "1 decision deadline at risk",
        "{n} decision deadlines at risk",
        "决定期限临近",
        "decision deadline at risk",
    ),
    DECISION_BREACHED: RuleText(
        "{n} 个案件决定期限已超",
        "1 decision deadline breached",
        "{n} decision deadlines breached",
        "决定期限已超",
        "decision deadline breached",
    ),
    STAGE_SLA_BREACHED: RuleText(
        "{n} 个案件超出阶段时限",
        "1 case over its stage target",
        "{n} cases over their stage target",
        "超出阶段时限",
        "stage target exceeded",
    ),
    HANDLER_OVERLOADED: RuleText(
        "{n} 名处理人超负荷",
        "1 handler over capacity",
        "{n} handlers over capacity",
        "处理人超负荷",
        "handler over capacity",
    ),
    CONSUMER_LAG: RuleText(
        "指标数据滞后",
        "metrics are behind the case events",
        "metrics are behind the case events",
        "指标数据滞后",
        "metrics lagging",
    ),
    MAJOR_COMPLAINT_OPENED: RuleText(
        "{n} 件重大投诉",
        "1 major complaint opened",
        "{n} major complaints opened",
        "重大投诉",
        "major complaint",
    ),
}

MIME_POLICY: Final = email.policy.SMTP.clone(cte_type="7bit")
"""Messages are built, stored and sent 7-bit clean (base64 / quoted-printable bodies)."""

# How much of a consumer's last error a message quotes.
ERROR_SHOWN: Final = 200
SEVERITY_TAG: Final = {"critical": "严重 CRITICAL", "warning": "警告 WARNING"}
STAGE_NAMES_EN: Final = {
    "intake": "intake",
    "investigation": "investigation",
    "resolution": "resolution",
    "feedback": "feedback",
    "follow_up": "follow-up",
    "review": "review",
}


@dataclass(frozen=True, slots=True)
class MailContext:
    """What composing needs besides the notice."""

    dashboard_url: str
    sender: str
    tz: ZoneInfo
    teams: TeamsConfig
    secret_key: str | None
    ack_lifetime_seconds: float = tokens.DEFAULT_LIFETIME_SECONDS


def _rule_text(rule: str) -> RuleText:
    return RULE_TEXT.get(
        rule, RuleText("{n} 个告警", "1 alert", "{n} alerts", rule, rule.replace("_", " "))
    )


def subject_of(notice: Notice) -> str:
    """The subject line: severity tag, what and how many (zh / en), and the team."""
    team = f" — {notice.team_id}" if notice.team_id else ""
    severity = SEVERITY_TAG.get(notice.severity, notice.severity.upper())
    if notice.kind == RESOLVED_NOTICE:
        text = _rule_text(notice.rule)
        n = len(notice.resolved)
        return (
            f"[已恢复 RESOLVED] {n} 个告警已恢复：{text.topic_zh} / "
            f"{n} resolved: {text.topic_en}{team}"
        )
    if notice.kind == ESCALATION:
        n = len(notice.firing)
        minutes = _escalation_minutes(notice)
        alerts_en = "critical alert" if n == 1 else "critical alerts"
        return (
            f"[升级 ESCALATION · 第 {notice.escalation_level} 级] {n} 个严重告警超过 {minutes} 分钟未确认 / "
            f"{n} {alerts_en} unacknowledged for over {minutes} min{team}"
        )
    zh, en = _rule_text(notice.rule).phrase(len(notice.firing))
    tag = f"{severity} · 提醒 REMINDER" if notice.kind == REMINDER else severity
    return f"[{tag}] {zh} / {en}{team}"


def _escalation_minutes(notice: Notice) -> int:
    return notice.escalation_after_minutes


# -- figures -----------------------------------------------------------------------------


def _time(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d %H:%M")


def duration(seconds: float) -> tuple[str, str]:
    """A short duration in Chinese and English: ``2 天 3 小时`` / ``2d 3h``."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} 天 {hours} 小时", f"{days}d {hours}h"
    if hours:
        return f"{hours} 小时 {minutes} 分", f"{hours}h {minutes}m"
    return f"{minutes} 分钟", f"{minutes} min"


def describe(alert: AlertView, tz: ZoneInfo, now: float) -> tuple[str, str]:
    """The alert's figures in Chinese and English."""
    d: Mapping[str, Any] = alert.details
    rule = alert.rule
    if rule in (FOLLOW_UP_OVERDUE, DECISION_BREACHED) and "due" in d:
        due = float(d["due"])
        zh_over, en_over = duration(now - due)
        if rule == FOLLOW_UP_OVERDUE:
            return (
                f"回访到期 {_time(due, tz)}，已逾期 {zh_over}",
                f"return visit due {_time(due, tz)}, overdue by {en_over}",
            )
        return (
            f"决定期限 {_time(due, tz)}，已超 {zh_over}",
            f"decision deadline {_time(due, tz)}, passed {en_over} ago",
        )
    if rule == DECISION_AT_RISK and "due" in d:
        due = float(d["due"])
        zh_left, en_left = duration(due - now)
        return (
            f"决定期限 {_time(due, tz)}，剩余 {zh_left}",
            f"decision deadline {_time(due, tz)}, {en_left} left",
        )
    if rule == STAGE_SLA_BREACHED and "stage" in d:
        stage = str(d["stage"])
        zh_in, en_in = duration(now - float(d["entered_at"]))
        target = float(d["target_hours"])
        target_text = f"{target:g}"
        return (
            f"{STAGE_NAMES_ZH.get(stage, stage)}阶段已 {zh_in}（目标 {target_text} 小时）",
            f"in {STAGE_NAMES_EN.get(stage, stage)} for {en_in} (target {target_text} h)",
        )
    if rule == HANDLER_OVERLOADED:
        return (
            f"在办 {d.get('open_cases')} 件，容量 {d.get('capacity')} 件",
            f"{d.get('open_cases')} open cases, capacity {d.get('capacity')}",
        )
    if rule == CONSUMER_LAG:
        zh_age, en_age = duration(float(d.get("heartbeat_age", 0)))
        error = str(d.get("error") or "")[:ERROR_SHOWN]
        return (
            f"消费组 {alert.subject}：积压 {d.get('lag')} 条事件，最近心跳 {zh_age}前"
            + (f"，最近错误：{error}" if error else ""),
            f"group {alert.subject}: {d.get('lag')} events behind, last heartbeat {en_age} ago"
            + (f"; last error: {error}" if error else ""),
        )
    if rule == MAJOR_COMPLAINT_OPENED:
        size = d.get("group_size")
        opened = float(d.get("opened_at", alert.started_at))
        zh_size = f"，群体投诉 {size} 人" if size else ""
        en_size = f", group of {size}" if size else ""
        return (
            f"{_time(opened, tz)} 受理，优先级 {d.get('priority')}{zh_size}",
            f"opened {_time(opened, tz)}, priority {d.get('priority')}{en_size}",
        )
    return "", ""


# -- composition ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    alert: AlertView
    status_zh: str
    status_en: str
    details_zh: str
    details_en: str
    case_url: str | None
    ack_url: str | None


def case_url(dashboard_url: str, case_id: str) -> str:
    return f"{dashboard_url}/cases?case={quote(case_id, safe='')}"


def ack_url(context: MailContext, alert_ids: list[int], recipient: str, now: float) -> str | None:
    if not context.secret_key or not alert_ids:
        return None
    token = tokens.sign(
        context.secret_key, alert_ids, recipient, now + context.ack_lifetime_seconds
    )
    return f"{context.dashboard_url}/alerts/ack?token={token}"


def _rows(notice: Notice, context: MailContext, recipient: str, now: float) -> list[Row]:
    rows = []
    for alert in notice.firing:
        if alert.id in notice.new_ids:
            status = ("新增", "new")
        elif alert.is_acknowledged:
            status = ("已确认", "acknowledged")
        else:
            status = ("持续", "ongoing")
        zh, en = describe(alert, context.tz, now)
        rows.append(
            Row(
                alert,
                *status,
                zh,
                en,
                case_url(context.dashboard_url, alert.case_id) if alert.case_id else None,
                None if alert.is_acknowledged else ack_url(context, [alert.id], recipient, now),
            )
        )
    for alert in notice.resolved:
        zh, en = describe(alert, context.tz, now)
        rows.append(
            Row(
                alert,
                "已恢复",
                "resolved",
                zh,
                en,
                case_url(context.dashboard_url, alert.case_id) if alert.case_id else None,
                None,
            )
        )
    return rows


def _team_name(context: MailContext, team_id: str | None) -> tuple[str, str]:
    if team_id is None:
        return "全部团队", "all teams"
    team = context.teams.team(team_id)
    if team is None:
        return team_id, team_id
    return f"{team.name.zh}（{team_id}）", f"{team.name.en} ({team_id})"


def _handler_name(context: MailContext, handler_id: str | None) -> str:
    if not handler_id:
        return ""
    handler = context.teams.handler(handler_id)
    return f"{handler.name} ({handler_id})" if handler and handler.name else handler_id


def _intro(notice: Notice, context: MailContext) -> tuple[list[str], list[str]]:
    team_zh, team_en = _team_name(context, notice.team_id)
    firing, resolved = len(notice.firing), len(notice.resolved)
    new = len(notice.new_ids)
    text = _rule_text(notice.rule)
    if notice.kind == ESCALATION:
        minutes = _escalation_minutes(notice)
        zh = [
            f"{team_zh}：以下 {firing} 个严重告警超过 {minutes} 分钟仍未确认，现升级通知（第 {notice.escalation_level} 级）。",
            "请尽快安排处理，并在确认后点击“确认”链接。",
        ]
        en = [
            f"{team_en}: these {firing} critical alerts have been unacknowledged for over "
            f"{minutes} minutes and are escalated (level {notice.escalation_level}).",
            "Please see that they are handled, and acknowledge them with the links.",
        ]
        return zh, en
    if notice.kind == RESOLVED_NOTICE:
        return (
            [f"{team_zh}：{resolved} 个“{text.topic_zh}”告警已恢复，无需处理。"],
            [f"{team_en}: {resolved} '{text.topic_en}' alerts resolved; nothing to do."],
        )
    zh_phrase, en_phrase = text.phrase(firing)
    zh = [f"{team_zh}：{zh_phrase}。"]
    en = [f"{team_en}: {en_phrase}."]
    if notice.kind == REMINDER:
        zh.append("这些告警仍未确认，再次提醒。确认后将不再提醒。")
        en.append("These alerts are still unacknowledged. Acknowledged alerts are not repeated.")
    else:
        parts_zh = [f"新增 {new} 个"] if new else []
        parts_en = [f"{new} new"] if new else []
        if resolved:
            parts_zh.append(f"已恢复 {resolved} 个")
            parts_en.append(f"{resolved} resolved")
        if parts_zh:
            zh.append("，".join(parts_zh) + "。")
            en.append(", ".join(parts_en) + ".")
    return zh, en


def compose(
    notice: Notice,
    context: MailContext,
    recipient: str,
    message_id: str,
    now: float,
) -> EmailMessage:
    """The email of ``notice`` for one recipient, with a fixed Message-ID."""
    rows = _rows(notice, context, recipient, now)
    unacknowledged = [a.id for a in notice.firing if not a.is_acknowledged]
    ack_all = ack_url(context, unacknowledged, recipient, now) if len(unacknowledged) > 1 else None
    intro_zh, intro_en = _intro(notice, context)
    message = EmailMessage(policy=MIME_POLICY)
    message["Subject"] = subject_of(notice)
    message["From"] = context.sender
    message["To"] = recipient
    message["Date"] = format_datetime(datetime.fromtimestamp(now, context.tz))
    message["Message-ID"] = message_id
    message["X-ComplaintOps-Kind"] = notice.kind
    message["X-ComplaintOps-Alerts"] = " ".join(str(i) for i in notice.alert_ids)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_plain(notice, context, rows, intro_zh, intro_en, ack_all, now))
    message.add_alternative(
        _html(notice, context, rows, intro_zh, intro_en, ack_all, now), subtype="html"
    )
    return message


def _plain(
    notice: Notice,
    context: MailContext,
    rows: list[Row],
    intro_zh: list[str],
    intro_en: list[str],
    ack_all: str | None,
    now: float,
) -> str:
    lines = [*intro_zh, "", *intro_en, ""]
    for row in rows:
        a = row.alert
        head = f"[{row.status_zh} {row.status_en}]"
        if a.case_id:
            head += f" 案件 Case {a.case_id}"
        if a.handler_id:
            head += f" · 处理人 Handler {_handler_name(context, a.handler_id)}"
        if notice.kind == ESCALATION or not a.case_id:
            head += f" · {_rule_text(a.rule).topic_zh} {_rule_text(a.rule).topic_en}"
        lines.append(head)
        if row.details_zh:
            lines.append(f"  {row.details_zh}")
            lines.append(f"  {row.details_en}")
        lines.append(f"  告警开始 since {_time(a.started_at, context.tz)}")
        if row.case_url:
            lines.append(f"  查看案件 Open case: {row.case_url}")
        if row.ack_url:
            lines.append(f"  确认 Acknowledge: {row.ack_url}")
        lines.append("")
    if ack_all:
        lines += [f"全部确认 Acknowledge all: {ack_all}", ""]
    lines += _footer(context, now)
    return "\n".join(lines) + "\n"


def _footer(context: MailContext, now: float) -> list[str]:
    zone = datetime.fromtimestamp(now, context.tz).strftime("UTC%z")
    return [
        "——",
        f"投诉运营告警，时间为 {context.tz.key}（{zone}）。告警看板：{context.dashboard_url}/alerts",
        f"ComplaintOps alert; times in {context.tz.key} ({zone}). Alerts: {context.dashboard_url}/alerts",
    ]


def _html(
    notice: Notice,
    context: MailContext,
    rows: list[Row],
    intro_zh: list[str],
    intro_en: list[str],
    ack_all: str | None,
    now: float,
) -> str:
    e = html.escape
    colour = "#b3261e" if notice.severity == "critical" else "#9a6700"
    if notice.kind == RESOLVED_NOTICE:
        colour = "#1a7f37"
    cell = 'style="padding:6px 10px;border-bottom:1px solid #ddd;vertical-align:top"'
    body_rows = []
    for row in rows:
        a = row.alert
        case = (
            f'<a href="{e(row.case_url)}">{e(a.case_id)}</a>' if row.case_url and a.case_id else ""
        )
        what = e(_rule_text(a.rule).topic_zh) + "<br>" + e(_rule_text(a.rule).topic_en)
        details = e(row.details_zh) + ("<br>" + e(row.details_en) if row.details_en else "")
        action = f'<a href="{e(row.ack_url)}">确认 Acknowledge</a>' if row.ack_url else ""
        body_rows.append(
            "<tr>"
            f"<td {cell}>{e(row.status_zh)}<br>{e(row.status_en)}</td>"
            f"<td {cell}>{case or what}</td>"
            f"<td {cell}>{e(_handler_name(context, a.handler_id))}</td>"
            f"<td {cell}>{details}</td>"
            f"<td {cell}>{e(_time(a.started_at, context.tz))}</td>"
            f"<td {cell}>{action}</td>"
            "</tr>"
        )
    headers = ("状态 Status", "案件 Case", "处理人 Handler", "详情 Details", "开始 Since", "")
    head_html = "".join(
        f'<th style="text-align:left;padding:6px 10px;border-bottom:2px solid #999">{h}</th>'
        for h in headers
    )
    ack_all_html = f'<p><a href="{e(ack_all)}">全部确认 Acknowledge all</a></p>' if ack_all else ""
    footer = "<br>".join(e(line) for line in _footer(context, now)[1:])
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{e(subject_of(notice))}</title></head>"
        "<body style=\"font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif\">"
        f'<h2 style="color:{colour};margin:0 0 8px">{e(subject_of(notice))}</h2>'
        + "".join(f'<p lang="zh-CN">{e(line)}</p>' for line in intro_zh)
        + "".join(f'<p lang="en">{e(line)}</p>' for line in intro_en)
        + f'<table style="border-collapse:collapse"><thead><tr>{head_html}</tr></thead>'
        f"<tbody>{''.join(body_rows)}</tbody></table>"
        f"{ack_all_html}"
        f'<p style="color:#666;font-size:12px">{footer}</p>'
        "</body></html>"
    )
