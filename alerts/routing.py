"""Which emails to send now (pure): grouping, waits, reminders, resolved notices,
silences, inhibition, quiet hours and escalation — Alertmanager's vocabulary.

Alerts are grouped by rule and team: one email per group lists every alert it
covers. A group's first change waits ``group_wait`` (to collect a burst);
later changes wait until ``group_interval`` after the group's last email.
Unacknowledged alerts are repeated after ``repeat_interval``, each reminder
waiting ``repeat_backoff`` times longer (capped). Acknowledged alerts are not
repeated. Critical alerts left unacknowledged escalate level by level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from alerts.oncall import on_call
from alerts.rules import (
    MANAGER,
    ONCALL,
    AlertsConfig,
    InhibitRule,
    OncallConfig,
    Routing,
)
from config.rules import TeamsConfig

FIRING: Final = "firing"
REMINDER: Final = "reminder"
RESOLVED_NOTICE: Final = "resolved"
ESCALATION: Final = "escalation"

ACTIVE: Final = "active"
ACKNOWLEDGED: Final = "acknowledged"
RESOLVED: Final = "resolved"

NO_TEAM: Final = "-"


@dataclass(frozen=True, slots=True)
class AlertView:
    """A snapshot of one stored alert, as routing sees it."""

    id: int
    fingerprint: str
    rule: str
    severity: str
    state: str
    case_id: str | None
    team_id: str | None
    handler_id: str | None
    subject: str | None
    details: Mapping[str, Any]
    started_at: float
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    notified_at: float | None = None
    resolved_notified_at: float | None = None
    escalation_level: int = 0

    @property
    def is_resolved(self) -> bool:
        return self.state == RESOLVED

    @property
    def is_acknowledged(self) -> bool:
        return self.state == ACKNOWLEDGED

    def label(self, name: str) -> str | None:
        return {
            "case": self.case_id,
            "team": self.team_id,
            "handler": self.handler_id,
            "subject": self.subject,
        }[name]


@dataclass(frozen=True, slots=True)
class SilenceView:
    """An active silence: every given field must match (None matches anything)."""

    id: int
    rule: str | None
    team_id: str | None
    case_id: str | None
    starts_at: float
    ends_at: float

    def matches(self, alert: AlertView, now: float) -> bool:
        if not self.starts_at <= now < self.ends_at:
            return False
        return (
            (self.rule is None or self.rule == alert.rule)
            and (self.team_id is None or self.team_id == alert.team_id)
            and (self.case_id is None or self.case_id == alert.case_id)
        )


def group_key(rule: str, team_id: str | None) -> str:
    return f"{rule}|{team_id or NO_TEAM}"


@dataclass(frozen=True, slots=True)
class GroupState:
    """What a notification group remembers between evaluations."""

    key: str
    rule: str
    team_id: str | None
    pending_since: float | None = None
    last_notified_at: float | None = None
    next_reminder_at: float | None = None
    reminders_sent: int = 0
    version: int = 0


@dataclass(frozen=True, slots=True)
class Notice:
    """One email to compose (per receiver) for a group or an escalation."""

    kind: str
    rule: str
    team_id: str | None
    severity: str
    firing: tuple[AlertView, ...] = ()
    new_ids: frozenset[int] = frozenset()
    resolved: tuple[AlertView, ...] = ()
    receivers: tuple[str, ...] = ()
    escalation_level: int = 0
    escalation_after_minutes: int = 0
    group_key: str | None = None

    @property
    def alert_ids(self) -> list[int]:
        return [a.id for a in (*self.firing, *self.resolved)]


@dataclass(slots=True)
class GroupPlan:
    state: GroupState
    notice: Notice | None = None
    mark_notified: list[int] = field(default_factory=list)
    mark_resolved_notified: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Policy:
    """The routing part of alerts.yaml plus the moment's quiet-hours verdict."""

    routing: Routing
    group_waits: Mapping[str, float]
    """Rule -> group wait in seconds."""

    @classmethod
    def from_config(cls, config: AlertsConfig) -> Policy:
        waits = {}
        for name in config.rules.enabled_names():
            own = config.rules.get(name).group_wait_seconds
            waits[name] = float(own if own is not None else config.routing.group_wait_seconds)
        return cls(config.routing, waits)

    def group_wait(self, rule: str) -> float:
        return self.group_waits.get(rule, float(self.routing.group_wait_seconds))

    def is_quiet(self, severity: str, now: float, tz: ZoneInfo) -> bool:
        """Warnings wait during quiet hours; critical alerts never do."""
        if severity != "warning":
            return False
        return self.routing.quiet_hours.contains(datetime.fromtimestamp(now, tz))


def is_silenced(alert: AlertView, silences: Iterable[SilenceView], now: float) -> bool:
    return any(silence.matches(alert, now) for silence in silences)


def inhibited_ids(alerts: Sequence[AlertView], rules: Sequence[InhibitRule]) -> set[int]:
    """Alerts muted because a source alert with equal labels is firing."""
    out: set[int] = set()
    firing = [a for a in alerts if not a.is_resolved]
    for rule in rules:
        sources = [a for a in firing if a.rule == rule.source]
        if not sources:
            continue
        for target in firing:
            if target.rule != rule.target:
                continue
            if any(all(s.label(n) == target.label(n) for n in rule.equal) for s in sources):
                out.add(target.id)
    return out


def plan_group(
    state: GroupState,
    alerts: Sequence[AlertView],
    muted: set[int],
    policy: Policy,
    now: float,
    quiet: bool,
) -> GroupPlan:
    """Decide the group's email at ``now`` (if any) and its next state.

    ``alerts``: the group's unresolved alerts and its resolved ones not yet
    announced as resolved; ``muted``: ids silenced or inhibited now;
    ``quiet``: whether the group's email must wait (quiet hours).
    """
    routing = policy.routing
    visible = [a for a in alerts if not a.is_resolved and a.id not in muted]
    new_firing = [a for a in visible if a.notified_at is None]
    unannounced = [a for a in alerts if a.is_resolved and a.resolved_notified_at is None]
    plan = GroupPlan(state)
    if not routing.send_resolved:
        plan.mark_resolved_notified = [a.id for a in unannounced]
        unannounced = []
    severity = alerts[0].severity if alerts else "warning"

    if new_firing or unannounced:
        pending_since = state.pending_since if state.pending_since is not None else now
        due = pending_since + policy.group_wait(state.rule)
        if state.last_notified_at is not None:
            due = max(due, state.last_notified_at + routing.group_interval_seconds)
        if now < due or quiet:
            plan.state = replace(state, pending_since=pending_since)
            return plan
        firing = tuple(sorted(visible, key=_listing_order))
        plan.notice = Notice(
            kind=FIRING if firing else RESOLVED_NOTICE,
            rule=state.rule,
            team_id=state.team_id,
            severity=severity,
            firing=firing,
            new_ids=frozenset(a.id for a in new_firing),
            resolved=tuple(sorted(unannounced, key=_listing_order)),
            receivers=routing.receivers_of(state.team_id),
            group_key=state.key,
        )
        plan.mark_notified = [a.id for a in new_firing]
        plan.mark_resolved_notified += [a.id for a in unannounced]
        waiting = any(not a.is_acknowledged for a in visible)
        plan.state = replace(
            state,
            pending_since=None,
            last_notified_at=now,
            reminders_sent=0,
            next_reminder_at=now + routing.repeat_after(0) if waiting else None,
            version=state.version + 1,
        )
        return plan

    unacknowledged = [a for a in visible if not a.is_acknowledged]
    if not unacknowledged:
        if state.pending_since is not None or (
            not any(not a.is_resolved for a in alerts) and state.next_reminder_at is not None
        ):
            plan.state = replace(state, pending_since=None, next_reminder_at=None, reminders_sent=0)
        return plan
    if state.next_reminder_at is None:
        # e.g. a silence ended over alerts announced before it began.
        plan.state = replace(
            state, next_reminder_at=now + routing.repeat_after(state.reminders_sent)
        )
        return plan
    if now < state.next_reminder_at or quiet:
        return plan
    sent = state.reminders_sent + 1
    plan.notice = Notice(
        kind=REMINDER,
        rule=state.rule,
        team_id=state.team_id,
        severity=severity,
        firing=tuple(sorted(unacknowledged, key=_listing_order)),
        receivers=routing.receivers_of(state.team_id),
        group_key=state.key,
    )
    plan.state = replace(
        state,
        last_notified_at=now,
        reminders_sent=sent,
        next_reminder_at=now + routing.repeat_after(sent),
        version=state.version + 1,
    )
    return plan


def _listing_order(alert: AlertView) -> tuple[str, str, str, int]:
    return (alert.case_id or "", alert.handler_id or "", alert.subject or "", alert.id)


@dataclass(slots=True)
class EscalationPlan:
    notice: Notice
    levels: dict[int, int]
    """Alert id -> the escalation level it reaches (1 = first level)."""


def plan_escalations(
    alerts: Sequence[AlertView], muted: set[int], policy: Policy, now: float
) -> list[EscalationPlan]:
    """Critical alerts unacknowledged past a level's delay, one email per team and level.

    A level waits ``group_wait`` after its first alert became due, so alerts
    crossing the line together go out in one email. An alert that is due for
    several levels at once (the scheduler was down) goes straight to the highest.
    """
    levels = policy.routing.escalation
    if not levels:
        return []
    due_by_group: dict[tuple[str | None, int], list[tuple[float, AlertView]]] = {}
    for alert in alerts:
        if alert.severity != "critical" or alert.state != ACTIVE or alert.id in muted:
            continue
        reached = alert.escalation_level
        target = reached
        for number in range(reached, len(levels)):
            if now >= alert.started_at + levels[number].after_minutes * 60:
                target = number + 1
        if target == reached:
            continue
        became_due = alert.started_at + levels[target - 1].after_minutes * 60
        due_by_group.setdefault((alert.team_id, target), []).append((became_due, alert))
    plans = []
    for (team_id, level), entries in sorted(
        due_by_group.items(), key=lambda item: (item[0][0] or "", item[0][1])
    ):
        first_due = min(due for due, _ in entries)
        chosen = [a for _, a in entries]
        if now < first_due + min(policy.group_wait(a.rule) for a in chosen):
            continue
        ordered = tuple(sorted(chosen, key=lambda a: (a.rule, *_listing_order(a))))
        rules = sorted({a.rule for a in chosen})
        plans.append(
            EscalationPlan(
                Notice(
                    kind=ESCALATION,
                    rule=rules[0] if len(rules) == 1 else "*",
                    team_id=team_id,
                    severity="critical",
                    firing=ordered,
                    receivers=levels[level - 1].to,
                    escalation_level=level,
                    escalation_after_minutes=levels[level - 1].after_minutes,
                ),
                {a.id: level for a in chosen},
            )
        )
    return plans


@dataclass(frozen=True, slots=True)
class Directory:
    """Where receiver keywords lead: on-call rotations and team managers."""

    oncall: OncallConfig
    teams: TeamsConfig
    tz: ZoneInfo
    fallback: tuple[str, ...]

    def addresses(self, receivers: Iterable[str], team_id: str | None, now: float) -> list[str]:
        """Email addresses for ``receivers`` of a team at ``now``; never empty."""
        out: list[str] = []
        for receiver in receivers:
            address: str | None
            if receiver == ONCALL:
                shift = on_call(self.oncall, team_id, now, self.tz) if team_id else None
                address = shift.person.email if shift else None
            elif receiver == MANAGER:
                team = self.teams.team(team_id) if team_id else None
                address = team.manager_email if team else None
            else:
                address = receiver
            if address and address.lower() not in {a.lower() for a in out}:
                out.append(address)
        return out or list(self.fallback)
