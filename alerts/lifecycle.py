"""Alert instances in SQL: active → acknowledged → resolved, with their history.

``reconcile`` stores one evaluation: new conditions become active alerts,
conditions that cleared resolve their alert, and a rule that could not be
evaluated leaves its alerts as they are. A condition that cleared because the
case got worse (a decision at risk whose deadline passed: it is breached now)
is superseded: its alert is closed without a resolved notice, its history
says ``superseded`` and names the alert that took over. Acknowledging stops reminders and
escalation; silences are stored here and matched in ``alerts.routing``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from alerts.evaluate import Evaluation, Firing
from alerts.models import (
    ACKNOWLEDGED,
    ACTIVE,
    RESOLVED,
    Acknowledgement,
    Alert,
    AlertEvent,
    Silence,
)
from alerts.routing import AlertView, SilenceView
from alerts.rules import DECISION_AT_RISK, DECISION_BREACHED
from store.types import from_epoch, to_epoch, to_epoch_or_none

STATE_FILTERS: Final = ("active", "resolved", "all")
"""``active`` lists acknowledged alerts too (every unresolved one)."""

LAST_SEEN_RESOLUTION_SECONDS: Final = 600.0
"""``last_seen_at`` of an unchanged alert is refreshed at most this often."""

FIRED: Final = "fired"
RESOLVED_EVENT: Final = "resolved"
SUPERSEDED_EVENT: Final = "superseded"
ACKNOWLEDGED_EVENT: Final = "acknowledged"

SUPERSEDED_BY: Final = {DECISION_AT_RISK: DECISION_BREACHED}
"""An alert of the key's rule ends, unannounced, when its case fires the value's rule."""


class UnknownAlert(LookupError):
    """No alert with that id."""


@dataclass(slots=True)
class ReconcileResult:
    fired: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    still_firing: int = 0


def _details_json(details: Any) -> str:
    return json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)


def _event(session: Session, alert_id: int, at: float, kind: str, **extra: Any) -> None:
    actor = extra.pop("actor", None)
    session.add(
        AlertEvent(
            alert_id=alert_id,
            at=from_epoch(at),
            kind=kind,
            actor=actor,
            detail=_details_json(extra) if extra else None,
        )
    )


def unresolved(session: Session, rules: Iterable[str] | None = None) -> list[Alert]:
    """Every alert not resolved (active or acknowledged), optionally of some rules only."""
    statement = select(Alert).where(Alert.state.in_((ACTIVE, ACKNOWLEDGED)))
    if rules is not None:
        statement = statement.where(Alert.rule.in_(list(rules)))
    return list(session.scalars(statement.order_by(Alert.id)))


def reconcile(session: Session, evaluation: Evaluation) -> ReconcileResult:
    """Store an evaluation in the caller's transaction."""
    now = evaluation.now
    result = ReconcileResult()
    current = {a.fingerprint: a for a in unresolved(session, evaluation.evaluated)}
    seen: set[str] = set()
    by_case: dict[tuple[str, str], int] = {}  # (rule, case) -> the firing alert
    for firing in evaluation.firing:
        key = firing.fingerprint
        if key in seen:
            continue
        seen.add(key)
        existing = current.get(key)
        if existing is not None and firing.case_id:
            by_case[(firing.rule, firing.case_id)] = existing.id
        if existing is not None:
            # Write only what changed (most alerts repeat the same figures every 30 s).
            details = _details_json(firing.details)
            if existing.details != details:
                existing.details = details
                existing.last_seen_at = from_epoch(now)
            elif now - to_epoch(existing.last_seen_at) >= LAST_SEEN_RESOLUTION_SECONDS:
                existing.last_seen_at = from_epoch(now)
            result.still_firing += 1
            continue
        alert = _new_alert(firing, now)
        session.add(alert)
        session.flush()
        _event(session, alert.id, now, FIRED)
        result.fired.append(alert.id)
        if firing.case_id:
            by_case[(firing.rule, firing.case_id)] = alert.id
    for key, alert in current.items():
        if key in seen:
            continue
        successor = _successor(alert, by_case)
        if successor is None:
            if _resolve(session, alert, now, announce=True):
                _event(session, alert.id, now, RESOLVED_EVENT)
                result.resolved.append(alert.id)
        elif _resolve(session, alert, now, announce=False):
            _event(session, alert.id, now, SUPERSEDED_EVENT, by=successor)
            result.superseded.append(alert.id)
    session.flush()
    return result


def _successor(alert: Alert, by_case: dict[tuple[str, str], int]) -> int | None:
    """The firing alert that supersedes ``alert``, if any: its case's alert of
    the same rule under other labels (the case moved to another team or
    handler, who are told anew), or of a graver rule."""
    if alert.case_id is None:
        return None
    moved = by_case.get((alert.rule, alert.case_id))
    if moved is not None and moved != alert.id:
        return moved
    graver = SUPERSEDED_BY.get(alert.rule)
    return None if graver is None else by_case.get((graver, alert.case_id))


def _resolve(session: Session, alert: Alert, now: float, *, announce: bool) -> bool:
    """Resolve ``alert``; False when another evaluation resolved it first.

    ``announce``: a resolved notice is due (unless the alert was never
    announced: then there is nothing to announce as resolved either).
    """
    at = from_epoch(now)
    moved = session.execute(
        update(Alert)
        .where(Alert.id == alert.id, Alert.resolved_at.is_(None))
        .values(
            state=RESOLVED,
            resolved_at=at,
            resolved_notified_at=(
                case((Alert.notified_at.is_(None), at), else_=Alert.resolved_notified_at)
                if announce
                else at
            ),
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(alert)
    return moved.rowcount == 1  # type: ignore[attr-defined]


def _new_alert(firing: Firing, now: float) -> Alert:
    return Alert(
        fingerprint=firing.fingerprint,
        rule=firing.rule,
        severity=firing.severity,
        state=ACTIVE,
        case_id=firing.case_id,
        team_id=firing.team_id,
        handler_id=firing.handler_id,
        subject=firing.subject,
        details=_details_json(firing.details),
        started_at=from_epoch(now),
        last_seen_at=from_epoch(now),
        escalation_level=0,
    )


def acknowledge(
    session: Session, alert_ids: Sequence[int], by: str, via: str, now: float
) -> list[Alert]:
    """Acknowledge the alerts that are still active; return those that changed.

    Acknowledging an acknowledged or resolved alert changes nothing, so a
    link clicked twice, or by two people, is harmless.
    """
    alerts = list(session.scalars(select(Alert).where(Alert.id.in_(list(alert_ids)))))
    missing = set(alert_ids) - {a.id for a in alerts}
    if missing:
        raise UnknownAlert(f"no alert {', '.join(str(i) for i in sorted(missing))}")
    changed = []
    for alert in alerts:
        moved = session.execute(
            update(Alert)
            .where(Alert.id == alert.id, Alert.state == ACTIVE)
            .values(state=ACKNOWLEDGED, acknowledged_at=from_epoch(now), acknowledged_by=by)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            continue
        session.add(Acknowledgement(alert_id=alert.id, by=by, at=from_epoch(now), via=via))
        _event(session, alert.id, now, ACKNOWLEDGED_EVENT, actor=by, via=via)
        changed.append(alert)
    session.flush()
    for alert in changed:
        session.refresh(alert)
    return changed


def list_alerts(
    session: Session, state: str = "active", team: str | None = None, limit: int | None = 500
) -> list[Alert]:
    """Alerts for the API and pages: newest first; ``state`` is active, resolved or all;
    at most ``limit`` of them (None: every one)."""
    if state not in STATE_FILTERS:
        raise ValueError(f"state must be one of {', '.join(STATE_FILTERS)}, got {state!r}")
    statement = select(Alert)
    if state == "active":
        statement = statement.where(Alert.state.in_((ACTIVE, ACKNOWLEDGED)))
    elif state == "resolved":
        statement = statement.where(Alert.state == RESOLVED)
    if team is not None:
        statement = statement.where(Alert.team_id == team)
    statement = statement.order_by(Alert.started_at.desc(), Alert.id.desc()).limit(limit)
    return list(session.scalars(statement))


def get_alert(session: Session, alert_id: int) -> Alert | None:
    return session.get(Alert, alert_id)


def history(session: Session, alert_id: int) -> list[AlertEvent]:
    statement = (
        select(AlertEvent)
        .where(AlertEvent.alert_id == alert_id)
        .order_by(AlertEvent.at, AlertEvent.id)
    )
    return list(session.scalars(statement))


def counts(session: Session) -> dict[str, int]:
    """Unresolved alerts by state."""
    rows = session.execute(
        select(Alert.state, func.count())
        .where(Alert.state.in_((ACTIVE, ACKNOWLEDGED)))
        .group_by(Alert.state)
    )
    found = {state: int(number) for state, number in rows}
    return {ACTIVE: found.get(ACTIVE, 0), ACKNOWLEDGED: found.get(ACKNOWLEDGED, 0)}


# -- silences ------------------------------------------------------------------------------


def add_silence(
    session: Session,
    *,
    until: float,
    by: str,
    now: float,
    rule: str | None = None,
    team: str | None = None,
    case: str | None = None,
    comment: str | None = None,
) -> Silence:
    """Mute matching alerts from now until ``until``; at least one of rule, team, case."""
    if rule is None and team is None and case is None:
        raise ValueError("a silence needs a rule, a team or a case")
    if until <= now:
        raise ValueError("a silence must end in the future")
    silence = Silence(
        rule=rule,
        team_id=team,
        case_id=case,
        starts_at=from_epoch(now),
        ends_at=from_epoch(until),
        created_by=by,
        comment=comment,
        created_at=from_epoch(now),
    )
    session.add(silence)
    session.flush()
    return silence


def cancel_silence(session: Session, silence_id: int, now: float) -> bool:
    moved = session.execute(
        update(Silence)
        .where(Silence.id == silence_id, Silence.cancelled_at.is_(None))
        .values(cancelled_at=from_epoch(now))
        .execution_options(synchronize_session=False)
    )
    return moved.rowcount == 1  # type: ignore[attr-defined]


def active_silences(session: Session, now: float) -> list[Silence]:
    moment = from_epoch(now)
    statement = (
        select(Silence)
        .where(
            Silence.ends_at > moment,
            Silence.starts_at <= moment,
            Silence.cancelled_at.is_(None),
        )
        .order_by(Silence.ends_at)
    )
    return list(session.scalars(statement))


def silence_views(session: Session, now: float) -> list[SilenceView]:
    return [
        SilenceView(s.id, s.rule, s.team_id, s.case_id, to_epoch(s.starts_at), to_epoch(s.ends_at))
        for s in active_silences(session, now)
    ]


# -- snapshots for routing -----------------------------------------------------------------


def to_view(alert: Alert) -> AlertView:
    return AlertView(
        id=alert.id,
        fingerprint=alert.fingerprint,
        rule=alert.rule,
        severity=alert.severity,
        state=alert.state,
        case_id=alert.case_id,
        team_id=alert.team_id,
        handler_id=alert.handler_id,
        subject=alert.subject,
        details=json.loads(alert.details or "{}"),
        started_at=to_epoch(alert.started_at),
        acknowledged_at=to_epoch_or_none(alert.acknowledged_at),
        acknowledged_by=alert.acknowledged_by,
        resolved_at=to_epoch_or_none(alert.resolved_at),
        notified_at=to_epoch_or_none(alert.notified_at),
        resolved_notified_at=to_epoch_or_none(alert.resolved_notified_at),
        escalation_level=alert.escalation_level,
    )


def needing_attention(session: Session) -> list[Alert]:
    """Unresolved alerts, and resolved ones whose resolution is still to be announced."""
    statement = select(Alert).where(
        or_(
            Alert.state.in_((ACTIVE, ACKNOWLEDGED)),
            (Alert.state == RESOLVED) & Alert.resolved_notified_at.is_(None),
        )
    )
    return list(session.scalars(statement.order_by(Alert.id)))
