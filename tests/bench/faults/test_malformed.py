"""The seeded generator of malformed records: reproducible, every kind drawn, and
each record broken the way its kind says (form and bytes kinds fail the event
form check; state kinds pass it and break a state rule of the oracle's case)."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from bench.faults.malformed import MAX_EVENT_BYTES, Malformed, MalformedRecords, malformed_records
from events.decode import decode
from events.errors import InvalidEvent
from tests.oracle import VALID, LabelledRecord, Oracle
from tests.pipeline.helpers import recent_monday_morning, simulate

STATE_KINDS = {
    "unknown_case",
    "closed_case_changed",
    "open_case_reopened",
    "paused_twice",
    "running_clock_resumed",
    "same_stage",
}
END = recent_monday_morning(1_795_000_000.0)
TEAMS = [("claims-east", ["h-1", "h-2", "h-3"]), ("sales-north", ["h-4", "h-5"])]


@pytest.fixture(scope="module")
def base() -> tuple[list[dict[str, Any]], Oracle]:
    simulated = simulate(TEAMS, seed=11, days=20, end=END, arrivals_per_hour=2.0)
    records = [LabelledRecord(0, i, e.kind, e.value, e.case_id) for i, e in enumerate(simulated)]
    templates = [json.loads(r.value) for r in records if r.kind == VALID]
    return templates, Oracle.of(records)


def draw(base: tuple[list[dict[str, Any]], Oracle], count: int, seed: int) -> list[Malformed]:
    templates, oracle = base
    assert oracle.last_event_at is not None
    return malformed_records(count, seed, templates, oracle.cases, oracle.last_event_at)


def test_the_same_seed_gives_the_same_records(base: tuple[list[dict[str, Any]], Oracle]) -> None:
    assert draw(base, 300, seed=5) == draw(base, 300, seed=5)
    assert draw(base, 300, seed=5) != draw(base, 300, seed=6)


def test_every_kind_is_drawn_and_the_count_is_exact(
    base: tuple[list[dict[str, Any]], Oracle],
) -> None:
    templates, oracle = base
    assert oracle.last_event_at is not None
    generator = MalformedRecords(random.Random(3), templates, oracle.cases, 0.0)
    records = generator.draw(2_000)
    assert len(records) == 2_000
    assert set(Counter(r.kind for r in records)) == set(generator.kinds)


def test_form_and_bytes_kinds_fail_the_form_check(
    base: tuple[list[dict[str, Any]], Oracle],
) -> None:
    for record in draw(base, 3_000, seed=8):
        if record.kind in STATE_KINDS:
            continue
        with pytest.raises(InvalidEvent):
            decode(record.value)
        if record.kind == "oversize":
            assert record.value is not None and len(record.value) > MAX_EVENT_BYTES


def test_state_kinds_are_well_formed_and_break_a_rule_of_their_case(
    base: tuple[list[dict[str, Any]], Oracle],
) -> None:
    _, oracle = base
    seen: Counter[str] = Counter()
    for record in draw(base, 3_000, seed=9):
        if record.kind not in STATE_KINDS:
            continue
        seen[record.kind] += 1
        event = decode(record.value)  # well formed: raises nothing
        assert record.key == event.case_id.encode()
        case = oracle.cases.get(event.case_id)
        if record.kind == "unknown_case":
            assert case is None and event.type != "case.opened"
            continue
        assert case is not None and event.seq > case.last_seq
        if record.kind == "closed_case_changed":
            assert case.status == "closed" and event.type != "case.reopened"
        elif record.kind == "open_case_reopened":
            assert case.is_open and event.type == "case.reopened"
        elif record.kind == "paused_twice":
            assert case.paused_since is not None and event.type == "case.clock_paused"
        elif record.kind == "running_clock_resumed":
            assert case.is_open and case.paused_since is None and case.decided_at is None
            assert event.type == "case.clock_resumed"
        elif record.kind == "same_stage":
            assert case.is_open and event.to_stage == case.stage
    assert set(seen) == STATE_KINDS
