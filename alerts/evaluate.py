"""From what the sources observed to the alerts that fire now (pure).

Each rule turns its observations into ``Firing`` instances identified by a
fingerprint of the rule and its labels, so the same condition is the same
alert from one evaluation to the next. A rule whose source could not be read
is reported as unknown: its alerts neither fire nor resolve this time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts.rules import (
    CONSUMER_LAG,
    DECISION_AT_RISK,
    DECISION_BREACHED,
    FOLLOW_UP_OVERDUE,
    HANDLER_OVERLOADED,
    MAJOR_COMPLAINT_OPENED,
    STAGE_SLA_BREACHED,
    AlertRules,
)


def fingerprint(rule: str, labels: Mapping[str, str | None]) -> str:
    """A stable id of one alert condition: the rule and its non-empty labels."""
    parts = [rule, *(f"{k}={v}" for k, v in sorted(labels.items()) if v)]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]


@dataclass(frozen=True, slots=True)
class Firing:
    """One alert condition that holds now."""

    rule: str
    severity: str
    case_id: str | None = None
    team_id: str | None = None
    handler_id: str | None = None
    subject: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str | None]:
        return {
            "case": self.case_id,
            "team": self.team_id,
            "handler": self.handler_id,
            "subject": self.subject,
        }

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.rule, self.labels)


@dataclass(frozen=True, slots=True)
class DueCaseObservation:
    """An open case with a due time (return visit or decision deadline)."""

    case_id: str
    due: float
    team_id: str | None
    handler_id: str | None


@dataclass(frozen=True, slots=True)
class StageObservation:
    """An open case and how long it has been in its stage."""

    case_id: str
    stage: str
    entered_at: float
    target_hours: float
    team_id: str
    handler_id: str


@dataclass(frozen=True, slots=True)
class HandlerLoadObservation:
    team_id: str
    handler_id: str
    open_cases: int
    capacity: int | None


@dataclass(frozen=True, slots=True)
class ConsumerHeartbeat:
    """The metrics consumer's heartbeat (``co:consumer:<group>``)."""

    group: str
    ts: float
    lag: int
    batch_ts: float | None = None
    error: str = ""
    error_since: float | None = None  # failing without a stored batch since then


@dataclass(frozen=True, slots=True)
class MajorCaseObservation:
    case_id: str
    opened_at: float
    team_id: str
    handler_id: str
    priority: str
    group_size: int | None


@dataclass(slots=True)
class Observations:
    """What the sources saw at ``now``; a field left None means its source was unreadable."""

    now: float
    follow_ups_overdue: list[DueCaseObservation] | None = None
    decisions_at_risk: list[DueCaseObservation] | None = None
    decisions_breached: list[DueCaseObservation] | None = None
    stages_over_target: list[StageObservation] | None = None
    handler_loads: list[HandlerLoadObservation] | None = None
    consumer: ConsumerHeartbeat | None = None
    consumer_group: str | None = None
    majors: list[MajorCaseObservation] | None = None
    unknown: dict[str, str] = field(default_factory=dict)
    """Rule -> why its source is unknown."""


@dataclass(slots=True)
class Evaluation:
    """The outcome of one evaluation: what fires, which rules were evaluated, which were not."""

    now: float
    firing: list[Firing]
    evaluated: set[str]
    unknown: dict[str, str]


def evaluate(rules: AlertRules, seen: Observations) -> Evaluation:
    """Every firing alert of every enabled rule whose source is known."""
    firing: list[Firing] = []
    evaluated: set[str] = set()
    unknown = dict(seen.unknown)

    def run(name: str, source: object, build: Iterable[Firing]) -> None:
        if not rules.get(name).enabled:
            evaluated.add(name)  # nothing fires: alerts left from before it was disabled resolve
            return
        if source is None:
            unknown.setdefault(name, "source not read")
            return
        if name in unknown:
            return
        evaluated.add(name)
        firing.extend(build)

    run(
        FOLLOW_UP_OVERDUE,
        seen.follow_ups_overdue,
        _due_alerts(FOLLOW_UP_OVERDUE, rules.follow_up_overdue.severity, seen.follow_ups_overdue),
    )
    run(
        DECISION_AT_RISK,
        seen.decisions_at_risk,
        _due_alerts(DECISION_AT_RISK, rules.decision_at_risk.severity, seen.decisions_at_risk),
    )
    run(
        DECISION_BREACHED,
        seen.decisions_breached,
        _due_alerts(DECISION_BREACHED, rules.decision_breached.severity, seen.decisions_breached),
    )
    run(
        STAGE_SLA_BREACHED,
        seen.stages_over_target,
        _stage_alerts(rules, seen.stages_over_target or [], seen.now),
    )
    run(HANDLER_OVERLOADED, seen.handler_loads, _load_alerts(rules, seen.handler_loads or []))
    if rules.consumer_lag.enabled and seen.consumer is None and CONSUMER_LAG not in unknown:
        unknown[CONSUMER_LAG] = (
            f"no heartbeat of consumer group '{seen.consumer_group or '?'}' in Redis"
        )
    run(CONSUMER_LAG, seen.consumer, _lag_alerts(rules, seen.consumer, seen.now))
    run(MAJOR_COMPLAINT_OPENED, seen.majors, _major_alerts(rules, seen.majors or []))
    firing.sort(key=lambda f: (f.rule, f.team_id or "", f.case_id or "", f.handler_id or ""))
    return Evaluation(seen.now, firing, evaluated, unknown)


def _due_alerts(rule: str, severity: str, cases: list[DueCaseObservation] | None) -> list[Firing]:
    return [
        Firing(rule, severity, c.case_id, c.team_id, c.handler_id, details={"due": c.due})
        for c in cases or []
    ]


def _stage_alerts(rules: AlertRules, cases: list[StageObservation], now: float) -> list[Firing]:
    severity = rules.stage_sla_breached.severity
    return [
        Firing(
            STAGE_SLA_BREACHED,
            severity,
            c.case_id,
            c.team_id,
            c.handler_id,
            subject=c.stage,
            details={
                "stage": c.stage,
                "entered_at": c.entered_at,
                "target_hours": c.target_hours,
                "due": c.entered_at + c.target_hours * 3600,
            },
        )
        for c in cases
        if now - c.entered_at > c.target_hours * 3600
    ]


def _load_alerts(rules: AlertRules, loads: list[HandlerLoadObservation]) -> list[Firing]:
    ratio = rules.handler_overloaded.capacity_ratio
    severity = rules.handler_overloaded.severity
    return [
        Firing(
            HANDLER_OVERLOADED,
            severity,
            None,
            load.team_id,
            load.handler_id,
            details={"open_cases": load.open_cases, "capacity": load.capacity},
        )
        for load in loads
        if load.capacity is not None and load.open_cases > load.capacity * ratio
    ]


def _lag_alerts(rules: AlertRules, heartbeat: ConsumerHeartbeat | None, now: float) -> list[Firing]:
    if heartbeat is None:
        return []
    rule = rules.consumer_lag
    silent_for = now - heartbeat.ts
    waiting_for = now - heartbeat.batch_ts if heartbeat.batch_ts is not None else silent_for
    reasons = []
    if heartbeat.lag >= rule.max_events:
        reasons.append("events")
    if silent_for >= rule.max_seconds:
        reasons.append("silent")
    elif heartbeat.lag > 0 and waiting_for >= rule.max_seconds:
        reasons.append("stalled")
    elif heartbeat.error_since is not None and now - heartbeat.error_since >= rule.max_seconds:
        # Retrying the same failure: alive, but storing nothing (its lag may be
        # unknown, e.g. after Redis lost the heartbeat's other fields).
        reasons.append("failing")
    if not reasons:
        return []
    return [
        Firing(
            CONSUMER_LAG,
            rule.severity,
            subject=heartbeat.group,
            details={
                "lag": heartbeat.lag,
                "heartbeat_age": round(silent_for, 1),
                "reasons": reasons,
                "error": heartbeat.error,
            },
        )
    ]


def _major_alerts(rules: AlertRules, cases: list[MajorCaseObservation]) -> list[Firing]:
    rule = rules.major_complaint_opened
    return [
        Firing(
            MAJOR_COMPLAINT_OPENED,
            rule.severity,
            c.case_id,
            c.team_id,
            c.handler_id,
            details={
                "opened_at": c.opened_at,
                "priority": c.priority,
                "group_size": c.group_size,
            },
        )
        for c in cases
        if c.priority == "major" or (c.group_size or 0) >= rule.group_size
    ]
