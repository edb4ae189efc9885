"""The case state machine: check order, transitions and their effects (pure).

``apply(state, event, tz, rules)`` runs checks 2 to 4 of the contract on a
form-valid event (check 1 is ``events.decode``):

2. ``seq`` not above the case's last applied ``seq``: a duplicate (dropped);
3. the case's state rules: an invalid event (dead-lettered);
4. the event is applied: the new state and the flows it causes.

Nothing here does I/O; every sink, the rebuild, the reconciliation and the
tests use this one function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from zoneinfo import ZoneInfo

from events import contract as c
from events import scoring as s
from events.clock import deadline
from events.errors import InvalidEvent
from events.model import CaseEvent
from events.state import CLOSED, OPEN, CaseState, DecisionClock


class Outcome(Enum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class StageEntry:
    stage: str
    at: float


@dataclass(frozen=True, slots=True)
class StageExit:
    stage: str
    at: float
    seconds_in_stage: float


@dataclass(slots=True)
class Transition:
    """What applying one event did."""

    outcome: Outcome
    state: CaseState | None
    reason: str | None = None
    gap: int = 0  # how many seq numbers were skipped
    entered: list[StageEntry] = field(default_factory=list)
    exited: list[StageExit] = field(default_factory=list)
    awards: list[s.Award] = field(default_factory=list)


def apply(
    state: CaseState | None,
    event: CaseEvent,
    tz: ZoneInfo,
    rules: s.ScoringRules = s.DEFAULT_RULES,
) -> Transition:
    """Apply a form-valid event to a case's state (None for an unknown case).

    The given state is never modified; an applied transition carries a new one.
    """
    if state is not None and event.seq <= state.last_seq:
        return Transition(Outcome.DUPLICATE, state)
    try:
        _check_state(state, event)
    except InvalidEvent as exc:
        return Transition(Outcome.INVALID, state, reason=exc.reason)
    if state is None:
        return _open(event)
    new = state.copy()
    gap = event.seq - state.last_seq - 1
    new.last_seq = event.seq
    transition = Transition(Outcome.APPLIED, new, gap=gap)
    _HANDLERS[event.type](_Step(state, new, event, tz, rules, transition))
    return transition


def _check_state(state: CaseState | None, event: CaseEvent) -> None:
    etype = event.type
    if state is None:
        if etype != c.OPENED:
            raise InvalidEvent(f"unknown case '{event.case_id}': {etype} before case.opened")
        return
    if etype == c.OPENED:
        raise InvalidEvent(f"case '{event.case_id}' is already opened")
    if state.status == CLOSED and etype != c.REOPENED:
        raise InvalidEvent(f"case '{event.case_id}' is closed: {etype} needs case.reopened first")
    if etype == c.REOPENED and state.status == OPEN:
        raise InvalidEvent(f"case '{event.case_id}' is open and cannot be reopened")
    if etype == c.CLOCK_PAUSED and state.clock.paused_since is not None:
        raise InvalidEvent(f"the decision clock of case '{event.case_id}' is already paused")
    if etype == c.CLOCK_RESUMED and state.clock.paused_since is None:
        raise InvalidEvent(f"the decision clock of case '{event.case_id}' is not paused")
    if etype == c.STAGE_CHANGED and event.to_stage == state.stage:
        raise InvalidEvent(f"case '{event.case_id}' is already in stage '{state.stage}'")


def _open(event: CaseEvent) -> Transition:
    assert event.team_id and event.handler_id and event.channel
    assert event.category and event.product_line and event.priority
    start = event.received_at if event.received_at is not None else event.occurred_at
    state = CaseState(
        case_id=event.case_id,
        last_seq=event.seq,
        status=OPEN,
        stage="intake",
        stage_entered_at=event.occurred_at,
        team_id=event.team_id,
        handler_id=event.handler_id,
        opened_at=event.occurred_at,
        channel=event.channel,
        category=event.category,
        product_line=event.product_line,
        priority=event.priority,
        group_size=event.group_size,
        clock=DecisionClock(start=start, limit_days=c.BASE_LIMIT_DAYS),
    )
    return Transition(
        Outcome.APPLIED,
        state,
        entered=[StageEntry("intake", event.occurred_at)],
    )


# -- transitions ---------------------------------------------------------------


@dataclass(slots=True)
class _Step:
    """One event being applied: the state before (read only), the new state
    (to change), the event, the zone, the scoring rules and the transition."""

    before: CaseState
    new: CaseState
    event: CaseEvent
    tz: ZoneInfo
    rules: s.ScoringRules
    out: Transition

    def award(self, rule: str, points: float) -> None:
        """Credit the handler the case is assigned to when the event happens."""
        weighted = s.normalise_points(points * self.rules.weight(self.before.category))
        if weighted == 0:
            return
        self.out.awards.append(
            s.Award(
                rule=rule,
                points=weighted,
                event_id=self.event.event_id,
                case_id=self.event.case_id,
                handler_id=self.before.handler_id,
                team_id=self.before.team_id,
                occurred_at=self.event.occurred_at,
            )
        )

    def enter(self, stage: str) -> None:
        at = self.event.occurred_at
        self.new.stage = stage
        self.new.stage_entered_at = at
        self.out.entered.append(StageEntry(stage, at))

    def exit(self) -> None:
        at = self.event.occurred_at
        spent = max(0.0, at - self.before.stage_entered_at)
        self.out.exited.append(StageExit(self.before.stage, at, spent))


def _close_pause(clock: DecisionClock, at: float) -> None:
    """End a pause; its time counts only while the decision is still pending."""
    if clock.paused_since is not None and clock.decided_at is None:
        clock.paused_total += max(0.0, at - clock.paused_since)
    clock.paused_since = None


def _assigned(p: _Step) -> None:
    assert p.event.team_id and p.event.handler_id
    p.new.team_id = p.event.team_id
    p.new.handler_id = p.event.handler_id


def _stage_changed(p: _Step) -> None:
    to_stage = p.event.to_stage
    assert to_stage
    p.exit()
    p.enter(to_stage)
    if s.stage_is_rework(p.before.stage, to_stage):
        p.new.rework_count += 1
        p.award(s.REWORK, p.rules.rework)


def _clock_paused(p: _Step) -> None:
    p.new.clock.paused_since = p.event.occurred_at


def _clock_resumed(p: _Step) -> None:
    _close_pause(p.new.clock, p.event.occurred_at)


def _deadline_extended(p: _Step) -> None:
    assert p.event.tier is not None
    if p.before.clock.decided_at is not None:
        # The decision stopped the clock for good: its deadline is the one in
        # force when it was made (scoring-v1), so a later extension changes
        # nothing until a reopening asks for a new decision.
        return
    p.new.clock.limit_days = max(p.new.clock.limit_days, c.TIER_LIMIT_DAYS[p.event.tier])


def _decision_made(p: _Step) -> None:
    if p.before.clock.decided_at is not None:
        return  # only the first decision since opening or reopening scores
    at = p.event.occurred_at
    _close_pause(p.new.clock, at)
    p.new.clock.decided_at = at
    if at <= deadline(p.new.clock, p.tz):
        p.award(s.DECISION_ON_TIME, p.rules.decision_on_time)
    else:
        p.award(s.DECISION_LATE, p.rules.decision_late)


def _follow_up_scheduled(p: _Step) -> None:
    p.new.follow_up_due = p.event.due_at
    p.new.follow_up_done = False


def _satisfaction(p: _Step) -> None:
    """Rule 5: only the first satisfaction given for a case scores."""
    value = p.event.satisfaction
    if value is None or p.before.satisfaction_given:
        return
    p.new.satisfaction_given = True
    p.award(s.SATISFACTION, p.rules.satisfaction.get(value, 0))


def _follow_up_done(p: _Step) -> None:
    due = p.before.follow_up_due
    if due is not None and not p.before.follow_up_done:
        p.new.follow_up_done = True
        if p.event.occurred_at <= due:
            p.award(s.FOLLOW_UP_ON_TIME, p.rules.follow_up_on_time)
        else:
            p.award(s.FOLLOW_UP_LATE, p.rules.follow_up_late)
    _satisfaction(p)


def _escalated(p: _Step) -> None:
    if p.event.to == "regulator":
        p.new.escalated_to_regulator = True
        p.award(s.ESCALATED_TO_REGULATOR, p.rules.escalated_to_regulator)


def _closed(p: _Step) -> None:
    p.exit()
    p.new.status = CLOSED
    p.new.closed_at = p.event.occurred_at
    _close_pause(p.new.clock, p.event.occurred_at)
    _satisfaction(p)


def _reopened(p: _Step) -> None:
    p.new.status = OPEN
    p.new.closed_at = None
    p.new.reopen_count += 1
    if p.event.new_facts:
        # Rule R4: new facts restart the limit from their receipt.
        p.new.clock = DecisionClock(start=p.event.occurred_at, limit_days=c.REOPEN_LIMIT_DAYS)
    else:
        p.new.clock.decided_at = None
    p.enter("investigation")
    p.award(s.REOPENED, p.rules.reopened)


_HANDLERS = {
    c.ASSIGNED: _assigned,
    c.STAGE_CHANGED: _stage_changed,
    c.CLOCK_PAUSED: _clock_paused,
    c.CLOCK_RESUMED: _clock_resumed,
    c.DEADLINE_EXTENDED: _deadline_extended,
    c.DECISION_MADE: _decision_made,
    c.FOLLOW_UP_SCHEDULED: _follow_up_scheduled,
    c.FOLLOW_UP_DONE: _follow_up_done,
    c.ESCALATED: _escalated,
    c.CLOSED: _closed,
    c.REOPENED: _reopened,
}
