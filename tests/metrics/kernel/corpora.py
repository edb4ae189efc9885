"""Fixed inputs for the kernel comparison: simulated streams per zone, the
malformed records of bench/faults, and a corpus of every field value.

Everything here is deterministic (fixed seeds and instants).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from bench.faults.malformed import malformed_records
from events import contract as c
from events.batch import RawRecord
from events.scoring import DEFAULT_RULES, RuleSource, ScoringRules
from events.simulator import SimEvent, SimulationConfig, simulate_to_list
from events.timeutil import parse_rfc3339
from incentives.rulebook import PublishedRules, RuleBook
from metrics.codec import encode_state
from metrics.kernel.api import case_ids
from metrics.kernel.reference import ReferenceKernel
from tests.events.factory import OPTIONAL_FIELDS, make_event
from tests.metrics.kernel.strategies import (
    COMMON_FIELDS,
    FIELD_CHOICES,
    RAW_VALUES,
    TYPE_FIELDS,
    SwitchingRules,
    oversized,
    records_of,
)
from tests.oracle import VALID, LabelledRecord, Oracle, OracleCase

TEAMS = [
    ("claims-east", ["h-1", "h-2", "h-3"]),
    ("销售一组", ["张三", "h-4"]),
    ("service\u3000west", ["h-5", "h-1"]),  # h-1 in two teams
]
BATCH_SIZES = (1, 17, 250, 600, 3)
ODD_RULES = ScoringRules(
    decision_on_time=7.5,
    decision_late=-0.125,
    follow_up_on_time=2.675,
    follow_up_late=-1.005,
    satisfaction={5: 0.375, 4: 1 / 3, 2: -2.5},
    escalated_to_regulator=-20.005,
    reopened=-10,
    rework=-0.3333,
    category_weights={"claims": 1.5, "sales": 0.3333, "premium": 0.1, "other": 3},
)
WEIGHTED_RULES = ScoringRules(category_weights={"claims": 1.5, "sales": 0.3333})


@dataclass(frozen=True)
class Stream:
    """A simulated stream: where it runs and the instant it ends."""

    zone: str
    end: str  # RFC 3339
    days: float
    arrivals_per_hour: float
    seed: int

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def end_at(self) -> float:
        return parse_rfc3339(self.end)


# Each crosses its zone's offset changes (daylight saving starts or ends, or
# Kathmandu's move from +05:30 to +05:45).
STREAMS = (
    Stream("Asia/Shanghai", "1988-04-20T00:00:00+08:00", 12, 1.2, 1),
    Stream("Asia/Shanghai", "2026-11-24T09:30:00+08:00", 12, 1.2, 2),
    Stream("America/New_York", "2026-03-16T12:00:00-04:00", 12, 1.2, 3),
    Stream("Australia/Lord_Howe", "2026-04-12T12:00:00+10:30", 12, 1.2, 4),
    Stream("Asia/Kathmandu", "1986-01-09T12:00:00+05:45", 12, 1.2, 5),
    Stream("UTC", "2026-12-31T20:00:00Z", 12, 1.2, 6),
)


@cache
def simulated(stream: Stream) -> tuple[SimEvent, ...]:
    config = SimulationConfig(
        teams=TEAMS,
        seed=stream.seed,
        arrivals_per_hour=stream.arrivals_per_hour,
        invalid_share=0.02,
        duplicate_share=0.03,
        tz=stream.tz,
    )
    return tuple(simulate_to_list(config, stream.days, stream.end_at))


def stream_records(events: Sequence[SimEvent]) -> list[RawRecord]:
    return records_of([(e.case_id.encode(), e.value) for e in events])


def batches_of(
    records: Sequence[RawRecord], sizes: Sequence[int] = BATCH_SIZES
) -> list[list[RawRecord]]:
    """``records`` in batches of the given sizes, in turn."""
    out: list[list[RawRecord]] = []
    start = 0
    turn = 0
    while start < len(records):
        size = sizes[turn % len(sizes)]
        out.append(list(records[start : start + size]))
        start += size
        turn += 1
    return out


def rules_for(stream: Stream) -> list[tuple[str, RuleSource]]:
    """The rule sources a stream runs under: the defaults, and one other."""
    middle = stream.end_at - stream.days * 86400 / 2
    published = RuleBook(
        DEFAULT_RULES,
        [PublishedRules("odd", datetime.fromtimestamp(middle, stream.tz).date(), ODD_RULES)],
        tz=stream.tz,
    )
    others: list[tuple[str, RuleSource]] = [
        ("weighted", WEIGHTED_RULES),
        ("odd points", ODD_RULES),
        ("switching", SwitchingRules(DEFAULT_RULES, WEIGHTED_RULES, middle)),
        ("rule book", published),
    ]
    return [("default", DEFAULT_RULES), others[STREAMS.index(stream) % len(others)]]


# -- the malformed records of bench/faults ------------------------------------------------

MALFORMED_SEED = 20_261_206
MALFORMED_STREAM = Stream("Asia/Shanghai", "2026-11-24T09:30:00+08:00", 10, 1.0, 11)


@dataclass(frozen=True)
class AfterStream:
    """What the malformed generator needs, and the stream's final states."""

    records: list[RawRecord]
    templates: list[dict[str, Any]]
    cases: dict[str, OracleCase]
    last_event_at: float
    stored: dict[str, bytes]  # case id -> encoded state after the stream


@cache
def after_stream() -> AfterStream:
    events = simulated(MALFORMED_STREAM)
    labelled = [LabelledRecord(0, i, e.kind, e.value, e.case_id) for i, e in enumerate(events)]
    oracle = Oracle.of(labelled, MALFORMED_STREAM.tz)
    assert oracle.last_event_at is not None
    records = stream_records(events)
    kernel = ReferenceKernel(MALFORMED_STREAM.tz)
    states: dict[str, Any] = {}
    for batch in batches_of(records, (500,)):
        decoded = kernel.decode_all(batch)
        out = kernel.run(decoded, {cid: states.get(cid) for cid in case_ids(decoded)}, 0.0)
        states.update(out.states)
    return AfterStream(
        records=records,
        templates=[json.loads(e.value) for e in events if e.kind == VALID],
        cases=oracle.cases,
        last_event_at=oracle.last_event_at,
        stored={cid: encode_state(state) for cid, state in states.items()},
    )


def malformed_corpus(count: int) -> list[RawRecord]:
    base = after_stream()
    drawn = malformed_records(count, MALFORMED_SEED, base.templates, base.cases, base.last_event_at)
    offset = len(base.records)
    return [
        RawRecord("complaints.case-events", 0, offset + i, m.value, m.key)
        for i, m in enumerate(drawn)
    ]


# -- every value of every field -------------------------------------------------------------


def _variants(etype: str) -> Iterator[tuple[str, Any]]:
    """(field, value) pairs for one type; value ``...`` means the field is left out."""
    for name in (*COMMON_FIELDS, *TYPE_FIELDS[etype], "notes"):
        yield name, ...
        for value in FIELD_CHOICES[name]:
            yield name, value
        if name in OPTIONAL_FIELDS[etype]:
            yield name, None


def form_corpus() -> list[tuple[bytes | None, bytes | None]]:
    """Each event type with each field left out, null, and set to each value
    of FIELD_CHOICES (its own case, opened first), then raw bytes and sizes
    around the 64 KiB limit."""
    values: list[tuple[bytes | None, bytes | None]] = []
    number = 0
    for etype in c.EVENT_TYPES:
        for name, value in _variants(etype):
            number += 1
            case_id = f"F{number}"
            if etype != c.OPENED:
                opened = make_event(c.OPENED, full=number % 2 == 0, case_id=case_id)
                values.append((case_id.encode(), orjson.dumps(opened)))
            event = make_event(
                etype,
                full=True,
                case_id=case_id,
                seq=1 if etype == c.OPENED else 2,
                occurred_at="2026-11-25T10:00:00+08:00",
            )
            if value is ...:
                event.pop(name, None)
            else:
                event[name] = value
            text = json.dumps(event, ensure_ascii=number % 3 == 0).encode()
            values.append((case_id.encode(), text))
    for raw in RAW_VALUES:
        values.append((None, raw))
    for over in (-1, 0, 1):
        number += 1
        event = make_event(c.OPENED, case_id=f"F{number}")
        values.append((None, oversized(event, over)))
    return values
