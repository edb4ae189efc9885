"""A decoded, form-valid case event."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Complainant:
    """投诉人画像: never a name, phone or ID number."""

    gender: str | None = None
    age_band: str | None = None
    occupation: str | None = None
    repeat: bool | None = None


@dataclass(frozen=True, slots=True)
class CaseEvent:
    """One event of the contract, with its timestamps as epoch seconds.

    Type-specific fields are None when the type does not carry them.
    ``payload`` is the decoded JSON object, kept for the event log.
    """

    event_id: str
    case_id: str
    seq: int
    type: str
    occurred_at: float
    occurred_at_text: str
    actor: str | None = None
    # case.opened / case.assigned
    team_id: str | None = None
    handler_id: str | None = None
    channel: str | None = None
    category: str | None = None
    product_line: str | None = None
    priority: str | None = None
    received_at: float | None = None
    complainant: Complainant | None = None
    group_size: int | None = None
    # case.stage_changed
    to_stage: str | None = None
    # case.clock_paused
    reason: str | None = None
    # case.deadline_extended
    tier: int | None = None
    approved_by: str | None = None
    # case.decision_made
    outcome: str | None = None
    # case.follow_up_scheduled
    due_at: float | None = None
    # case.follow_up_done / case.closed
    satisfaction: int | None = None
    # case.escalated
    to: str | None = None
    # case.closed
    resolution: str | None = None
    # case.reopened
    new_facts: bool | None = None
    payload: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
