"""Contract-valid case events (case-events-v1.md) for tests, with overrides.

``make_event`` builds the JSON object of one event: the fields every event
needs, the required fields of its type, optionally all optional fields, then
``overrides`` on top and ``omit`` taken away. ``CaseScript`` numbers the
events of one case; ``apply_all`` runs events through decode and the state
machine as a sink would.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from events import contract as c
from events.decode import decode
from events.machine import Outcome, Transition, apply
from events.model import CaseEvent
from events.scoring import DEFAULT_RULES, ScoringRules
from events.state import CaseState
from events.timeutil import parse_rfc3339

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")

CASE_ID = "C2026-000123"
OPENED_AT = "2026-11-24T09:30:00+08:00"

REQUIRED_FIELDS: dict[str, dict[str, Any]] = {
    c.OPENED: {
        "team_id": "claims-east",
        "handler_id": "h-017",
        "channel": "phone",
        "category": "claims",
        "product_line": "auto",
    },
    c.ASSIGNED: {"team_id": "claims-west", "handler_id": "h-042"},
    c.STAGE_CHANGED: {"to_stage": "investigation"},
    c.CLOCK_PAUSED: {"reason": "external_appraisal"},
    c.CLOCK_RESUMED: {},
    c.DEADLINE_EXTENDED: {"tier": 1},
    c.DECISION_MADE: {},
    c.FOLLOW_UP_SCHEDULED: {"due_at": "2026-12-20T18:00:00+08:00"},
    c.FOLLOW_UP_DONE: {},
    c.ESCALATED: {"to": "senior_management"},
    c.CLOSED: {"resolution": "resolved"},
    c.REOPENED: {},
}

OPTIONAL_FIELDS: dict[str, dict[str, Any]] = {
    c.OPENED: {
        "priority": "urgent",
        "received_at": "2026-11-23T17:45:00+08:00",
        "complainant": {"gender": "f", "age_band": "45-59", "occupation": "教师", "repeat": False},
        "group_size": 3,
    },
    c.ASSIGNED: {},
    c.STAGE_CHANGED: {},
    c.CLOCK_PAUSED: {},
    c.CLOCK_RESUMED: {},
    c.DEADLINE_EXTENDED: {"approved_by": "m-001"},
    c.DECISION_MADE: {"outcome": "partially_upheld"},
    c.FOLLOW_UP_SCHEDULED: {},
    c.FOLLOW_UP_DONE: {"satisfaction": 4},
    c.ESCALATED: {},
    c.CLOSED: {"satisfaction": 5},
    c.REOPENED: {"new_facts": True},
}

_event_numbers = itertools.count(1)


def make_event(
    event_type: str = c.OPENED,
    *,
    full: bool = False,
    omit: Iterable[str] = (),
    **overrides: Any,
) -> dict[str, Any]:
    """The JSON object of one contract-valid event of ``event_type``.

    ``full`` adds every optional field (``actor`` included); ``overrides``
    replace or add fields; the names in ``omit`` are removed last.
    """
    event: dict[str, Any] = {
        "schema": c.SCHEMA,
        "event_id": f"e-{next(_event_numbers):06d}",
        "case_id": CASE_ID,
        "seq": 1,
        "type": event_type,
        "occurred_at": OPENED_AT,
    }
    event.update(REQUIRED_FIELDS.get(event_type, {}))
    if full:
        event["actor"] = "u-001"
        event.update(OPTIONAL_FIELDS.get(event_type, {}))
    event.update(overrides)
    for name in omit:
        event.pop(name, None)
    return event


def encode(event: Mapping[str, Any]) -> bytes:
    """The record value of an event, as a producer would send it."""
    return orjson.dumps(dict(event))


def decoded(event_type: str = c.OPENED, **kwargs: Any) -> CaseEvent:
    """A form-valid ``CaseEvent``, through the real decoder."""
    return decode(encode(make_event(event_type, **kwargs)))


def instant(text: str) -> float:
    """Epoch seconds of an RFC 3339 time stamp."""
    return parse_rfc3339(text)


class CaseScript:
    """The events of one case, numbered 1, 2, 3, ... in the order written."""

    def __init__(self, case_id: str = CASE_ID) -> None:
        self.case_id = case_id
        self.seq = 0

    def next(self, event_type: str, at: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        return make_event(event_type, case_id=self.case_id, seq=self.seq, occurred_at=at, **fields)

    def opened(self, at: str = OPENED_AT, **fields: Any) -> dict[str, Any]:
        return self.next(c.OPENED, at, **fields)


def apply_all(
    events: Iterable[Mapping[str, Any] | CaseEvent],
    tz: ZoneInfo = SHANGHAI,
    rules: ScoringRules = DEFAULT_RULES,
    state: CaseState | None = None,
) -> tuple[CaseState | None, list[Transition]]:
    """Apply events of one case in order; return the final state and every transition."""
    transitions: list[Transition] = []
    for item in events:
        event = item if isinstance(item, CaseEvent) else decode(encode(item))
        transition = apply(state, event, tz, rules)
        if transition.outcome is Outcome.APPLIED:
            state = transition.state
        transitions.append(transition)
    return state, transitions


def final_state(
    events: Iterable[Mapping[str, Any] | CaseEvent],
    tz: ZoneInfo = SHANGHAI,
    rules: ScoringRules = DEFAULT_RULES,
    state: CaseState | None = None,
) -> CaseState:
    """The state after applying every event; fails when there is none."""
    state, _ = apply_all(events, tz, rules, state)
    assert state is not None, "no event was applied"
    return state
