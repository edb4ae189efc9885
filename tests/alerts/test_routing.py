"""Routing (pure): group wait and interval, reminders with back-off, acknowledgement,
resolved notices, silences, inhibition, quiet hours, escalation, receivers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from zoneinfo import ZoneInfo

import pytest

from alerts.routing import (
    ACKNOWLEDGED,
    ACTIVE,
    ESCALATION,
    FIRING,
    REMINDER,
    RESOLVED,
    RESOLVED_NOTICE,
    AlertView,
    Directory,
    GroupState,
    Policy,
    SilenceView,
    group_key,
    inhibited_ids,
    is_silenced,
    plan_escalations,
    plan_group,
)
from alerts.rules import AlertsConfig, InhibitRule, OncallConfig
from config import load_rules, load_settings

T0 = 1_800_000_000.0
MINUTE = 60.0
SHANGHAI = ZoneInfo("Asia/Shanghai")


def policy(**routing: object) -> Policy:
    values: dict[str, object] = {
        "fallback_receivers": ["ops@example.com"],
        "group_wait_seconds": 30,
        "group_interval_seconds": 300,
        "repeat_interval_minutes": 60,
        "repeat_backoff": 2,
        "repeat_interval_max_minutes": 240,
        "escalation": [
            {"after_minutes": 30, "to": ["manager"]},
            {"after_minutes": 120, "to": ["director@example.com"]},
        ],
    }
    values.update(routing)
    return Policy.from_config(AlertsConfig.model_validate({"routing": values}))


def alert(
    alert_id: int,
    *,
    rule: str = "follow_up_overdue",
    severity: str = "warning",
    state: str = ACTIVE,
    case: str | None = None,
    team: str | None = "claims-east",
    started: float = T0,
    notified: float | None = None,
    resolved: float | None = None,
    resolved_notified: float | None = None,
    level: int = 0,
) -> AlertView:
    return AlertView(
        id=alert_id,
        fingerprint=f"fp{alert_id}",
        rule=rule,
        severity=severity,
        state=state,
        case_id=case or f"C-{alert_id}",
        team_id=team,
        handler_id="h-001",
        subject=None,
        details={},
        started_at=started,
        resolved_at=resolved,
        notified_at=notified,
        resolved_notified_at=resolved_notified,
        escalation_level=level,
    )


def state(**values: object) -> GroupState:
    base = GroupState(
        group_key("follow_up_overdue", "claims-east"), "follow_up_overdue", "claims-east"
    )
    return replace(base, **values)  # type: ignore[arg-type]


def test_a_new_group_waits_group_wait_then_sends_one_email_for_the_burst() -> None:
    rules = policy()
    first = plan_group(state(), [alert(1)], set(), rules, T0, quiet=False)
    assert first.notice is None and first.state.pending_since == T0
    burst = [alert(1), alert(2, started=T0 + 10)]
    waiting = plan_group(first.state, burst, set(), rules, T0 + 29, quiet=False)
    assert waiting.notice is None and waiting.state == first.state
    sent = plan_group(first.state, burst, set(), rules, T0 + 30, quiet=False)
    assert sent.notice is not None
    assert sent.notice.kind == FIRING
    assert [a.id for a in sent.notice.firing] == [1, 2]
    assert sent.notice.new_ids == {1, 2}
    assert sent.notice.receivers == ("oncall",)
    assert sent.mark_notified == [1, 2]
    assert sent.state.last_notified_at == T0 + 30
    assert sent.state.pending_since is None
    assert sent.state.next_reminder_at == T0 + 30 + 60 * MINUTE
    assert sent.state.version == first.state.version + 1


def test_a_rule_can_send_at_once() -> None:
    rules = policy()
    rules = Policy(rules.routing, {**rules.group_waits, "major_complaint_opened": 0.0})
    group = replace(state(), rule="major_complaint_opened")
    plan = plan_group(group, [alert(1, rule="major_complaint_opened")], set(), rules, T0, False)
    assert plan.notice is not None


def test_later_changes_wait_for_the_group_interval() -> None:
    rules = policy()
    sent_at = T0 + 30
    group = state(last_notified_at=sent_at, next_reminder_at=sent_at + 3600)
    alerts = [alert(1, notified=sent_at), alert(2, started=sent_at + 10)]
    early = plan_group(group, alerts, set(), rules, sent_at + 60, quiet=False)
    assert early.notice is None and early.state.pending_since == sent_at + 60
    due = plan_group(early.state, alerts, set(), rules, sent_at + 300, quiet=False)
    assert due.notice is not None
    assert [a.id for a in due.notice.firing] == [1, 2]  # the whole group, the new one marked
    assert due.notice.new_ids == {2}
    assert due.mark_notified == [2]


def test_reminders_back_off_and_stop_at_the_cap() -> None:
    rules = policy()
    sent_at = T0
    group = state(last_notified_at=sent_at, next_reminder_at=sent_at + 3600)
    alerts = [alert(1, notified=sent_at)]
    times = []
    now = sent_at
    for _ in range(5):
        quiet_period = plan_group(group, alerts, set(), rules, group.next_reminder_at - 1, False)  # type: ignore[operator]
        assert quiet_period.notice is None
        now = group.next_reminder_at  # type: ignore[assignment]
        plan = plan_group(group, alerts, set(), rules, now, quiet=False)
        assert plan.notice is not None and plan.notice.kind == REMINDER
        times.append(now - sent_at)
        group = plan.state
    gaps = [b - a for a, b in zip([0.0, *times], times, strict=False)]
    assert [g / MINUTE for g in gaps] == [60, 120, 240, 240, 240]


def test_acknowledged_alerts_are_not_repeated() -> None:
    rules = policy()
    group = state(last_notified_at=T0, next_reminder_at=T0 + 3600)
    acked = alert(1, state=ACKNOWLEDGED, notified=T0)
    plan = plan_group(group, [acked], set(), rules, T0 + 10 * 3600, quiet=False)
    assert plan.notice is None
    mixed = plan_group(group, [acked, alert(2, notified=T0)], set(), rules, T0 + 3600, False)
    assert mixed.notice is not None and [a.id for a in mixed.notice.firing] == [2]


def test_a_resolved_alert_is_announced_once() -> None:
    rules = policy()
    group = state(last_notified_at=T0, next_reminder_at=T0 + 3600)
    gone = alert(1, state=RESOLVED, notified=T0, resolved=T0 + 600)
    first = plan_group(group, [gone], set(), rules, T0 + 600, quiet=False)
    assert first.notice is None  # waits group_wait
    plan = plan_group(first.state, [gone], set(), rules, T0 + 630, quiet=False)
    assert plan.notice is not None and plan.notice.kind == RESOLVED_NOTICE
    assert [a.id for a in plan.notice.resolved] == [1] and plan.notice.firing == ()
    assert plan.mark_resolved_notified == [1]
    assert plan.state.next_reminder_at is None


def test_resolved_and_firing_share_one_email() -> None:
    rules = policy()
    group = state(last_notified_at=T0, pending_since=T0 + 600)
    alerts = [
        alert(1, state=RESOLVED, notified=T0, resolved=T0 + 600),
        alert(2, notified=T0),
        alert(3, started=T0 + 600),
    ]
    plan = plan_group(group, alerts, set(), rules, T0 + 630, quiet=False)
    assert plan.notice is not None and plan.notice.kind == FIRING
    assert [a.id for a in plan.notice.firing] == [2, 3]
    assert [a.id for a in plan.notice.resolved] == [1]


def test_without_send_resolved_resolutions_are_marked_silently() -> None:
    rules = policy(send_resolved=False)
    gone = alert(1, state=RESOLVED, notified=T0, resolved=T0 + 600)
    plan = plan_group(state(last_notified_at=T0), [gone], set(), rules, T0 + 3600, quiet=False)
    assert plan.notice is None and plan.mark_resolved_notified == [1]


def test_a_muted_alert_is_not_sent_until_the_silence_ends() -> None:
    rules = policy()
    muted = plan_group(state(), [alert(1)], {1}, rules, T0 + 3600, quiet=False)
    assert muted.notice is None and muted.state == state()
    pending = plan_group(state(), [alert(1)], set(), rules, T0 + 7200, quiet=False)
    after = plan_group(pending.state, [alert(1)], set(), rules, T0 + 7230, quiet=False)
    assert after.notice is not None and after.notice.new_ids == {1}


def test_a_silence_over_announced_alerts_holds_reminders_until_it_ends() -> None:
    rules = policy()
    group = state(last_notified_at=T0, next_reminder_at=T0 + 3600)
    held = plan_group(group, [alert(1, notified=T0)], {1}, rules, T0 + 4000, quiet=False)
    assert held.notice is None and held.state == group
    resumed = plan_group(held.state, [alert(1, notified=T0)], set(), rules, T0 + 9000, False)
    assert resumed.notice is not None and resumed.notice.kind == REMINDER
    assert resumed.state.next_reminder_at == T0 + 9000 + 120 * MINUTE


def test_a_group_that_lost_its_schedule_plans_the_next_reminder() -> None:
    group = state(last_notified_at=T0, next_reminder_at=None, reminders_sent=1)
    plan = plan_group(group, [alert(1, notified=T0)], set(), policy(), T0 + 10, quiet=False)
    assert plan.notice is None and plan.state.next_reminder_at == T0 + 10 + 120 * MINUTE


def test_quiet_hours_hold_email_until_they_end() -> None:
    rules = policy()
    pending = state(pending_since=T0)
    held = plan_group(pending, [alert(1)], set(), rules, T0 + 3600, quiet=True)
    assert held.notice is None
    sent = plan_group(held.state, [alert(1)], set(), rules, T0 + 7200, quiet=False)
    assert sent.notice is not None


def test_policy_knows_quiet_hours_apply_to_warnings_only() -> None:
    rules = policy(quiet_hours={"enabled": True, "from": "22:00", "until": "08:00"})
    night = 1_796_140_800.0  # 2026-12-01 00:00 Shanghai
    assert rules.is_quiet("warning", night, SHANGHAI)
    assert not rules.is_quiet("critical", night, SHANGHAI)
    assert not rules.is_quiet("warning", night + 9 * 3600, SHANGHAI)


def test_silences_match_on_every_field_they_give() -> None:
    by_rule = SilenceView(1, "follow_up_overdue", None, None, T0, T0 + 3600)
    by_team_and_case = SilenceView(2, None, "claims-east", "C-9", T0, T0 + 3600)
    one = alert(1)
    assert is_silenced(one, [by_rule], T0)
    assert not is_silenced(one, [by_rule], T0 + 3600)  # ended
    assert not is_silenced(one, [by_team_and_case], T0)
    assert is_silenced(alert(9), [by_team_and_case], T0)
    assert not is_silenced(alert(9, team="claims-north"), [by_team_and_case], T0)


def test_inhibition_mutes_targets_with_equal_labels() -> None:
    rules = [InhibitRule(source="decision_breached", target="stage_sla_breached", equal=("case",))]
    source = alert(1, rule="decision_breached", case="C-1")
    same_case = alert(2, rule="stage_sla_breached", case="C-1")
    other_case = alert(3, rule="stage_sla_breached", case="C-2")
    assert inhibited_ids([source, same_case, other_case], rules) == {2}
    resolved_source = replace(source, state=RESOLVED)
    assert inhibited_ids([resolved_source, same_case], rules) == set()


def critical(alert_id: int, **values: object) -> AlertView:
    return alert(alert_id, rule="decision_breached", severity="critical", **values)  # type: ignore[arg-type]


def test_critical_alerts_escalate_after_the_delay_plus_group_wait() -> None:
    rules = policy()
    alerts = [critical(1), critical(2, started=T0 + 20)]
    assert plan_escalations(alerts, set(), rules, T0 + 30 * MINUTE + 29) == []
    plans = plan_escalations(alerts, set(), rules, T0 + 30 * MINUTE + 30)
    assert len(plans) == 1
    notice = plans[0].notice
    assert notice.kind == ESCALATION and notice.receivers == ("manager",)
    assert [a.id for a in notice.firing] == [1, 2]
    assert plans[0].levels == {1: 1, 2: 1}
    assert notice.escalation_after_minutes == 30


def test_escalation_climbs_levels_and_skips_to_the_highest_due() -> None:
    rules = policy()
    after_first = [critical(1, level=1)]
    assert plan_escalations(after_first, set(), rules, T0 + 119 * MINUTE) == []
    second = plan_escalations(after_first, set(), rules, T0 + 121 * MINUTE)
    assert second[0].notice.receivers == ("director@example.com",)
    assert second[0].levels == {1: 2}
    late = plan_escalations([critical(1)], set(), rules, T0 + 200 * MINUTE)
    assert late[0].levels == {1: 2}
    assert plan_escalations([critical(1, level=2)], set(), rules, T0 + 900 * MINUTE) == []


@pytest.mark.parametrize(
    "quiet_alert",
    [
        critical(1, state=ACKNOWLEDGED),
        critical(1, state=RESOLVED, resolved=T0 + 60),
        alert(1, severity="warning"),
    ],
)
def test_only_unacknowledged_critical_alerts_escalate(quiet_alert: AlertView) -> None:
    assert plan_escalations([quiet_alert], set(), policy(), T0 + 1000 * MINUTE) == []


def test_silenced_alerts_do_not_escalate() -> None:
    assert plan_escalations([critical(1)], {1}, policy(), T0 + 1000 * MINUTE) == []


def test_escalations_are_one_email_per_team_and_level() -> None:
    alerts = [critical(1), critical(2, team="claims-north"), critical(3)]
    plans = plan_escalations(alerts, set(), policy(), T0 + 31 * MINUTE)
    assert [(p.notice.team_id, sorted(p.levels)) for p in plans] == [
        ("claims-east", [1, 3]),
        ("claims-north", [2]),
    ]


def test_receivers_resolve_to_addresses_and_never_to_nobody() -> None:
    teams = load_rules(load_settings()).teams
    oncall = OncallConfig.model_validate(
        {
            "rotations": [
                {
                    "id": "east",
                    "teams": ["claims-east"],
                    "start": date(2026, 11, 23),
                    "members": [{"name": "甲", "email": "a@example.com"}],
                }
            ]
        }
    )
    directory = Directory(oncall, teams, SHANGHAI, ("ops@example.com",))
    assert directory.addresses(["oncall", "manager", "A@example.com"], "claims-east", T0) == [
        "a@example.com",
        "claims-east.manager@example.com",
    ]
    # claims-north has no rotation: only its manager
    assert directory.addresses(["oncall", "manager"], "claims-north", T0) == [
        "claims-north.manager@example.com"
    ]
    assert directory.addresses(["oncall"], "claims-north", T0) == ["ops@example.com"]
    assert directory.addresses(["oncall"], None, T0) == ["ops@example.com"]
