"""From stored alerts to queued emails, in the caller's transaction.

Routing decides (``alerts.routing``, pure); this module loads its inputs,
composes one email per receiver, queues it in the outbox and records what was
sent — all in one transaction. Every write is conditional on what was read
(the group's ``version``, an alert's ``notified_at`` or escalation level),
so when two schedulers race, the slower one's transaction fails with
``DispatchConflict`` and queues nothing: no email is decided twice.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from alerts.email import MailContext, compose
from alerts.lifecycle import needing_attention, silence_views, to_view
from alerts.models import Alert, AlertEvent, AlertGroup
from alerts.outbox import enqueue, new_message_id
from alerts.routing import (
    ESCALATION,
    FIRING,
    REMINDER,
    RESOLVED_NOTICE,
    AlertView,
    Directory,
    GroupState,
    Notice,
    Policy,
    group_key,
    inhibited_ids,
    is_silenced,
    plan_escalations,
    plan_group,
)
from alerts.rules import AlertsConfig
from store.types import from_epoch, from_epoch_or_none, to_epoch_or_none


class DispatchConflict(RuntimeError):
    """Another scheduler changed the same alerts or groups first; roll back and retry later."""


@dataclass(slots=True)
class DispatchReport:
    queued: list[int] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)


@dataclass
class Dispatcher:
    config: AlertsConfig
    directory: Directory
    mail: MailContext

    @property
    def tz(self) -> ZoneInfo:
        return self.mail.tz

    def run(self, session: Session, now: float) -> DispatchReport:
        report = DispatchReport()
        policy = Policy.from_config(self.config)
        views = [to_view(alert) for alert in needing_attention(session)]
        silences = silence_views(session, now)
        muted = {a.id for a in views if is_silenced(a, silences, now)}
        muted |= inhibited_ids(views, self.config.inhibit)
        groups: dict[str, list[AlertView]] = defaultdict(list)
        for view in views:
            groups[group_key(view.rule, view.team_id)].append(view)
        stored = {
            row.group_key: row
            for row in session.scalars(
                select(AlertGroup).where(AlertGroup.group_key.in_(list(groups)))
            )
        }
        for key in sorted(groups):
            alerts = groups[key]
            row = stored.get(key)
            state = _state(row) if row else GroupState(key, alerts[0].rule, alerts[0].team_id)
            quiet = policy.is_quiet(alerts[0].severity, now, self.tz)
            plan = plan_group(state, alerts, muted, policy, now, quiet)
            if plan.state != state:
                _save_group(session, row, state, plan.state)
            _mark(session, plan.mark_notified, Alert.notified_at, now)
            _mark(session, plan.mark_resolved_notified, Alert.resolved_notified_at, now)
            if plan.notice is not None:
                report.queued += self._queue(session, plan.notice, now)
                report.notices.append(plan.notice)
                _history(session, plan.notice, now)
        unresolved = [v for v in views if not v.is_resolved]
        for escalation in plan_escalations(unresolved, muted, policy, now):
            for alert_id, level in escalation.levels.items():
                current = next(v.escalation_level for v in unresolved if v.id == alert_id)
                moved = session.execute(
                    update(Alert)
                    .where(Alert.id == alert_id, Alert.escalation_level == current)
                    .values(escalation_level=level, escalated_at=from_epoch(now))
                    .execution_options(synchronize_session=False)
                )
                if moved.rowcount != 1:  # type: ignore[attr-defined]
                    raise DispatchConflict(f"alert {alert_id} escalated elsewhere")
            report.queued += self._queue(session, escalation.notice, now)
            report.notices.append(escalation.notice)
            _history(session, escalation.notice, now)
        session.flush()
        return report

    def _queue(self, session: Session, notice: Notice, now: float) -> list[int]:
        queued = []
        for recipient in self.directory.addresses(notice.receivers, notice.team_id, now):
            message = compose(notice, self.mail, recipient, new_message_id(self.mail.sender), now)
            row = enqueue(
                session,
                message=message,
                recipients=[recipient],
                kind=notice.kind,
                alert_ids=notice.alert_ids,
                now=now,
                group_key=notice.group_key,
            )
            queued.append(row.id)
        return queued


def _state(row: AlertGroup) -> GroupState:
    return GroupState(
        key=row.group_key,
        rule=row.rule,
        team_id=row.team_id,
        pending_since=to_epoch_or_none(row.pending_since),
        last_notified_at=to_epoch_or_none(row.last_notified_at),
        next_reminder_at=to_epoch_or_none(row.next_reminder_at),
        reminders_sent=row.reminders_sent,
        version=row.version,
    )


def _values(state: GroupState, version: int) -> dict[str, Any]:
    return {
        "pending_since": from_epoch_or_none(state.pending_since),
        "last_notified_at": from_epoch_or_none(state.last_notified_at),
        "next_reminder_at": from_epoch_or_none(state.next_reminder_at),
        "reminders_sent": state.reminders_sent,
        "version": version,
    }


def _save_group(
    session: Session, row: AlertGroup | None, before: GroupState, after: GroupState
) -> None:
    version = before.version + 1
    if row is None:
        session.add(
            AlertGroup(
                group_key=after.key,
                rule=after.rule,
                team_id=after.team_id,
                **_values(after, version),
            )
        )
        session.flush()
        return
    moved = session.execute(
        update(AlertGroup)
        .where(AlertGroup.group_key == after.key, AlertGroup.version == before.version)
        .values(**_values(after, version))
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise DispatchConflict(f"group {after.key} changed elsewhere")


def _mark(session: Session, ids: Sequence[int], column: Any, now: float) -> None:
    if not ids:
        return
    moved = session.execute(
        update(Alert)
        .where(Alert.id.in_(list(ids)), column.is_(None))
        .values({column.key: from_epoch(now)})
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != len(ids):  # type: ignore[attr-defined]
        raise DispatchConflict("alerts were announced elsewhere")


_EVENT_KIND = {
    FIRING: "notified",
    REMINDER: "reminded",
    RESOLVED_NOTICE: "resolved_notified",
    ESCALATION: "escalated",
}


def _history(session: Session, notice: Notice, now: float) -> None:
    kind = _EVENT_KIND[notice.kind]
    detail = json.dumps({"receivers": list(notice.receivers), "level": notice.escalation_level})
    for alert in notice.firing:
        if notice.kind == FIRING and alert.id not in notice.new_ids:
            continue  # listed again, announced before
        session.add(AlertEvent(alert_id=alert.id, at=from_epoch(now), kind=kind, detail=detail))
    for alert in notice.resolved:
        session.add(
            AlertEvent(
                alert_id=alert.id, at=from_epoch(now), kind="resolved_notified", detail=detail
            )
        )
