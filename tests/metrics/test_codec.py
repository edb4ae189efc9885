"""The stored form of a case state: it decodes to the same state, and it is held
in an allocation of its own size (a rebuild's delta keeps thousands at once)."""

from __future__ import annotations

from events import contract as c
from events.batch import RawRecord
from metrics.codec import decode_state, encode_state
from metrics.sink import outbox_entry
from tests.events.factory import final_state, make_event
from tests.traced import HEADER_AND_SLACK, held_per_result


def test_a_stored_state_round_trips_in_its_own_size() -> None:
    state = final_state(
        [
            make_event(case_id="C-1"),
            make_event(c.STAGE_CHANGED, case_id="C-1", seq=2, to_stage="investigation"),
        ]
    )
    held, stored = held_per_result(lambda: encode_state(state))
    assert isinstance(stored, bytes)
    assert decode_state("C-1", stored) == state
    assert held <= len(stored) + HEADER_AND_SLACK


def test_an_outbox_entry_is_its_own_size() -> None:
    record = RawRecord("t", 0, 7, b'{"not": "an event"}', b"C-1")
    held, entry = held_per_result(lambda: outbox_entry(record, "missing field: schema"))
    assert isinstance(entry, bytes)
    assert held <= len(entry) + HEADER_AND_SLACK
