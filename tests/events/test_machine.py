"""The case state machine: the contract's check order, state rules and effects."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from events import contract as c
from events.batch import RawRecord, decode_all, run_batch
from events.decode import decode
from events.machine import Outcome, StageEntry, StageExit, apply
from events.state import CaseState
from tests.events.factory import (
    CASE_ID,
    SHANGHAI,
    CaseScript,
    apply_all,
    decoded,
    encode,
    final_state,
    instant,
    make_event,
)

T0 = "2026-11-24T09:30:00+08:00"
T1 = "2026-11-25T10:00:00+08:00"
T2 = "2026-11-26T11:00:00+08:00"
T3 = "2026-11-27T12:00:00+08:00"
T4 = "2026-11-28T13:00:00+08:00"
T5 = "2026-11-29T14:00:00+08:00"


def opened_case() -> tuple[CaseScript, CaseState]:
    script = CaseScript()
    return script, final_state([script.opened(T0)])


def closed_case() -> tuple[CaseScript, CaseState]:
    script = CaseScript()
    state = final_state([script.opened(T0), script.next(c.CLOSED, T1)])
    return script, state


def paused_case() -> tuple[CaseScript, CaseState]:
    script = CaseScript()
    state = final_state([script.opened(T0), script.next(c.CLOCK_PAUSED, T1)])
    return script, state


def records(*events: dict[str, Any] | bytes | None) -> list[RawRecord]:
    return [
        RawRecord(
            "complaints.case-events",
            0,
            offset,
            encode(event) if isinstance(event, dict) else event,
        )
        for offset, event in enumerate(events)
    ]


# -- (1) form beats everything ----------------------------------------------------


def test_a_malformed_event_for_an_unknown_case_is_a_form_error() -> None:
    malformed = make_event(c.ASSIGNED, seq=5, case_id="C-unknown", omit=["handler_id"])

    batch = run_batch(decode_all(records(malformed)), {}, SHANGHAI)

    [result] = batch.results
    assert result.outcome is Outcome.INVALID
    assert result.reason == "missing field 'handler_id'"


def test_a_malformed_event_with_an_old_seq_is_invalid_not_a_duplicate() -> None:
    script, state = opened_case()
    script.next(c.STAGE_CHANGED, T1)
    malformed = make_event(c.STAGE_CHANGED, seq=1, to_stage="archive")

    batch = run_batch(decode_all(records(malformed)), {CASE_ID: state}, SHANGHAI)

    [result] = batch.results
    assert result.outcome is Outcome.INVALID
    assert result.reason is not None and "field 'to_stage'" in result.reason


def test_a_malformed_case_opened_of_a_known_case_is_invalid_not_a_duplicate() -> None:
    _, state = opened_case()
    malformed = make_event(c.OPENED, channel="fax")

    batch = run_batch(decode_all(records(malformed)), {CASE_ID: state}, SHANGHAI)

    assert batch.results[0].outcome is Outcome.INVALID
    assert batch.states[CASE_ID] is state


# -- (2) duplicates before state ---------------------------------------------------


def test_an_old_seq_for_a_closed_case_is_a_duplicate_not_invalid() -> None:
    script = CaseScript()
    opened = script.opened(T0)
    assigned = script.next(c.ASSIGNED, T1)
    closed = script.next(c.CLOSED, T2)
    state, transitions = apply_all([opened, assigned, closed, assigned])

    assert transitions[-1].outcome is Outcome.DUPLICATE
    assert transitions[-1].reason is None
    assert state is not None and state.status == "closed"


def test_an_old_case_opened_is_a_duplicate() -> None:
    script = CaseScript()
    opened = script.opened(T0)
    _, transitions = apply_all([opened, script.next(c.ASSIGNED, T1), opened])

    assert [t.outcome for t in transitions] == [
        Outcome.APPLIED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
    ]


def test_a_second_case_opened_with_another_event_id_is_a_duplicate() -> None:
    # case.opened always carries seq 1, so a second opening is never above
    # the case's last applied seq.
    _, transitions = apply_all([make_event(event_id="e-a"), make_event(event_id="e-b")])

    assert transitions[1].outcome is Outcome.DUPLICATE


@pytest.mark.parametrize(
    ("history", "stale"),
    [
        # An old stage change to the stage the case is in now.
        (
            [(c.STAGE_CHANGED, T1, {"to_stage": "investigation"})],
            (1, c.STAGE_CHANGED, {"to_stage": "investigation"}),
        ),
        # An old pause while the clock is paused.
        ([(c.CLOCK_PAUSED, T1, {})], (2, c.CLOCK_PAUSED, {})),
        # An old resume while the clock is running.
        ([(c.CLOCK_PAUSED, T1, {}), (c.CLOCK_RESUMED, T2, {})], (3, c.CLOCK_RESUMED, {})),
        # An old reopening of an open case.
        ([(c.CLOSED, T1, {}), (c.REOPENED, T2, {})], (3, c.REOPENED, {})),
        # The same seq as the last applied one.
        ([(c.ASSIGNED, T1, {})], (2, c.ASSIGNED, {})),
    ],
)
def test_a_stale_event_that_would_break_a_state_rule_is_a_duplicate(
    history: list[tuple[str, str, dict[str, Any]]], stale: tuple[int, str, dict[str, Any]]
) -> None:
    script = CaseScript()
    events = [script.opened(T0)] + [script.next(t, at, **f) for t, at, f in history]
    seq, etype, fields = stale
    state, transitions = apply_all([*events, make_event(etype, seq=seq, **fields)])

    assert transitions[-1].outcome is Outcome.DUPLICATE
    assert state is not None and state.last_seq == script.seq


def test_duplicates_arriving_after_later_events_change_nothing() -> None:
    script = CaseScript()
    events = [
        script.opened(T0),
        script.next(c.STAGE_CHANGED, T1, to_stage="investigation"),
        script.next(c.ASSIGNED, T2, team_id="claims-west", handler_id="h-042"),
        script.next(c.DECISION_MADE, T3),
    ]
    state, _ = apply_all(events)
    assert state is not None
    before = state.to_dict()

    for event in (events[1], events[0], events[3], events[2]):
        transition = apply(state, decode(encode(event)), SHANGHAI)
        assert transition.outcome is Outcome.DUPLICATE
        assert transition.state is state
        assert transition.awards == []
        assert transition.entered == [] and transition.exited == []

    assert state.to_dict() == before


# -- (3) state rules ---------------------------------------------------------------


@pytest.mark.parametrize("event_type", [t for t in c.EVENT_TYPES if t != c.OPENED])
def test_any_type_but_case_opened_for_an_unknown_case_is_invalid(event_type: str) -> None:
    transition = apply(None, decoded(event_type, seq=1), SHANGHAI)

    assert transition.outcome is Outcome.INVALID
    assert transition.state is None
    assert transition.reason == f"unknown case '{CASE_ID}': {event_type} before case.opened"


def test_opening_an_opened_case_again_is_invalid_when_its_seq_is_new() -> None:
    # Not reachable through decode (case.opened has seq 1); the machine still
    # refuses it for callers that build events themselves.
    _, state = opened_case()
    second = dataclasses.replace(decoded(c.OPENED), seq=2)

    transition = apply(state, second, SHANGHAI)

    assert transition.outcome is Outcome.INVALID
    assert transition.reason == f"case '{CASE_ID}' is already opened"


@pytest.mark.parametrize(
    "event_type", [t for t in c.EVENT_TYPES if t not in (c.OPENED, c.REOPENED)]
)
def test_any_change_of_a_closed_case_but_reopening_is_invalid(event_type: str) -> None:
    script, state = closed_case()

    transition = apply(state, decoded(event_type, seq=script.seq + 1), SHANGHAI)

    assert transition.outcome is Outcome.INVALID
    assert transition.reason == (
        f"case '{CASE_ID}' is closed: {event_type} needs case.reopened first"
    )
    assert transition.state is state


def test_reopening_a_closed_case_is_applied() -> None:
    script, state = closed_case()

    transition = apply(state, decoded(c.REOPENED, seq=script.seq + 1), SHANGHAI)

    assert transition.outcome is Outcome.APPLIED
    assert transition.state is not None and transition.state.status == "open"


@pytest.mark.parametrize(
    ("setup", "event_type", "fields", "reason"),
    [
        ("opened", c.REOPENED, {}, f"case '{CASE_ID}' is open and cannot be reopened"),
        (
            "paused",
            c.CLOCK_PAUSED,
            {"reason": "mediation"},
            f"the decision clock of case '{CASE_ID}' is already paused",
        ),
        ("opened", c.CLOCK_RESUMED, {}, f"the decision clock of case '{CASE_ID}' is not paused"),
        (
            "opened",
            c.STAGE_CHANGED,
            {"to_stage": "intake"},
            f"case '{CASE_ID}' is already in stage 'intake'",
        ),
    ],
)
def test_state_rules(setup: str, event_type: str, fields: dict[str, Any], reason: str) -> None:
    script, state = paused_case() if setup == "paused" else opened_case()

    transition = apply(state, decoded(event_type, seq=script.seq + 1, **fields), SHANGHAI)

    assert transition.outcome is Outcome.INVALID
    assert transition.reason == reason
    assert transition.state is state


def test_resuming_a_running_clock_after_the_decision_is_invalid() -> None:
    script = CaseScript()
    _, transitions = apply_all(
        [
            script.opened(T0),
            script.next(c.DECISION_MADE, T1),
            script.next(c.CLOCK_RESUMED, T2),
        ]
    )

    assert transitions[-1].outcome is Outcome.INVALID


def test_moving_to_the_current_stage_after_other_moves_is_invalid() -> None:
    script = CaseScript()
    _, transitions = apply_all(
        [
            script.opened(T0),
            script.next(c.STAGE_CHANGED, T1, to_stage="resolution"),
            script.next(c.STAGE_CHANGED, T2, to_stage="resolution"),
        ]
    )

    assert transitions[-1].outcome is Outcome.INVALID
    assert transitions[-1].reason == f"case '{CASE_ID}' is already in stage 'resolution'"


def test_a_reopened_case_is_in_investigation_so_moving_there_is_invalid() -> None:
    script = CaseScript()
    _, transitions = apply_all(
        [
            script.opened(T0),
            script.next(c.CLOSED, T1),
            script.next(c.REOPENED, T2),
            script.next(c.STAGE_CHANGED, T3, to_stage="investigation"),
        ]
    )

    assert transitions[-1].outcome is Outcome.INVALID


# -- seq: invalid events, gaps -------------------------------------------------------


def test_an_invalid_event_does_not_advance_seq_so_the_next_one_counts_a_gap() -> None:
    script = CaseScript()
    state, transitions = apply_all(
        [
            script.opened(T0),
            script.next(c.CLOCK_RESUMED, T1),  # seq 2: invalid, the clock runs
            script.next(c.ASSIGNED, T2),  # seq 3
        ]
    )

    assert [t.outcome for t in transitions] == [
        Outcome.APPLIED,
        Outcome.INVALID,
        Outcome.APPLIED,
    ]
    assert transitions[1].state is not None and transitions[1].state.last_seq == 1
    assert transitions[2].gap == 1
    assert state is not None and state.last_seq == 3


def test_an_invalid_event_can_be_sent_again_corrected_with_the_same_seq() -> None:
    script = CaseScript()
    opened = script.opened(T0)
    wrong = script.next(c.STAGE_CHANGED, T1, to_stage="intake")
    corrected = make_event(c.STAGE_CHANGED, seq=wrong["seq"], occurred_at=T1, to_stage="review")

    state, transitions = apply_all([opened, wrong, corrected])

    assert [t.outcome for t in transitions][1:] == [Outcome.INVALID, Outcome.APPLIED]
    assert transitions[2].gap == 0
    assert state is not None and state.stage == "review"


@pytest.mark.parametrize(
    ("seqs", "gaps"),
    [
        ([1, 2, 3, 4], [0, 0, 0, 0]),
        ([1, 3], [0, 1]),
        ([1, 5], [0, 3]),
        ([1, 2, 10, 11, 13], [0, 0, 7, 0, 1]),
        ([1, 1000], [0, 998]),
    ],
)
def test_gaps_are_counted_with_their_size(seqs: list[int], gaps: list[int]) -> None:
    events = [make_event(occurred_at=T0)] + [
        make_event(c.ASSIGNED, seq=seq, occurred_at=T1) for seq in seqs[1:]
    ]

    state, transitions = apply_all(events)

    assert all(t.outcome is Outcome.APPLIED for t in transitions)
    assert [t.gap for t in transitions] == gaps
    assert state is not None and state.last_seq == seqs[-1]


def test_a_late_event_below_a_gap_is_a_duplicate() -> None:
    _, transitions = apply_all(
        [
            make_event(occurred_at=T0),
            make_event(c.ASSIGNED, seq=4, occurred_at=T2),
            make_event(c.ASSIGNED, seq=3, occurred_at=T1),
        ]
    )

    assert transitions[2].outcome is Outcome.DUPLICATE


# -- (4) effects ----------------------------------------------------------------


def test_opening_creates_an_open_case_in_intake() -> None:
    transition = apply(None, decoded(c.OPENED, full=True, occurred_at=T1), SHANGHAI)

    state = transition.state
    assert transition.outcome is Outcome.APPLIED
    assert state is not None
    assert (state.status, state.stage, state.last_seq) == ("open", "intake", 1)
    assert (state.team_id, state.handler_id) == ("claims-east", "h-017")
    assert (state.channel, state.category, state.product_line) == ("phone", "claims", "auto")
    assert (state.priority, state.group_size) == ("urgent", 3)
    assert state.opened_at == instant(T1)
    assert state.stage_entered_at == instant(T1)
    assert state.clock.start == instant("2026-11-23T17:45:00+08:00")  # received_at
    assert state.clock.limit_days == 15
    assert transition.entered == [StageEntry("intake", instant(T1))]
    assert transition.exited == []
    assert transition.gap == 0


def test_the_clock_starts_at_occurred_at_without_received_at() -> None:
    state = final_state([make_event(occurred_at=T1)])

    assert state.clock.start == instant(T1)


def test_assignment_moves_the_case_to_another_team_and_handler() -> None:
    script = CaseScript()
    state = final_state(
        [script.opened(T0), script.next(c.ASSIGNED, T1, team_id="sales-north", handler_id="h-9")]
    )

    assert (state.team_id, state.handler_id) == ("sales-north", "h-9")


def test_a_stage_change_exits_the_old_stage_and_enters_the_new_one() -> None:
    script = CaseScript()
    _, transitions = apply_all(
        [
            script.opened(T0),
            script.next(c.STAGE_CHANGED, T1, to_stage="resolution"),
            script.next(c.STAGE_CHANGED, T2, to_stage="investigation"),
        ]
    )

    assert transitions[1].exited == [StageExit("intake", instant(T1), instant(T1) - instant(T0))]
    assert transitions[1].entered == [StageEntry("resolution", instant(T1))]
    assert transitions[2].exited == [
        StageExit("resolution", instant(T2), instant(T2) - instant(T1))
    ]
    state = transitions[2].state
    assert state is not None
    assert (state.stage, state.stage_entered_at, state.rework_count) == (
        "investigation",
        instant(T2),
        1,
    )


def test_an_event_dated_before_the_stage_entry_counts_no_negative_time() -> None:
    script = CaseScript()
    _, transitions = apply_all(
        [script.opened(T1), script.next(c.STAGE_CHANGED, T0, to_stage="review")]
    )

    assert transitions[1].exited[0].seconds_in_stage == 0


def test_closing_exits_the_stage_and_reopening_enters_investigation() -> None:
    script = CaseScript()
    _, transitions = apply_all(
        [
            script.opened(T0),
            script.next(c.STAGE_CHANGED, T1, to_stage="review"),
            script.next(c.CLOSED, T2, resolution="withdrawn"),
            script.next(c.REOPENED, T3),
        ]
    )

    closing, reopening = transitions[2], transitions[3]
    assert closing.exited == [StageExit("review", instant(T2), instant(T2) - instant(T1))]
    assert closing.entered == []
    assert closing.state is not None
    assert (closing.state.status, closing.state.closed_at) == ("closed", instant(T2))
    assert reopening.entered == [StageEntry("investigation", instant(T3))]
    assert reopening.exited == []
    assert reopening.state is not None
    assert reopening.state.status == "open"
    assert reopening.state.closed_at is None
    assert reopening.state.reopen_count == 1


def test_escalation_to_the_regulator_marks_the_case() -> None:
    script = CaseScript()
    state = final_state(
        [
            script.opened(T0),
            script.next(c.ESCALATED, T1, to="internal_review"),
        ]
    )
    assert not state.escalated_to_regulator

    state = final_state([script.next(c.ESCALATED, T2, to="regulator")], state=state)
    assert state.escalated_to_regulator


def test_apply_never_changes_the_given_state() -> None:
    script = CaseScript()
    state = final_state([script.opened(T0), script.next(c.CLOCK_PAUSED, T1)])
    before = state.to_dict()

    changes: list[tuple[str, dict[str, Any]]] = [
        (c.CLOCK_RESUMED, {}),
        (c.STAGE_CHANGED, {"to_stage": "review"}),
        (c.DEADLINE_EXTENDED, {"tier": 2, "approved_by": "m-1"}),
        (c.DECISION_MADE, {}),
        (c.FOLLOW_UP_SCHEDULED, {}),
        (c.CLOSED, {"satisfaction": 2}),
        (c.ASSIGNED, {}),
    ]
    for event_type, fields in changes:
        transition = apply(state, decoded(event_type, seq=3, occurred_at=T3, **fields), SHANGHAI)
        assert transition.outcome is Outcome.APPLIED
        assert transition.state is not state

    assert state.to_dict() == before


def test_the_state_survives_serialisation() -> None:
    script = CaseScript()
    state = final_state(
        [
            script.opened(T0, full=True),
            script.next(c.CLOCK_PAUSED, T1),
            script.next(c.FOLLOW_UP_SCHEDULED, T2),
            script.next(c.ESCALATED, T3, to="regulator"),
            script.next(c.STAGE_CHANGED, T4, to_stage="feedback"),
        ]
    )

    assert CaseState.from_json(state.to_json()) == state


def test_a_case_opened_late_in_the_accepted_years_computes_its_deadlines() -> None:
    script = CaseScript()
    state, transitions = apply_all(
        [
            script.opened("8999-12-31T23:59:59+08:00"),
            script.next(c.DEADLINE_EXTENDED, "8999-12-31T23:59:59+08:00", tier=2, approved_by="m"),
            script.next(c.CLOCK_PAUSED, "8999-12-31T23:59:59+08:00"),
            script.next(c.DECISION_MADE, "8999-12-31T23:59:59+08:00"),
        ]
    )

    assert all(t.outcome is Outcome.APPLIED for t in transitions)
    assert state is not None and state.clock.decided_at is not None
