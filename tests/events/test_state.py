"""CaseState copies and serialisation."""

from __future__ import annotations

from dataclasses import fields

from events.state import CaseState, DecisionClock


def every_field_set() -> CaseState:
    values = {}
    for i, f in enumerate(fields(CaseState)):
        values[f.name] = {"clock": DecisionClock(1.0, 30, 5.0, 7.0, 9.0)}.get(f.name, f"v{i}")
    return CaseState(**values)


def test_copy_keeps_every_field_and_shares_no_clock() -> None:
    state = every_field_set()
    copied = state.copy()
    assert copied == state
    for f in fields(CaseState):
        assert getattr(copied, f.name) == getattr(state, f.name), f.name
    copied.clock.paused_total = 99.0
    assert state.clock.paused_total == 5.0


def test_json_round_trip() -> None:
    state = every_field_set()
    assert CaseState.from_json(state.to_json()) == state
