"""What a case contributes to the live metrics, derived from its state (pure).

Sinks never track increments by hand: they compare the footprint of a case
before and after an event and move its contributions (work in progress,
clock and return-visit indexes) accordingly. The rebuild and the
reconciliation sum the same footprints.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from events.clock import deadline_base, running_deadline
from events.state import CaseState


@dataclass(frozen=True, slots=True)
class Footprint:
    """The live contributions of an open case."""

    stage: str
    team_id: str
    handler_id: str
    # Deadline of a running, undecided decision clock (epoch seconds).
    deadline: float | None
    # For a paused, undecided clock: deadline base (start + limit in natural
    # days + paused time before this pause) and the start of the pause. The
    # deadline at a moment t is end_of_day(base + (t - paused_since)).
    paused: tuple[float, float] | None
    # Due time of the latest scheduled return visit that is not done.
    follow_up_due: float | None
    major: bool
    urgent: bool
    regulator: bool
    # When the case was opened (its place in the ageing index).
    opened_at: float


def footprint(state: CaseState | None, tz: ZoneInfo) -> Footprint | None:
    """None for an unknown or closed case."""
    if state is None or not state.is_open:
        return None
    clock = state.clock
    paused = None
    if clock.decided_at is None and clock.paused_since is not None:
        paused = (deadline_base(clock, tz), clock.paused_since)
    return Footprint(
        stage=state.stage,
        team_id=state.team_id,
        handler_id=state.handler_id,
        deadline=running_deadline(clock, tz),
        paused=paused,
        follow_up_due=state.follow_up_due if not state.follow_up_done else None,
        major=state.is_major,
        urgent=state.priority == "urgent",
        regulator=state.escalated_to_regulator,
        opened_at=state.opened_at,
    )
