"""Reading what the rules need, through the indexes only (never a scan of all cases).

- return visits and decision deadlines: ``MetricsQuery`` range queries over the
  due-time sorted sets, then the listed cases' states (for team and handler);
- handler load: ``MetricsQuery.workload``;
- consumer lag: the heartbeat hash ``co:consumer:<group>``;
- stage targets and major complaints: the SQL ``cases`` table, by the index on
  (status, stage, stage_entered_at) and the index on ``opened_at``.

A source that cannot be read marks its rules unknown instead of failing the
whole evaluation. The read model counts as unreadable while it has no build
marker (lost, or emptied by ``complaintops rebuild``) or a rebuild runs: the
case and handler rules are then not evaluated, so their alerts neither resolve
nor fire again when the model comes back. The consumer's heartbeat is not part
of the read model (a rebuild keeps it), so ``consumer_lag`` is still evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from alerts.evaluate import (
    ConsumerHeartbeat,
    DueCaseObservation,
    HandlerLoadObservation,
    MajorCaseObservation,
    Observations,
    StageObservation,
)
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
from config.rules import StageTargets
from metrics import keys
from metrics.query import DueCase, MetricsQuery
from store.models import Case
from store.types import from_epoch, to_epoch

log = logging.getLogger(__name__)

REDIS_RULES = (FOLLOW_UP_OVERDUE, DECISION_AT_RISK, DECISION_BREACHED, HANDLER_OVERLOADED)
"""The rules read from the read model (``consumer_lag`` reads only the heartbeat)."""
SQL_RULES = (STAGE_SLA_BREACHED, MAJOR_COMPLAINT_OPENED)


@dataclass
class AlertSources:
    """Everything evaluation reads, with ``clock`` giving 'now'."""

    query: MetricsQuery
    engine: Engine
    rules: AlertRules
    stage_targets: StageTargets
    consumer_group: str
    configured_handlers: Callable[[], dict[str, list[tuple[str, int | None]]]]

    def collect(self, now: float) -> Observations:
        seen = Observations(now=now, consumer_group=self._group())
        enabled = set(self.rules.enabled_names())
        try:
            self._read_redis(seen, enabled)
        except redis.RedisError as error:
            log.warning("alert sources: Redis unreadable: %s", error)
            for rule in (*REDIS_RULES, CONSUMER_LAG):
                seen.unknown[rule] = f"Redis unreadable: {error.__class__.__name__}"
        try:
            self._read_sql(seen, enabled)
        except SQLAlchemyError as error:
            log.warning("alert sources: database unreadable: %s", error)
            for rule in SQL_RULES:
                seen.unknown[rule] = f"database unreadable: {error.__class__.__name__}"
        return seen

    def _group(self) -> str:
        return self.rules.consumer_lag.group or self.consumer_group

    # -- Redis ------------------------------------------------------------------------------

    def _read_redis(self, seen: Observations, enabled: set[str]) -> None:
        if CONSUMER_LAG in enabled:
            seen.consumer = read_heartbeat(self.query.client, self._group())
        model_rules = [rule for rule in REDIS_RULES if rule in enabled]
        if not model_rules:
            return
        before = read_model_state(self.query)
        if before.unusable is not None:
            for rule in model_rules:
                seen.unknown[rule] = before.unusable
            return
        self._read_model(seen, enabled)
        after = read_model_state(self.query)
        if after != before:  # a rebuild began or ended while the rules read
            reason = after.unusable or "read model rebuilt while it was read"
            for rule in model_rules:
                seen.unknown[rule] = reason
            seen.follow_ups_overdue = seen.decisions_at_risk = seen.decisions_breached = None
            seen.handler_loads = None

    def _read_model(self, seen: Observations, enabled: set[str]) -> None:
        now = seen.now
        lists: dict[str, list[DueCase]] = {}
        if FOLLOW_UP_OVERDUE in enabled:
            lists[FOLLOW_UP_OVERDUE] = self.query.overdue_follow_ups(now=now)
        if DECISION_AT_RISK in enabled:
            lists[DECISION_AT_RISK] = self.query.decisions_at_risk(now=now)
        if DECISION_BREACHED in enabled:
            lists[DECISION_BREACHED] = self.query.decisions_breached(now=now)
        case_ids = {due.case_id for rows in lists.values() for due in rows}
        states = self.query.case_states(sorted(case_ids))

        def observe(rows: Sequence[DueCase]) -> list[DueCaseObservation]:
            out = []
            for due in rows:
                state = states.get(due.case_id)
                if state is not None and not state.is_open:
                    continue
                out.append(
                    DueCaseObservation(
                        due.case_id,
                        due.due,
                        state.team_id if state else due.team_id,
                        state.handler_id if state else None,
                    )
                )
            return out

        if FOLLOW_UP_OVERDUE in lists:
            seen.follow_ups_overdue = observe(lists[FOLLOW_UP_OVERDUE])
        if DECISION_AT_RISK in lists:
            seen.decisions_at_risk = observe(lists[DECISION_AT_RISK])
        if DECISION_BREACHED in lists:
            seen.decisions_breached = observe(lists[DECISION_BREACHED])
        if HANDLER_OVERLOADED in enabled:
            seen.handler_loads = [
                HandlerLoadObservation(team.team_id, h.handler_id, h.open_cases, h.capacity)
                for team in self.query.workload(self.configured_handlers())
                for h in team.handlers
            ]

    # -- SQL ----------------------------------------------------------------------------------

    def _read_sql(self, seen: Observations, enabled: set[str]) -> None:
        now = seen.now
        with Session(self.engine) as session:
            if STAGE_SLA_BREACHED in enabled:
                seen.stages_over_target = self._stages_over_target(session, now)
            if MAJOR_COMPLAINT_OPENED in enabled:
                seen.majors = self._majors(session, now)

    def _stages_over_target(self, session: Session, now: float) -> list[StageObservation]:
        """One range scan of the (status, stage, stage_entered_at) index per stage."""
        out: list[StageObservation] = []
        for stage, hours in self.stage_targets.as_dict().items():
            statement = (
                select(Case.case_id, Case.stage_entered_at, Case.team_id, Case.handler_id)
                .where(
                    Case.status == "open",
                    Case.stage == stage,
                    Case.stage_entered_at < from_epoch(now - hours * 3600),
                )
                .order_by(Case.stage_entered_at)
            )
            out += [
                StageObservation(
                    row.case_id,
                    stage,
                    to_epoch(row.stage_entered_at),
                    hours,
                    row.team_id,
                    row.handler_id,
                )
                for row in session.execute(statement)
            ]
        return out

    def _majors(self, session: Session, now: float) -> list[MajorCaseObservation]:
        rule = self.rules.major_complaint_opened
        since = from_epoch(now - rule.lookback_hours * 3600)
        statement = (
            select(
                Case.case_id,
                Case.opened_at,
                Case.team_id,
                Case.handler_id,
                Case.priority,
                Case.group_size,
            )
            .where(
                Case.opened_at >= since,
                Case.status == "open",
                or_(Case.priority == "major", Case.group_size >= rule.group_size),
            )
            .order_by(Case.case_id)
        )
        return [
            MajorCaseObservation(
                row.case_id,
                to_epoch(row.opened_at),
                row.team_id,
                row.handler_id,
                row.priority,
                row.group_size,
            )
            for row in session.execute(statement)
        ]


@dataclass(frozen=True, slots=True)
class ReadModelState:
    """The read model's build marker (``built_at``) and why the model cannot be used, if so."""

    built_at: str | None
    unusable: str | None


def read_model_state(query: MetricsQuery) -> ReadModelState:
    """Whether the read model can be read: it has a build marker and no rebuild runs."""
    client = query.client
    raw = client.hget(keys.META, "built_at")
    built_at = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    if client.exists(keys.REBUILDING):
        return ReadModelState(built_at, "read model rebuild in progress")
    if built_at is None and not query.is_built():
        return ReadModelState(
            None, "read model not built (no build marker; run `complaintops rebuild`)"
        )
    return ReadModelState(built_at, None)


def _float(raw: dict[Any, Any], name: str) -> float | None:
    value = raw.get(name.encode(), raw.get(name))
    if value in (None, b"", ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_heartbeat(client: redis.Redis, group: str) -> ConsumerHeartbeat | None:
    """The consumer group's heartbeat, or None when there is none (source unknown)."""
    raw: dict[Any, Any] = client.hgetall(keys.CONSUMER_HEARTBEAT.format(group))
    ts = _float(raw, "ts")
    if ts is None:
        return None
    error = raw.get(b"error", raw.get("error", b""))
    return ConsumerHeartbeat(
        group=group,
        ts=ts,
        lag=int(_float(raw, "lag") or 0),
        batch_ts=_float(raw, "batch_ts"),
        error=error.decode(errors="replace") if isinstance(error, bytes) else str(error or ""),
        error_since=_float(raw, "error_since"),
    )
