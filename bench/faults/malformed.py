"""A generator of records that case-events-v1.md calls invalid.

``malformed_records`` draws them with Hypothesis: it picks each record's kind
and drives every random choice inside it (``st.randoms``), from a fixed seed,
so the same seed gives the same records and a failure can be replayed.
``MalformedRecords`` itself takes any ``random.Random``. Three families:

* form: a valid event of the stream with one rule broken — a required field
  dropped, a field of the wrong JSON type, a value outside its enumeration, a
  time that is not RFC 3339 with an offset, an id breaking its pattern, a
  number out of range, more than 64 KiB;
* bytes: valid JSON that is not an object, truncated or broken JSON, bytes
  that are not UTF-8, random bytes, an empty value, no value at all;
* state: a well-formed event that breaks a state rule of the case as the
  oracle knows it (unknown case, change to a closed case, reopening an open
  case, pausing a paused clock, resuming a running one, moving to the stage
  the case is in). Their ``seq`` is above the case's last one, so they are
  not duplicates.

None may change a metric; every one must reach the dead-letter topic.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import hypothesis
from hypothesis import strategies as st

from tests.oracle import STAGES, OracleCase

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
SCHEMA: Final = "case-event/v1"
MAX_EVENT_BYTES: Final = 64 * 1024
COMMON_REQUIRED: Final = ("schema", "event_id", "case_id", "seq", "type", "occurred_at")
TYPE_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "case.opened": ("team_id", "handler_id", "channel", "category", "product_line"),
    "case.assigned": ("team_id", "handler_id"),
    "case.stage_changed": ("to_stage",),
    "case.clock_paused": ("reason",),
    "case.deadline_extended": ("tier",),
    "case.follow_up_scheduled": ("due_at",),
    "case.escalated": ("to",),
    "case.closed": ("resolution",),
}
BAD_ENUMS: Final[dict[str, tuple[Any, ...]]] = {
    "schema": ("case-event/v2", "case-event/V1", "case-event", ""),
    "type": ("case.archived", "CASE.OPENED", "case_opened", "opened", ""),
    "to_stage": ("archive", "Intake", "closed", ""),
    "reason": ("holiday", "appraisal", ""),
    "channel": ("fax", "wechat", ""),
    "category": ("car", "claim", ""),
    "product_line": ("boat", "Auto", ""),
    "to": ("media", "court", ""),
    "resolution": ("solved", "pending", ""),
    "tier": (0, 3, -1),
}
WRONG_STRING_VALUES: Final = (42, 3.5, True, None, ["x"], {"x": 1})
WRONG_INT_VALUES: Final = ("1", 2.5, True, None, [1], {"n": 1})
BAD_TIMES: Final = (
    "2026-11-24",
    "2026/11/24 09:30:00+08:00",
    "2026-13-01T09:30:00+08:00",
    "2026-02-30T09:30:00+08:00",
    "2026-11-24T25:00:00+08:00",
    "2026-11-24T09:30:00+8",
    "yesterday",
    "",
    1_764_000_000,
)
BAD_CASE_IDS: Final = ("", "C 2026", "C2026/001", "案件-1", "x" * 65, "C2026-00\n1")
BAD_EVENT_IDS: Final = ("", "e" * 65)
NOT_OBJECTS: Final = ('"case.opened"', "42", "null", "true", "[]", "[1, 2]")


@dataclass(frozen=True, slots=True)
class Malformed:
    """One record to produce: what was broken, its key and its value (None: no value)."""

    kind: str
    key: bytes | None
    value: bytes | None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _without_offset(text: str) -> str:
    """An RFC 3339 time with its UTC offset cut off (a local time of nowhere)."""
    return text[:19]


class MalformedRecords:
    """Draws malformed records from ``templates`` (valid events, parsed) and ``cases``."""

    def __init__(
        self,
        rng: random.Random,
        templates: Sequence[Mapping[str, Any]],
        cases: Mapping[str, OracleCase],
        after: float,
        tz: ZoneInfo = SHANGHAI,
    ) -> None:
        if not templates:
            raise ValueError("malformed records need valid events to start from")
        self.rng = rng
        self.templates = templates
        self.after = after
        self.tz = tz
        self.serial = 0
        cases_list = sorted(cases.values(), key=lambda case: case.case_id)
        self.closed = [c for c in cases_list if c.status == "closed"]
        self.open = [c for c in cases_list if c.is_open]
        self.paused = [c for c in self.open if c.paused_since is not None]
        self.running = [c for c in self.open if c.paused_since is None and c.decided_at is None]
        self.kinds: dict[str, tuple[int, Callable[[], Malformed]]] = {
            "missing_field": (10, self.missing_field),
            "wrong_type": (10, self.wrong_type),
            "bad_enum": (10, self.bad_enum),
            "bad_time": (8, self.bad_time),
            "bad_id": (6, self.bad_id),
            "out_of_range": (6, self.out_of_range),
            "oversize": (1, self.oversize),
            "not_an_object": (4, self.not_an_object),
            "truncated_json": (6, self.truncated_json),
            "broken_json": (4, self.broken_json),
            "not_utf8": (3, self.not_utf8),
            "random_bytes": (5, self.random_bytes),
            "empty_value": (1, self.empty_value),
            "no_value": (1, self.no_value),
            "unknown_case": (5, self.unknown_case),
            "closed_case_changed": (4, self.closed_case_changed),
            "open_case_reopened": (4, self.open_case_reopened),
            "paused_twice": (3, self.paused_twice),
            "running_clock_resumed": (3, self.running_clock_resumed),
            "same_stage": (4, self.same_stage),
        }

    def draw(self, count: int) -> list[Malformed]:
        """``count`` records: one of each kind first (as far as count allows), then weighted."""
        names = list(self.kinds)
        weights = [self.kinds[name][0] for name in names]
        chosen = names[:count] + self.rng.choices(names, weights, k=max(0, count - len(names)))
        return [self.kinds[name][1]() for name in chosen]

    # -- helpers -----------------------------------------------------------------------

    def _template(self) -> dict[str, Any]:
        return dict(self.rng.choice(self.templates))

    def _record(self, kind: str, event: Mapping[str, Any]) -> Malformed:
        case_id = event.get("case_id")
        key = case_id.encode() if isinstance(case_id, str) else None
        return Malformed(kind, key, _dumps(event))

    def _time(self) -> str:
        moment = self.after + self.rng.uniform(1, 3600)
        return datetime.fromtimestamp(moment, self.tz).isoformat(timespec="seconds")

    def _event(self, case_id: str, seq: int, etype: str, **fields: Any) -> dict[str, Any]:
        self.serial += 1
        return {
            "schema": SCHEMA,
            "event_id": f"fault-{self.serial:07d}",
            "case_id": case_id,
            "seq": seq,
            "type": etype,
            "occurred_at": self._time(),
            **fields,
        }

    def _next_seq(self, case: OracleCase) -> int:
        return case.last_seq + 1 + self.rng.randint(0, 3)

    # -- form ------------------------------------------------------------------------

    def missing_field(self) -> Malformed:
        event = self._template()
        required = COMMON_REQUIRED + TYPE_REQUIRED.get(event["type"], ())
        del event[self.rng.choice(required)]
        return self._record("missing_field", event)

    def wrong_type(self) -> Malformed:
        event = self._template()
        strings = [
            f
            for f in (*COMMON_REQUIRED, *TYPE_REQUIRED.get(event["type"], ()))
            if f not in ("seq", "tier")
        ]
        integers = ["seq"] + (["tier"] if event["type"] == "case.deadline_extended" else [])
        if self.rng.random() < 0.6:
            event[self.rng.choice(strings)] = self.rng.choice(WRONG_STRING_VALUES)
        else:
            event[self.rng.choice(integers)] = self.rng.choice(WRONG_INT_VALUES)
        return self._record("wrong_type", event)

    def bad_enum(self) -> Malformed:
        event = self._template()
        fields = [f for f in BAD_ENUMS if f in event]
        field = self.rng.choice(fields)
        event[field] = self.rng.choice(BAD_ENUMS[field])
        return self._record("bad_enum", event)

    def bad_time(self) -> Malformed:
        event = self._template()
        field = "due_at" if "due_at" in event and self.rng.random() < 0.3 else "occurred_at"
        if self.rng.random() < 0.3:
            event[field] = _without_offset(str(event[field]))
        else:
            event[field] = self.rng.choice(BAD_TIMES)
        return self._record("bad_time", event)

    def bad_id(self) -> Malformed:
        event = self._template()
        if self.rng.random() < 0.7:
            event["case_id"] = self.rng.choice(BAD_CASE_IDS)
        else:
            event["event_id"] = self.rng.choice(BAD_EVENT_IDS)
        return self._record("bad_id", event)

    def out_of_range(self) -> Malformed:
        event = self._template()
        etype = event["type"]
        if etype == "case.opened":
            if self.rng.random() < 0.5:
                event["seq"] = self.rng.choice((0, -1, 2, 7))
            else:
                event["group_size"] = self.rng.choice((0, -5))
        elif etype == "case.deadline_extended":
            event["tier"] = 2
            event.pop("approved_by", None)
        else:
            event["type"] = "case.follow_up_done"
            event["satisfaction"] = self.rng.choice((0, 6, 10, -1))
        return self._record("out_of_range", event)

    def oversize(self) -> Malformed:
        event = self._template()
        event["notes"] = "x" * (MAX_EVENT_BYTES + 1024 + self.rng.randint(0, 4096))
        return self._record("oversize", event)

    # -- bytes -----------------------------------------------------------------------

    def _raw(self, kind: str, value: bytes | None) -> Malformed:
        return Malformed(kind, f"fault-{kind}".encode(), value)

    def not_an_object(self) -> Malformed:
        if self.rng.random() < 0.3:
            return self._raw("not_an_object", _dumps([self._template()]))
        return self._raw("not_an_object", self.rng.choice(NOT_OBJECTS).encode())

    def truncated_json(self) -> Malformed:
        event = self._template()
        text = _dumps(event)
        return self._record_bytes(
            "truncated_json", event, text[: self.rng.randint(1, len(text) - 1)]
        )

    def broken_json(self) -> Malformed:
        event = self._template()
        text = _dumps(event).decode()
        breakers: list[Callable[[str], str]] = [
            lambda t: t.replace(f'"seq": {event["seq"]}', '"seq": NaN', 1),
            lambda t: t.replace('"', "'"),
            lambda t: t[:-1] + ", }",
            lambda t: t.replace('"schema"', "schema", 1),
        ]
        return self._record_bytes("broken_json", event, self.rng.choice(breakers)(text).encode())

    def not_utf8(self) -> Malformed:
        event = self._template()
        bad = self.rng.choice((b"\xff", b"\xc3\x28", b"\xe2\x82", b"\xed\xa0\x80"))
        return self._record_bytes(
            "not_utf8", event, _dumps(event).replace(b'"case.', b'"case.' + bad, 1)
        )

    def random_bytes(self) -> Malformed:
        return self._raw("random_bytes", self.rng.randbytes(self.rng.randint(1, 300)))

    def empty_value(self) -> Malformed:
        return self._raw("empty_value", b"")

    def no_value(self) -> Malformed:
        return self._raw("no_value", None)

    def _record_bytes(self, kind: str, event: Mapping[str, Any], value: bytes) -> Malformed:
        case_id = event.get("case_id")
        return Malformed(kind, case_id.encode() if isinstance(case_id, str) else None, value)

    # -- state -----------------------------------------------------------------------

    def unknown_case(self) -> Malformed:
        template = self._template()
        self.serial += 1
        case_id = f"FAULT-{self.serial:07d}"
        etype, fields = self.rng.choice(
            [
                ("case.assigned", {"team_id": template.get("team_id", "t"), "handler_id": "h-1"}),
                ("case.stage_changed", {"to_stage": self.rng.choice(STAGES)}),
                ("case.clock_paused", {"reason": "mediation"}),
                ("case.decision_made", {}),
                ("case.closed", {"resolution": "resolved"}),
                ("case.reopened", {}),
            ]
        )
        event = self._event(case_id, self.rng.randint(2, 20), etype, **fields)
        return self._record("unknown_case", event)

    def _state(
        self, kind: str, cases: list[OracleCase], make: Callable[[OracleCase], dict[str, Any]]
    ) -> Malformed:
        if not cases:
            return self.unknown_case()
        return self._record(kind, make(self.rng.choice(cases)))

    def closed_case_changed(self) -> Malformed:
        def change(case: OracleCase) -> dict[str, Any]:
            etype, fields = self.rng.choice(
                [
                    ("case.assigned", {"team_id": case.team_id, "handler_id": case.handler_id}),
                    ("case.stage_changed", {"to_stage": self.rng.choice(STAGES)}),
                    ("case.decision_made", {}),
                    ("case.follow_up_scheduled", {"due_at": self._time()}),
                ]
            )
            return self._event(case.case_id, self._next_seq(case), etype, **fields)

        return self._state("closed_case_changed", self.closed, change)

    def open_case_reopened(self) -> Malformed:
        return self._state(
            "open_case_reopened",
            self.open,
            lambda case: self._event(
                case.case_id,
                self._next_seq(case),
                "case.reopened",
                new_facts=self.rng.random() < 0.5,
            ),
        )

    def paused_twice(self) -> Malformed:
        return self._state(
            "paused_twice",
            self.paused,
            lambda case: self._event(
                case.case_id,
                self._next_seq(case),
                "case.clock_paused",
                reason=self.rng.choice(("external_appraisal", "mediation")),
            ),
        )

    def running_clock_resumed(self) -> Malformed:
        return self._state(
            "running_clock_resumed",
            self.running,
            lambda case: self._event(case.case_id, self._next_seq(case), "case.clock_resumed"),
        )

    def same_stage(self) -> Malformed:
        return self._state(
            "same_stage",
            self.open,
            lambda case: self._event(
                case.case_id, self._next_seq(case), "case.stage_changed", to_stage=case.stage
            ),
        )


def malformed_records(
    count: int,
    seed: int,
    templates: Sequence[Mapping[str, Any]],
    cases: Mapping[str, OracleCase],
    after: float,
) -> list[Malformed]:
    """``count`` malformed records drawn by Hypothesis, the same for the same seed and inputs.

    Hypothesis chooses each record's kind (weighted as in ``MalformedRecords``)
    and feeds every random choice the kind makes, through a Random of its own.
    """
    records = MalformedRecords(random.Random(seed), templates, cases, after)
    weighted = [name for name, (weight, _) in records.kinds.items() for _ in range(weight)]
    drawn: list[Malformed] = []

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=count,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
        deadline=None,
    )
    @hypothesis.given(kind=st.sampled_from(weighted), rng=st.randoms(use_true_random=False))
    def draw(kind: str, rng: random.Random) -> None:
        if len(drawn) < count:
            records.rng = rng
            drawn.append(records.kinds[kind][1]())

    draw()
    if len(drawn) != count:
        raise RuntimeError(f"Hypothesis drew {len(drawn)} malformed records, not {count}")
    return drawn
