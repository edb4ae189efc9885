"""Running a batch of records through decode and the state machine."""

from __future__ import annotations

from typing import Any

from events import contract as c
from events.batch import BatchResult, RawRecord, RecordResult, case_ids, decode_all, run_batch
from events.machine import Outcome
from events.state import CaseState
from tests.events.factory import SHANGHAI, CaseScript, encode, final_state

T0 = "2026-11-24T09:30:00+08:00"
T1 = "2026-11-25T10:00:00+08:00"
T2 = "2026-11-26T11:00:00+08:00"
T3 = "2026-11-27T12:00:00+08:00"
T4 = "2026-11-28T13:00:00+08:00"


def records(*values: dict[str, Any] | bytes | None) -> list[RawRecord]:
    out: list[RawRecord] = []
    for offset, value in enumerate(values):
        raw = encode(value) if isinstance(value, dict) else value
        out.append(RawRecord("complaints.case-events", 1, 100 + offset, raw))
    return out


def batch_of(
    *values: dict[str, Any] | bytes | None, states: dict[str, CaseState | None] | None = None
) -> BatchResult:
    return run_batch(decode_all(records(*values)), states or {}, SHANGHAI)


def test_states_are_threaded_through_several_events_of_one_case() -> None:
    script = CaseScript("C-A")
    events = [
        script.opened(T0),
        script.next(c.ASSIGNED, T1, team_id="claims-west", handler_id="h-042"),
        script.next(c.STAGE_CHANGED, T2, to_stage="resolution"),
        script.next(c.DECISION_MADE, T3),
        script.next(c.CLOSED, T4, satisfaction=5),
    ]

    batch = run_batch(decode_all(records(*events)), {}, SHANGHAI)

    assert [r.outcome for r in batch.results] == [Outcome.APPLIED] * 5
    befores = [r.before for r in batch.results]
    assert befores[0] is None
    for result, previous in zip(batch.results[1:], batch.results, strict=False):
        assert previous.transition is not None
        assert result.before is previous.transition.state
    final = batch.states["C-A"]
    assert final is not None
    assert (final.status, final.stage, final.last_seq) == ("closed", "resolution", 5)
    assert (final.handler_id, final.team_id) == ("h-042", "claims-west")
    # the decision and the satisfaction credit the handler assigned in the same batch
    awards = [a for r in batch.results if r.transition for a in r.transition.awards]
    assert [(a.rule, a.handler_id) for a in awards] == [
        ("decision_on_time", "h-042"),
        ("satisfaction", "h-042"),
    ]
    assert batch.initial == {}
    assert batch.changed_cases == ["C-A"]


def test_interleaved_cases_keep_their_own_states() -> None:
    a, b = CaseScript("C-A"), CaseScript("C-B")
    batch = batch_of(
        a.opened(T0),
        b.opened(T0),
        b.next(c.STAGE_CHANGED, T1, to_stage="review"),
        a.next(c.STAGE_CHANGED, T1, to_stage="investigation"),
        b.next(c.CLOSED, T2),
    )

    assert batch.count(Outcome.APPLIED) == 5
    state_a, state_b = batch.states["C-A"], batch.states["C-B"]
    assert state_a is not None and state_b is not None
    assert (state_a.stage, state_a.status) == ("investigation", "open")
    assert (state_b.stage, state_b.status) == ("review", "closed")
    assert sorted(batch.changed_cases) == ["C-A", "C-B"]


def test_invalid_records_are_reported_and_do_not_stop_the_batch() -> None:
    script = CaseScript()
    batch = batch_of(
        b"{not json",
        None,
        b"[]",
        script.opened(T0),
        script.next(c.CLOCK_RESUMED, T1),  # the clock is running
        script.next(c.ASSIGNED, T2),
    )

    outcomes = [r.outcome for r in batch.results]
    assert outcomes == [
        Outcome.INVALID,
        Outcome.INVALID,
        Outcome.INVALID,
        Outcome.APPLIED,
        Outcome.INVALID,
        Outcome.APPLIED,
    ]
    reasons = [r.reason for r in batch.results]
    assert reasons[0] is not None and reasons[0].startswith("not JSON: ")
    assert reasons[1] == "empty record value (tombstone)"
    assert reasons[2] == "event is not a JSON object"
    assert reasons[4] == "the decision clock of case 'C2026-000123' is not paused"
    assert [r.event is None for r in batch.results[:3]] == [True, True, True]
    assert [r.record.offset for r in batch.results] == [100, 101, 102, 103, 104, 105]
    assert batch.count(Outcome.INVALID) == 4
    # the state-invalid seq 2 did not advance the case: seq 3 counts a gap
    last = batch.results[5].transition
    assert last is not None and last.gap == 1
    assert batch.gaps == 1


def test_duplicates_inside_a_batch_are_dropped() -> None:
    script = CaseScript()
    opened = script.opened(T0)
    stage = script.next(c.STAGE_CHANGED, T1, to_stage="investigation")
    escalated = script.next(c.ESCALATED, T2, to="regulator")

    batch = batch_of(opened, stage, opened, escalated, stage, escalated)

    assert [r.outcome for r in batch.results] == [
        Outcome.APPLIED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.DUPLICATE,
    ]
    assert batch.count(Outcome.DUPLICATE) == 3
    assert [r.reason for r in batch.results if r.outcome is Outcome.DUPLICATE] == [None] * 3
    awards = [a for r in batch.results if r.transition for a in r.transition.awards]
    assert len(awards) == 1


def test_a_batch_continues_from_the_states_given_and_leaves_them_untouched() -> None:
    script = CaseScript()
    known = final_state([script.opened(T0), script.next(c.CLOCK_PAUSED, T1)])
    snapshot = known.to_dict()
    given: dict[str, CaseState | None] = {script.case_id: known}

    batch = batch_of(script.next(c.CLOCK_RESUMED, T2), states=given)

    assert batch.results[0].outcome is Outcome.APPLIED
    assert batch.results[0].before is known
    assert batch.initial == {script.case_id: known}
    after = batch.states[script.case_id]
    assert after is not None and after is not known
    assert after.clock.paused_since is None
    assert known.to_dict() == snapshot
    assert given == {script.case_id: known}


def test_only_cases_with_applied_events_are_changed() -> None:
    script = CaseScript()
    known = final_state([script.opened(T0)])
    unknown_event = CaseScript("C-unknown").next(c.ASSIGNED, T1)

    batch = batch_of(
        script.opened(T0),  # a duplicate
        unknown_event,  # an unknown case
        states={script.case_id: known},
    )

    assert batch.changed_cases == []
    assert batch.states.get("C-unknown") is None
    assert batch.states[script.case_id] is known


def test_on_applied_is_called_for_applied_records_in_order() -> None:
    script = CaseScript()
    opened = script.opened(T0)
    seen: list[RecordResult] = []

    batch = run_batch(
        decode_all(
            records(
                opened,
                b"x",
                opened,
                script.next(c.ASSIGNED, T1),
                script.next(c.DECISION_MADE, T2),
            )
        ),
        {},
        SHANGHAI,
        on_applied=seen.append,
    )

    assert [r.record.offset for r in seen] == [100, 103, 104]
    assert all(r.outcome is Outcome.APPLIED for r in seen)
    assert seen == [r for r in batch.results if r.outcome is Outcome.APPLIED]


def test_gaps_count_the_events_that_skipped_seq_numbers() -> None:
    script = CaseScript()
    opened = script.opened(T0)
    script.seq = 4
    skipped = script.next(c.ASSIGNED, T1)  # seq 5: gap of 3
    following = script.next(c.ASSIGNED, T2)  # seq 6
    script.seq = 7
    skipped_again = script.next(c.ASSIGNED, T3)  # seq 8: gap of 1

    batch = batch_of(opened, skipped, following, skipped_again)

    assert [r.transition.gap for r in batch.results if r.transition] == [0, 3, 0, 1]
    assert batch.gaps == 2


def test_case_ids_lists_each_decoded_case_once_in_order() -> None:
    a, b = CaseScript("C-A"), CaseScript("C-B")
    decoded = decode_all(records(b.opened(T0), b"{", a.opened(T0), b.next(c.ASSIGNED, T1)))

    assert case_ids(decoded) == ["C-B", "C-A"]


def test_decode_all_keeps_every_record_with_its_event_or_reason() -> None:
    decoded = decode_all(records(CaseScript().opened(T0), b""))

    (first, event, reason), (second, missing, why) = decoded
    assert (first.offset, event is not None, reason) == (100, True, None)
    assert (second.offset, missing) == (101, None)
    assert why is not None and why.startswith("not JSON: ")
