"""Alert emails (pure): subject, Chinese first then English, case and acknowledge links."""

from __future__ import annotations

from dataclasses import replace
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from alerts.email import MailContext, compose, describe, duration, subject_of
from alerts.routing import (
    ACKNOWLEDGED,
    ACTIVE,
    ESCALATION,
    FIRING,
    REMINDER,
    RESOLVED,
    RESOLVED_NOTICE,
    AlertView,
    Notice,
)
from alerts.tokens import verify
from config import load_rules, load_settings
from events.timeutil import parse_rfc3339

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = parse_rfc3339("2026-12-01T10:00:00+08:00")


def context(secret: str | None = "k") -> MailContext:
    return MailContext(
        dashboard_url="https://ops.example.com",
        sender="alerts@example.com",
        tz=SHANGHAI,
        teams=load_rules(load_settings()).teams,
        secret_key=secret,
    )


def breached(alert_id: int, case: str, state: str = ACTIVE) -> AlertView:
    return AlertView(
        id=alert_id,
        fingerprint=f"f{alert_id}",
        rule="decision_breached",
        severity="critical",
        state=state,
        case_id=case,
        team_id="claims-east",
        handler_id="h-001",
        subject=None,
        details={"due": parse_rfc3339("2026-11-30T00:00:00+08:00")},
        started_at=parse_rfc3339("2026-11-30T00:00:30+08:00"),
    )


def notice(
    kind: str = FIRING, alerts: tuple[AlertView, ...] | None = None, **values: object
) -> Notice:
    firing = alerts if alerts is not None else tuple(breached(i, f"C-{i}") for i in (1, 2, 3))
    return Notice(
        kind=kind,
        rule="decision_breached",
        team_id="claims-east",
        severity="critical",
        firing=firing,
        new_ids=frozenset(a.id for a in firing),
        **values,  # type: ignore[arg-type]
    )


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content())


def test_the_subject_says_what_and_how_many() -> None:
    assert subject_of(notice()) == (
        "[严重 CRITICAL] 3 个案件决定期限已超 / 3 decision deadlines breached — claims-east"
    )
    one = notice(alerts=(breached(1, "C-1"),))
    assert subject_of(one) == (
        "[严重 CRITICAL] 1 个案件决定期限已超 / 1 decision deadline breached — claims-east"
    )
    assert subject_of(notice(REMINDER)).startswith("[严重 CRITICAL · 提醒 REMINDER] 3 个")
    resolved = Notice(
        kind=RESOLVED_NOTICE,
        rule="decision_breached",
        team_id="claims-east",
        severity="critical",
        resolved=(breached(1, "C-1", RESOLVED),),
    )
    assert subject_of(resolved) == (
        "[已恢复 RESOLVED] 1 个告警已恢复：决定期限已超 / 1 resolved: decision deadline breached"
        " — claims-east"
    )
    escalation = notice(ESCALATION, escalation_level=1, escalation_after_minutes=30)
    assert subject_of(escalation) == (
        "[升级 ESCALATION · 第 1 级] 3 个严重告警超过 30 分钟未确认 / "
        "3 critical alerts unacknowledged for over 30 min — claims-east"
    )


def test_plain_and_html_bodies_list_every_case_chinese_first() -> None:
    message = compose(notice(), context(), "oncall@example.com", "<m1@example.com>", NOW)
    assert message["Message-ID"] == "<m1@example.com>"
    assert message["To"] == "oncall@example.com"
    assert message["From"] == "alerts@example.com"
    plain = body(message, "plain")
    html = body(message, "html")
    for case in ("C-1", "C-2", "C-3"):
        assert f"https://ops.example.com/cases?case={case}" in plain
        assert f'href="https://ops.example.com/cases?case={case}"' in html
        assert plain.count(f"Case {case}") == 1
    assert plain.index("理赔投诉一组") < plain.index("Claims complaints team 1")
    assert plain.index("决定期限 2026-11-30 00:00") < plain.index("decision deadline 2026-11-30")
    assert "张伟 (h-001)" in plain
    assert html.index('lang="zh-CN"') < html.index('<p lang="en">')


def test_acknowledge_links_are_signed_for_the_recipient() -> None:
    message = compose(notice(), context("k"), "oncall@example.com", "<m@example.com>", NOW)
    plain = body(message, "plain")
    links = [line.split(": ", 1)[1] for line in plain.splitlines() if "Acknowledge" in line]
    assert len(links) == 4  # one per alert and one for all
    tokens = [link.split("token=", 1)[1] for link in links]
    assert all(link.startswith("https://ops.example.com/alerts/ack?token=") for link in links)
    grants = [verify("k", token, NOW) for token in tokens]
    assert [g.alert_ids for g in grants] == [(1,), (2,), (3,), (1, 2, 3)]
    assert {g.recipient for g in grants} == {"oncall@example.com"}


def test_acknowledged_alerts_get_no_link_and_without_a_key_there_are_none() -> None:
    alerts = (breached(1, "C-1", ACKNOWLEDGED), breached(2, "C-2"))
    reminder = replace(notice(REMINDER, alerts=alerts), new_ids=frozenset())
    plain = body(compose(reminder, context(), "a@example.com", "<m@x>", NOW), "plain")
    assert plain.count("确认 Acknowledge:") == 1 and "已确认 acknowledged" in plain
    unsigned = body(compose(notice(), context(None), "a@example.com", "<m@x>", NOW), "plain")
    assert "ack?token" not in unsigned


def test_the_message_is_seven_bit_clean_for_any_smtp_server() -> None:
    message = compose(notice(), context(), "a@example.com", "<m@x>", NOW)
    raw = message.as_bytes()
    assert all(byte < 128 for byte in raw)


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (59, "0 分钟", "0 min"),
        (3660, "1 小时 1 分", "1h 1m"),
        (2 * 86400 + 7200, "2 天 2 小时", "2d 2h"),
    ],
)
def test_durations(seconds: float, zh: str, en: str) -> None:
    assert duration(seconds) == (zh, en)


def test_each_rule_describes_its_figures() -> None:
    def view(rule: str, **details: object) -> AlertView:
        return AlertView(
            1,
            "f",
            rule,
            "warning",
            ACTIVE,
            "C-1",
            "claims-east",
            "h-001",
            str(details.pop("subject")) if "subject" in details else None,
            details,
            NOW,
        )

    assert describe(
        view(
            "stage_sla_breached",
            stage="investigation",
            entered_at=NOW - 6 * 86400,
            target_hours=120,
        ),
        SHANGHAI,
        NOW,
    ) == (
        "调查阶段已 6 天 0 小时（目标 120 小时）",
        "in investigation for 6d 0h (target 120 h)",
    )
    assert describe(view("handler_overloaded", open_cases=31, capacity=25), SHANGHAI, NOW) == (
        "在办 31 件，容量 25 件",
        "31 open cases, capacity 25",
    )
    assert describe(view("decision_at_risk", due=NOW + 86400), SHANGHAI, NOW)[1] == (
        "decision deadline 2026-12-02 10:00, 1d 0h left"
    )
    lag = describe(
        view("consumer_lag", subject="complaintops-metrics", lag=6000, heartbeat_age=30),
        SHANGHAI,
        NOW,
    )
    assert lag[1] == "group complaintops-metrics: 6000 events behind, last heartbeat 0 min ago"
    failing = describe(
        view("consumer_lag", subject="g", lag=0, heartbeat_age=3, error="read model " + "x" * 300),
        SHANGHAI,
        NOW,
    )
    assert failing[0].endswith("，最近错误：read model " + "x" * 189)
    assert failing[1] == (
        "group g: 0 events behind, last heartbeat 0 min ago; last error: read model " + "x" * 189
    )
    major = describe(
        view("major_complaint_opened", opened_at=NOW, priority="normal", group_size=25),
        SHANGHAI,
        NOW,
    )
    assert major == (
        "2026-12-01 10:00 受理，优先级 normal，群体投诉 25 人",
        "opened 2026-12-01 10:00, priority normal, group of 25",
    )
