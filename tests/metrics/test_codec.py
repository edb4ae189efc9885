"""The stored form of a case state: it decodes to the same state, and it is held
in an allocation of its own size (a rebuild's delta keeps thousands at once)."""

from __future__ import annotations

import sys
from collections.abc import Callable

from events import contract as c
from events.batch import RawRecord
from metrics.codec import decode_state, encode_state
from metrics.sink import outbox_entry
from tests.events.factory import final_state, make_event
from tests.traced import traced

HEADER_AND_SLACK = 48
COPIES = 500


def held_by(make: Callable[[], object]) -> tuple[int, object]:
    """What ``make()`` returns and the traced memory one result holds, averaged over
    many kept results: what a process makes once (an interned name, a cache entry,
    a grown free list) is spread thin instead of deciding the test."""
    make()
    with traced() as growth:
        kept = [make() for _ in range(COPIES)]
        held = growth() - sys.getsizeof(kept)
    return held // COPIES, kept[0]


def test_a_stored_state_round_trips_in_its_own_size() -> None:
    state = final_state(
        [
            make_event(case_id="C-1"),
            make_event(c.STAGE_CHANGED, case_id="C-1", seq=2, to_stage="investigation"),
        ]
    )
    held, stored = held_by(lambda: encode_state(state))
    assert isinstance(stored, bytes)
    assert decode_state("C-1", stored) == state
    assert held <= len(stored) + HEADER_AND_SLACK


def test_an_outbox_entry_is_its_own_size() -> None:
    record = RawRecord("t", 0, 7, b'{"not": "an event"}', b"C-1")
    held, entry = held_by(lambda: outbox_entry(record, "missing field: schema"))
    assert isinstance(entry, bytes)
    assert held <= len(entry) + HEADER_AND_SLACK
