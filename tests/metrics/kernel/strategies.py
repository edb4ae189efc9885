"""Hypothesis strategies for the kernel comparison: zones, times, ids, forms,
case life cycles (followed and broken), stored states, scoring rules, ``now``.

Times are handled as whole microseconds since the epoch (``us``) and written
as RFC 3339 text in many styles (offsets, ``t``/``z``, 0 to 9 fraction
digits, leap seconds). The stream builder keeps the cases' states with the
pure core itself (decode + apply) only to choose plausible next events; the
comparison never trusts it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import orjson
from hypothesis import strategies as st
from hypothesis.strategies import DrawFn, SearchStrategy

from events import contract as c
from events.batch import RawRecord
from events.clock import deadline
from events.decode import decode
from events.errors import InvalidEvent
from events.machine import Outcome, apply
from events.scoring import DEFAULT_RULES, ScoringRules
from events.state import CLOSED, OPEN, CaseState, DecisionClock
from events.timeutil import hour_start
from metrics.codec import encode_state
from metrics.delta import THROUGHPUT_RETENTION_DAYS
from tests.events.factory import make_event

TOPIC = "complaints.case-events"
SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
EPOCH = datetime(1970, 1, 1)
LATEST_US = (datetime(9000, 1, 1, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
    microseconds=1
)

ZONE_NAMES = (
    "Asia/Shanghai",  # daylight saving 1986-1991
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute daylight saving
    "Asia/Kathmandu",  # +05:45 (+05:30 before 1986)
    "UTC",
)
ZONES = tuple(ZoneInfo(name) for name in ZONE_NAMES)


def us_of(text: str) -> int:
    """Whole microseconds since the epoch of an ISO time with an offset."""
    return (datetime.fromisoformat(text) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
        microseconds=1
    )


def seconds(us: int) -> float:
    """Epoch seconds as the core computes them (datetime.timestamp: us / 10**6)."""
    return us / 10**6


# Instants near which something happens: daylight-saving changes of the zones,
# the edges of the valid years, leap days, year and ISO-week ends, instants
# after 2255 (whole microseconds no longer fit a double).
ANCHORS = tuple(
    us_of(text)
    for text in (
        "2026-11-24T09:30:00+08:00",
        "2026-11-24T09:30:00+08:00",
        "2026-06-15T14:00:00+08:00",
        "1986-05-04T01:30:00+08:00",  # Shanghai: daylight saving starts
        "1986-09-14T01:30:00+09:00",  # ... ends
        "1991-09-15T01:30:00+09:00",  # ... for the last time
        "2026-03-08T01:30:00-05:00",  # New York
        "2026-11-01T01:30:00-04:00",
        "2026-04-05T01:45:00+11:00",  # Lord Howe
        "2026-10-04T01:45:00+10:30",
        "1985-12-31T23:30:00+05:30",  # Kathmandu moves to +05:45
        "1970-01-01T00:00:00+00:00",
        "1970-01-01T07:59:59+08:00",
        "8999-12-01T00:00:00+00:00",
        "8999-12-31T23:59:59.999999+00:00",
        "2024-02-28T23:00:00+08:00",
        "2100-02-28T12:00:00+00:00",
        "2026-12-31T23:59:59.999999+08:00",
        "2020-12-31T16:00:00+00:00",  # ISO week 53
        "2300-06-15T12:00:00.123457+00:00",
        "5000-03-01T00:00:00.000001+00:00",
    )
)
STEPS = (0, 1, -1, SECOND, MINUTE, 15 * MINUTE, HOUR, DAY, 15 * DAY, 16 * DAY, 31 * DAY, 61 * DAY)


_STEP_KIND = st.integers(0, 19)
_STEP_FIXED = st.sampled_from(STEPS)
_STEP_MINUTES = st.integers(0, 3 * 24 * 60)
_STEP_US = st.integers(0, 20 * DAY)
_STEP_BACK = st.integers(0, 2 * DAY)
_STEP_YEARS = st.integers(-3000, 3000)


def step(draw: DrawFn) -> int:
    """How far the next event of a case is from its previous one (us)."""
    kind = draw(_STEP_KIND)
    if kind < 4:
        return draw(_STEP_FIXED)
    if kind < 15:
        return draw(_STEP_MINUTES) * MINUTE
    if kind < 17:
        return draw(_STEP_US)
    if kind < 19:
        return -draw(_STEP_BACK)
    return draw(_STEP_YEARS) * 365 * DAY  # out of order by centuries


instants = st.builds(
    lambda anchor, step: anchor + step,
    st.sampled_from(ANCHORS),
    st.one_of(st.sampled_from(STEPS), st.integers(-2 * DAY, 40 * DAY)),
)


def clamp(us: int) -> int:
    """Within the valid years, a minute short of their end (the last ~16 us of
    8999 count as 9000: doubles there are 2**-15 s apart)."""
    return min(max(us, 0), LATEST_US - MINUTE)


# -- RFC 3339 text ---------------------------------------------------------------------

OFFSETS: tuple[tuple[str, int], ...] = (
    ("Z", 0),
    ("z", 0),
    ("+00:00", 0),
    ("-00:00", 0),
    ("+08:00", 480),
    ("+08:00", 480),
    ("-05:30", -330),
    ("+05:45", 345),
    ("+10:30", 630),
    ("+23:59", 1439),
    ("-23:59", -1439),
    ("+14:00", 840),
    ("-12:00", -720),
)


@dataclass(frozen=True)
class TimeStyle:
    offset: str = "+08:00"
    minutes: int = 480
    digits: int = 0  # fraction digits, 0 to 9 (beyond 6 the core ignores them)
    separator: str = "T"
    leap: bool = False  # write second 60 of the minute before, when possible


# Every style, the common ones more often: one draw picks one.
STYLES = tuple(
    TimeStyle(offset, minutes, digits, separator, leap)
    for offset, minutes in OFFSETS
    for digits in (0, 0, 0, 0, 6, 6, 6, 1, 2, 3, 4, 5, 7, 8, 9)
    for separator in "TTTt"
    for leap in (False,) * 9 + (True,)
)
time_styles = st.sampled_from(STYLES)
# Styles that keep every microsecond (for instants that must be exact).
exact_styles = st.sampled_from(tuple(style for style in STYLES if style.digits >= 6))


def render(us: int, style: TimeStyle) -> str:
    """``us`` as RFC 3339 text in ``style`` (fraction digits beyond the sixth
    are made up; fewer than six cut the instant)."""
    local = EPOCH + timedelta(microseconds=us + style.minutes * MINUTE)
    second = f"{local.second:02d}"
    if style.leap and local.second == 0 and local.year > 1:
        local -= timedelta(seconds=1)
        second = "60"
    text = (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d}{style.separator}"
        f"{local.hour:02d}:{local.minute:02d}:{second}"
    )
    if style.digits:
        text += "." + (f"{local.microsecond:06d}" + "987")[: style.digits]
    return text + style.offset


BAD_TIMES: tuple[Any, ...] = (
    "2026-11-24T09:30:00+24:00",
    "2026-11-24T09:30:00",
    "2026-11-24 09:30:00+08:00",
    " 2026-11-24T09:30:00+08:00",
    "2026-11-24T09:30:00+08:00 ",
    "2026-11-24T09:30:00+08:00\n",
    "2026-11-24T09:30:00+0800",
    "2026-11-24T09:30+08:00",
    "2026-11-24T09:30:00.+08:00",
    "2026-11-24T09:30:00,5+08:00",
    "2026-02-29T09:30:00+08:00",
    "2100-02-29T09:30:00Z",
    "2026-02-30T09:30:00+08:00",
    "2026-13-01T09:30:00+08:00",
    "2026-00-10T09:30:00+08:00",
    "2026-11-24T24:00:00+08:00",
    "2026-11-24T23:60:00+08:00",
    "2026-11-24T09:30:61+08:00",
    "1969-12-31T23:59:59Z",
    "1970-01-01T07:59:59+08:00",
    "9000-01-01T00:00:00Z",
    "8999-12-31T23:00:00-23:59",
    "２０２６-11-24T09:30:00+08:00",
    "2026-11-24",
    "",
    "T",
    1_795_483_800,
    1_795_483_800.5,
    True,
    ["2026-11-24T09:30:00+08:00"],
    {"at": "2026-11-24T09:30:00+08:00"},
)
GOOD_TIMES: tuple[str, ...] = (
    "2026-11-24T09:30:00+08:00",
    "2026-11-24t09:30:00z",
    "2026-11-24T01:30:00Z",
    "2026-11-24T09:30:00.5+08:00",
    "2026-11-24T09:30:00.123456789+08:00",
    "2026-11-24T09:30:00.1234567891234+08:00",
    "2026-11-24T09:30:60+08:00",
    "2026-12-31T23:59:60.5Z",
    "2026-11-23T20:00:00-05:30",
    "2026-11-24T23:59:59+23:59",
    "2026-11-24T00:00:00-23:59",
    "1970-01-01T00:00:00Z",
    "1970-01-01T08:00:00+08:00",
    "1969-12-31T19:00:00-05:00",
    "8999-12-31T23:59:59.999999Z",
    "8999-12-31T23:59:59.9999999Z",
    "2024-02-29T12:00:00+08:00",
    "2000-02-29T12:00:00+08:00",
    "1986-05-04T02:30:00+08:00",
    "1988-04-10T02:00:00+08:00",
    "2026-03-08T02:30:00-05:00",
    "2026-04-05T01:45:00+10:30",
    "1986-01-01T00:10:00+05:45",
)
rendered_times = st.builds(render, instants.map(clamp), time_styles)
time_values: SearchStrategy[Any] = st.one_of(
    st.sampled_from(GOOD_TIMES), st.sampled_from(BAD_TIMES), rendered_times
)

# -- ids -------------------------------------------------------------------------------

ID_VALUES: tuple[Any, ...] = (
    "h-017",
    "张三",
    "h 017",
    "h\u3000017",  # ideographic space (Zs): allowed
    "h\u00a0017",  # no-break space (Zs): allowed
    "\u3000",
    " ",
    "\u1680x",
    "x" * 64,
    "x" * 65,
    "é" * 64,
    "😀" * 64,
    "😀" * 65,
    "a\u0301",
    "ǅ",
    "h\n1",
    "h\t1",
    "h\x00",
    "h\x7f",
    "h\x85",
    "h\u200b",  # zero-width space (Cf)
    "h\u00ad",  # soft hyphen (Cf)
    "h\u2028",  # line separator (Zl)
    "h\ue000",  # private use (Co)
    "h\u0378",  # unassigned (Cn)
    "h\U000e0001",  # language tag (Cf)
    "",
    7,
    7.5,
    True,
    ["h-1"],
    {"id": "h-1"},
)
ids: SearchStrategy[Any] = st.one_of(
    st.sampled_from(ID_VALUES),
    st.text(min_size=0, max_size=70),
    st.text(st.characters(codec="utf-8"), min_size=63, max_size=66),
)
CASE_IDS_OK = ("C1", "C2026-000123", "c_" + "x" * 62, "A" * 64, "-", "_", "Z9_z-0")
CASE_ID_VALUES: tuple[Any, ...] = (
    *CASE_IDS_OK,
    "C 1",
    "案件1",
    "C1\n",
    "\nC1",
    "",
    "x" * 65,
    "C/1",
    "C.1",
    "Ｃ1",
    "C1\u00a0",
    1,
    None,
    ["C1"],
)
TEAMS = ("claims-east", "claims-west", "销售一组", "team\u3000A", "t" * 64)
HANDLERS = ("h-1", "h-2", "h-10", "张三", "h\u00a0x", "😀" * 64)

# -- field values for the form checks ----------------------------------------------------

WRONG_TYPES: tuple[Any, ...] = (None, True, False, 0, 1, -1, 1.5, "", "x", [], {}, [1], {"a": 1})


def _enum(valid: Sequence[str], *invalid: Any) -> tuple[Any, ...]:
    ordered = sorted(valid)
    return (*ordered, *invalid, *WRONG_TYPES, ordered[0].upper(), ordered[0] + " ")


COMPLAINANTS: tuple[Any, ...] = (
    {},
    None,
    {"gender": "f", "age_band": "45-59", "occupation": "教师", "repeat": False},
    {"gender": "x"},
    {"gender": None, "age_band": None},
    {"age_band": "60+", "repeat": True},
    {"age_band": 60},
    {"age_band": "<30 "},
    {"occupation": "教" * 64},
    {"occupation": "教" * 65},
    {"occupation": ""},
    {"occupation": 1},
    {"repeat": "yes"},
    {"repeat": 0},
    {"gender": "m", "extra": [1, 2]},
    [],
    "f",
    1,
)
# Values of every field, valid and not: the fixed corpus takes each one, the
# strategies below draw from them (and from generated ids and times).
FIELD_CHOICES: dict[str, tuple[Any, ...]] = {
    "schema": ("case-event/v1", "case-event/v2", "Case-Event/V1", "case-event/v1 ", *WRONG_TYPES),
    "event_id": ID_VALUES,
    "case_id": CASE_ID_VALUES,
    "seq": (1, 2, 3, 0, -1, 2**63 - 1, 2**63, 2**64, -(2**63), True, False, 1.0, 2.5, "1", [1]),
    "type": (
        *c.EVENT_TYPES,
        "case.archived",
        "CASE.OPENED",
        "opened",
        "case.opened ",
        *WRONG_TYPES,
    ),
    "occurred_at": GOOD_TIMES + BAD_TIMES,
    "actor": ("u-001", "", "x" * 100, "张三\n", 1, None, ["u"], True),
    "team_id": ID_VALUES,
    "handler_id": ID_VALUES,
    "approved_by": ID_VALUES,
    "channel": _enum(tuple(c.CHANNELS), "fax", "wechat"),
    "category": _enum(tuple(c.CATEGORIES), "car", "claim"),
    "product_line": _enum(tuple(c.PRODUCT_LINES), "boat"),
    "priority": _enum(tuple(c.PRIORITIES), "low", "Major"),
    "to_stage": _enum(c.STAGES, "closed", "回访"),
    "reason": _enum(tuple(c.PAUSE_REASONS), "holiday"),
    "outcome": _enum(tuple(c.OUTCOMES), "won"),
    "to": _enum(tuple(c.ESCALATION_TARGETS), "media"),
    "resolution": _enum(tuple(c.RESOLUTIONS), "solved"),
    "received_at": GOOD_TIMES + BAD_TIMES,
    "due_at": GOOD_TIMES + BAD_TIMES,
    "complainant": COMPLAINANTS,
    "group_size": (1, 19, 20, 21, None, 0, -1, 2**31 - 1, 2**31, 2**63, True, 20.0, "20"),
    "tier": (1, 2, 0, 3, -1, True, 1.0, "1", None, [1]),
    "satisfaction": (1, 2, 3, 4, 5, 0, 6, -1, True, 3.0, "3", None),
    "new_facts": (True, False, None, 1, 0, "true", []),
    "notes": ("x", "注" * 40, None, {"a": [1, {"b": None}]}),
}
FIELD_VALUES: dict[str, SearchStrategy[Any]] = {
    name: st.sampled_from(values) for name, values in FIELD_CHOICES.items()
}
for _name in ("event_id", "team_id", "handler_id", "approved_by"):
    FIELD_VALUES[_name] = st.one_of(FIELD_VALUES[_name], ids)
for _name in ("occurred_at", "received_at", "due_at"):
    FIELD_VALUES[_name] = time_values
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    c.OPENED: (
        "team_id",
        "handler_id",
        "channel",
        "category",
        "product_line",
        "priority",
        "received_at",
        "complainant",
        "group_size",
    ),
    c.ASSIGNED: ("team_id", "handler_id"),
    c.STAGE_CHANGED: ("to_stage",),
    c.CLOCK_PAUSED: ("reason",),
    c.CLOCK_RESUMED: (),
    c.DEADLINE_EXTENDED: ("tier", "approved_by"),
    c.DECISION_MADE: ("outcome",),
    c.FOLLOW_UP_SCHEDULED: ("due_at",),
    c.FOLLOW_UP_DONE: ("satisfaction",),
    c.ESCALATED: ("to",),
    c.CLOSED: ("resolution", "satisfaction"),
    c.REOPENED: ("new_facts",),
}
COMMON_FIELDS = ("schema", "event_id", "case_id", "seq", "type", "occurred_at", "actor")


def encode_json(obj: Any, style: int) -> bytes:
    """JSON text of ``obj`` in one of several spellings (stdlib json writes
    integers beyond 64 bits and escapes non-ASCII; orjson does neither)."""
    if style == 0:
        try:
            return orjson.dumps(obj)
        except TypeError:  # an integer beyond 64 bits
            style = 1
    if style == 1:
        return json.dumps(obj, ensure_ascii=False).encode()
    if style == 2:
        return json.dumps(obj, ensure_ascii=True).encode()
    return (" \n" + json.dumps(obj, ensure_ascii=False, indent=2) + "\t\r\n").encode()


json_styles = st.sampled_from((0, 0, 0, 1, 2, 3))


T = TypeVar("T")
_STRATEGIES: dict[Any, SearchStrategy[Any]] = {}


def _sampled(values: tuple[T, ...]) -> SearchStrategy[T]:
    """st.sampled_from(values), built once per distinct tuple (building and
    validating strategies anew costs more than drawing from them)."""
    key: Any = ("sampled", values)
    try:
        hash(key)
    except TypeError:  # unhashable values: not kept
        return st.sampled_from(values)
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = st.sampled_from(values)
    return strategy


def _integers(low: int, high: int) -> SearchStrategy[int]:
    key = ("integers", low, high)
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = st.integers(low, high)
    return strategy


def mutate(draw: DrawFn, event: dict[str, Any], fields: int = 2) -> dict[str, Any]:
    """``event`` with 1 to ``fields`` fields replaced, removed or nulled."""
    event = dict(event)
    names = _sampled((*COMMON_FIELDS, *TYPE_FIELDS.get(str(event.get("type")), ()), "notes"))
    for _ in range(draw(_integers(1, fields))):
        name = draw(names)
        action = draw(_integers(0, 5))
        if action == 0:
            event.pop(name, None)
        elif action == 1:
            event[name] = None
        else:
            event[name] = draw(FIELD_VALUES[name])
    return event


# Bytes that are no event at all.
RAW_VALUES: tuple[bytes | None, ...] = (
    None,
    b"",
    b" ",
    b"{",
    b"}",
    b"[]",
    b"[1, 2]",
    b"null",
    b"true",
    b"1",
    b"-0",
    b'"case.opened"',
    b"{}",
    b"\xff",
    b"\x00",
    b"\xc0\xaf",
    b'{"schema": "case-event/v1"',
    b'{"schema": "case-event/v1",}',
    b"{'schema': 'case-event/v1'}",
    b'{"seq": NaN}',
    b'{"seq": 1e400}',
    b'{"a": "\\ud800"}',
    b'{"a": "\\ud83d\\ude00"}',
    b"[" * 2000 + b"]" * 2000,
    b'{"schema": "case-event/v1", "schema": "case-event/v2"}',
    b"\xef\xbb\xbf{}",
)


# -- case life cycles --------------------------------------------------------------------

OPENED_OPTIONAL: dict[str, SearchStrategy[Any]] = {
    "priority": st.sampled_from(("normal", "urgent", "major", None)),
    "complainant": st.sampled_from(COMPLAINANTS[:3]),
    "group_size": st.sampled_from((1, 19, 20, 2**31 - 1, None)),
}
FOLLOWING = (
    c.ASSIGNED,
    c.STAGE_CHANGED,
    c.STAGE_CHANGED,
    c.STAGE_CHANGED,
    c.CLOCK_PAUSED,
    c.DEADLINE_EXTENDED,
    c.DECISION_MADE,
    c.DECISION_MADE,
    c.FOLLOW_UP_SCHEDULED,
    c.FOLLOW_UP_DONE,
    c.FOLLOW_UP_DONE,
    c.ESCALATED,
    c.CLOSED,
)
ESCALATIONS = ("regulator", *sorted(c.ESCALATION_TARGETS))


@dataclass
class Builder:
    """Writes the records of several cases, mostly following their life
    cycles, sometimes breaking them. Keeps each case's state with the pure
    core (decode + apply) to know what comes next."""

    draw: DrawFn
    tz: ZoneInfo
    states: dict[str, CaseState | None] = field(default_factory=dict)
    cursor: dict[str, int] = field(default_factory=dict)
    values: list[tuple[bytes | None, bytes | None]] = field(default_factory=list)
    emitted: dict[str, list[bytes]] = field(default_factory=dict)
    instants: list[float] = field(default_factory=list)
    serial: int = 0
    last_event_id: str = "e-0"

    # -- drawing ------------------------------------------------------------------

    def pick(self, values: Sequence[T]) -> T:
        return self.draw(_sampled(tuple(values)))

    def number(self, low: int, high: int) -> int:
        return self.draw(_integers(low, high))

    def chance(self, one_in: int) -> bool:
        return self.draw(_integers(1, one_in)) == 1

    # -- writing ------------------------------------------------------------------

    def event_id(self) -> str:
        kind = self.number(0, 19)
        if kind == 0:
            return self.last_event_id  # reused, against the contract
        if kind == 1:
            return str(self.pick(ID_VALUES[:14]))
        self.serial += 1
        self.last_event_id = f"e-{self.serial}"
        return self.last_event_id

    def time(self, case_id: str, exact_at: int | None = None) -> str:
        if exact_at is not None:
            at = exact_at
            style = self.draw(exact_styles)
        else:
            start = self.cursor.get(case_id)
            if start is None:
                start = self.pick(ANCHORS)
            at = start + step(self.draw)
            style = self.draw(time_styles)
        at = clamp(at)
        self.cursor[case_id] = at
        return render(at, style)

    def event(
        self, case_id: str, etype: str, seq: int, at: int | None = None, **fields: Any
    ) -> dict[str, Any]:
        event: dict[str, Any] = {
            "schema": c.SCHEMA,
            "event_id": self.event_id(),
            "case_id": case_id,
            "seq": seq,
            "type": etype,
            "occurred_at": self.time(case_id, at),
        }
        actor = self.number(0, 9)
        if actor == 0:
            event["actor"] = None
        elif actor < 3:
            event["actor"] = "u-001"
        event.update(fields)
        return event

    def emit(self, value: bytes | None, key: bytes | None) -> None:
        self.values.append((key, value))
        try:
            event = decode(value)
        except InvalidEvent:
            return
        self.instants.append(event.occurred_at)
        transition = apply(self.states.get(event.case_id), event, self.tz, DEFAULT_RULES)
        if transition.outcome is Outcome.APPLIED:
            self.states[event.case_id] = transition.state
            if value is not None:
                self.emitted.setdefault(event.case_id, []).append(value)

    def send(self, event: dict[str, Any]) -> None:
        case_id = event.get("case_id")
        key = case_id.encode() if isinstance(case_id, str) and self.number(0, 9) else None
        self.emit(encode_json(event, self.draw(json_styles)), key)

    # -- choosing -----------------------------------------------------------------

    def known(self) -> list[str]:
        return [cid for cid, state in self.states.items() if state is not None]

    def next_seq(self, state: CaseState) -> int:
        gap = self.number(0, 15)
        return state.last_seq + 1 + (self.number(1, 3) if gap == 0 else 0)

    def step(self) -> None:
        known = self.known()
        action = self.number(0, 99) if known else 0
        if action < 12:
            self.open_case()
        elif action < 72:
            self.follow(self.pick(known))
        elif action < 80:
            self.break_rule(self.pick(known))
        elif action < 88:
            self.duplicate(self.pick(known))
        elif action < 91:
            self.unknown_case()
        elif action < 98:
            self.malformed(self.pick(known))
        else:
            self.emit(self.pick(RAW_VALUES), None)

    def open_case(self) -> None:
        case_id = self.pick(CASE_IDS_OK)
        fields: dict[str, Any] = {
            "team_id": self.pick(TEAMS),
            "handler_id": self.pick(HANDLERS),
            "channel": self.pick(sorted(c.CHANNELS)),
            "category": self.pick(sorted(c.CATEGORIES)),
            "product_line": self.pick(sorted(c.PRODUCT_LINES)),
        }
        for name, values in OPENED_OPTIONAL.items():
            if self.chance(2):
                fields[name] = self.draw(values)
        event = self.event(case_id, c.OPENED, 1, **fields)
        if self.number(0, 2) == 0:
            received = self.cursor[case_id] + self.number(-20 * DAY, HOUR)
            event["received_at"] = render(clamp(received), self.draw(time_styles))
        self.send(event)

    def follow(self, case_id: str) -> None:
        """A plausible next event of the case."""
        state = self.states[case_id]
        assert state is not None
        seq = self.next_seq(state)
        if state.status == CLOSED:
            facts = self.pick((True, False, None, "absent"))
            reopening: dict[str, Any] = {} if facts == "absent" else {"new_facts": facts}
            self.send(self.event(case_id, c.REOPENED, seq, **reopening))
            return
        etype = self.pick(FOLLOWING)
        if state.clock.paused_since is not None and self.number(0, 3) == 0:
            etype = c.CLOCK_RESUMED  # pauses end, mostly
        at: int | None = None
        fields: dict[str, Any] = {}
        if etype == c.ASSIGNED:
            fields = {
                "team_id": self.pick(TEAMS),
                "handler_id": self.pick(HANDLERS),
            }
        elif etype == c.STAGE_CHANGED:
            others = [s for s in c.STAGES if s != state.stage]
            fields = {"to_stage": self.pick(others)}
        elif etype == c.CLOCK_PAUSED:
            if state.clock.paused_since is not None:
                etype = c.CLOCK_RESUMED
            else:
                fields = {"reason": self.pick(sorted(c.PAUSE_REASONS))}
        elif etype == c.DEADLINE_EXTENDED:
            tier = self.pick((1, 2))
            fields = {"tier": tier}
            if self.chance(2) or (tier == 2 and not self.chance(8)):
                fields["approved_by"] = self.pick(HANDLERS)  # (tier 2 without: a form error)
        elif etype == c.DECISION_MADE:
            at = self.near(deadline(state.clock, self.tz, seconds(self.cursor[case_id])))
            if self.chance(2):
                fields = {"outcome": self.pick(sorted(c.OUTCOMES))}
        elif etype == c.FOLLOW_UP_SCHEDULED:
            due = self.cursor[case_id] + step(self.draw)
            fields = {"due_at": render(clamp(due), self.draw(time_styles))}
        elif etype == c.FOLLOW_UP_DONE:
            if state.follow_up_due is not None:
                at = self.near(state.follow_up_due)
            fields = self.satisfaction()
        elif etype == c.ESCALATED:
            fields = {"to": self.pick(ESCALATIONS)}
        elif etype == c.CLOSED:
            fields = {"resolution": self.pick(sorted(c.RESOLUTIONS))}
            fields.update(self.satisfaction())
        self.send(self.event(case_id, etype, seq, at, **fields))

    def near(self, moment: float) -> int | None:
        """Exactly at ``moment`` (a deadline, a due time), a microsecond or a
        second either side, or (mostly) None: the case's usual pace."""
        choice = self.number(0, 6)
        if choice > 3:
            return None
        base = round(moment * 10**6)
        return base + (0, 1, -1, SECOND)[choice]

    def satisfaction(self) -> dict[str, Any]:
        value = self.pick((1, 2, 3, 4, 5, None, "absent"))
        return {} if value == "absent" else {"satisfaction": value}

    def break_rule(self, case_id: str) -> None:
        """A form-valid event that breaks a state rule of the case."""
        state = self.states[case_id]
        assert state is not None
        seq = self.next_seq(state)
        if state.status == CLOSED:
            etype = self.pick(c.EVENT_TYPES[1:-1])
            self.send(self.event(case_id, etype, seq, **_required(etype)))
            return
        clock: tuple[str, dict[str, Any]] = (
            (c.CLOCK_PAUSED, {"reason": "mediation"})
            if state.clock.paused_since is not None
            else (c.CLOCK_RESUMED, {})
        )
        choices: tuple[tuple[str, dict[str, Any]], ...] = (
            clock,
            clock,
            (c.REOPENED, {}),
            (c.STAGE_CHANGED, {"to_stage": state.stage}),
            (c.OPENED, _required(c.OPENED)),  # seq 1: a duplicate by the check order
        )
        etype, fields = choices[self.number(0, len(choices) - 1)]
        self.send(self.event(case_id, etype, 1 if etype == c.OPENED else seq, **fields))

    def duplicate(self, case_id: str) -> None:
        """An event again, or another one with a seq not above the case's last."""
        state = self.states[case_id]
        assert state is not None
        earlier = self.emitted.get(case_id)
        if earlier and self.chance(2):
            self.emit(self.pick(earlier), case_id.encode())
            return
        seq = self.number(1, max(1, min(state.last_seq, 2**63 - 1)))
        etype = self.pick(c.EVENT_TYPES[1:])
        self.send(self.event(case_id, etype, seq, **_required(etype)))

    def unknown_case(self) -> None:
        known = set(self.known())
        case_id = self.pick([cid for cid in CASE_IDS_OK if cid not in known] or ["U1"])
        etype = self.pick(c.EVENT_TYPES[1:])
        self.send(self.event(case_id, etype, self.number(1, 5), **_required(etype)))

    def malformed(self, case_id: str) -> None:
        """An event of the case with some fields changed: often a form error."""
        state = self.states[case_id]
        assert state is not None
        etype = self.pick(c.EVENT_TYPES)
        base = self.event(case_id, etype, self.next_seq(state), **_required(etype))
        self.send(mutate(self.draw, base))


def _required(etype: str) -> dict[str, Any]:
    """The required fields of a type, from tests.events.factory."""
    event = make_event(etype)
    return {name: event[name] for name in TYPE_FIELDS[etype] if name in event}


# -- stored states, rules, now ---------------------------------------------------------------

float_instants = st.one_of(
    instants.map(clamp).map(seconds),
    st.floats(0, LATEST_US / 10**6, allow_nan=False, allow_infinity=False),
)


@st.composite
def stored_states(draw: DrawFn, case_id: str) -> CaseState:
    """A state as Redis may hold it: any combination the codec can store
    that the state machine can go on from (valid stages, times in range)."""
    status = draw(st.sampled_from((OPEN, OPEN, CLOSED)))
    maybe = st.one_of(st.none(), float_instants)
    clock = DecisionClock(
        start=draw(float_instants),
        limit_days=draw(st.sampled_from((15, 30, 60))),
        paused_total=draw(
            st.one_of(
                st.sampled_from((0.0, 0.5, 3600.0, 280800.25, 1e11)),
                st.floats(0, 1e9, allow_nan=False),
            )
        ),
        paused_since=None if status == CLOSED else draw(maybe),
        decided_at=draw(maybe),
    )
    return CaseState(
        case_id=case_id,
        last_seq=draw(st.sampled_from((0, 1, 1, 2, 2, 3, 5, 40, 2**63 - 2, 2**63 - 1))),
        status=status,
        stage=draw(st.sampled_from(c.STAGES)),
        stage_entered_at=draw(float_instants),
        team_id=draw(st.sampled_from(TEAMS)),
        handler_id=draw(st.sampled_from(HANDLERS)),
        opened_at=draw(float_instants),
        channel=draw(st.sampled_from(sorted(c.CHANNELS))),
        category=draw(st.sampled_from(sorted(c.CATEGORIES))),
        product_line=draw(st.sampled_from(sorted(c.PRODUCT_LINES))),
        priority=draw(st.sampled_from(sorted(c.PRIORITIES))),
        group_size=draw(st.sampled_from((None, 1, 19, 20))),
        clock=clock,
        follow_up_due=draw(maybe),
        follow_up_done=draw(st.booleans()),
        satisfaction_given=draw(st.booleans()),
        escalated_to_regulator=draw(st.booleans()),
        closed_at=draw(maybe) if status == CLOSED else None,
        reopen_count=draw(st.integers(0, 3)),
        rework_count=draw(st.integers(0, 3)),
    )


POINTS = (10, -10, 0, 3, -3, 7.5, -0.125, 0.125, 2.675, 1.005, 0.005, -0.004, 1e6, 1 / 3)
WEIGHTS = (1.5, 0.3333, 0.5, 0.1, 3, 0, -1, 1.0, 2.675)
points = st.one_of(
    st.sampled_from(POINTS), st.floats(-100, 100, allow_nan=False, allow_infinity=False)
)
scoring_rules: SearchStrategy[ScoringRules] = st.one_of(
    st.just(DEFAULT_RULES),
    st.builds(
        ScoringRules,
        decision_on_time=points,
        decision_late=points,
        follow_up_on_time=points,
        follow_up_late=points,
        satisfaction=st.dictionaries(st.integers(1, 5), points, max_size=5),
        escalated_to_regulator=points,
        reopened=points,
        rework=points,
        category_weights=st.dictionaries(
            st.sampled_from(sorted(c.CATEGORIES)), st.sampled_from(WEIGHTS), max_size=6
        ),
    ),
    st.just(ScoringRules(category_weights={"claims": 1.5, "sales": 0.3333, "other": 0.1})),
)


@dataclass(frozen=True)
class SwitchingRules:
    """A rule source whose rules change at one instant (as a rule book's do
    when a published rule set takes effect)."""

    before: ScoringRules
    after: ScoringRules
    at: float

    def rules_at(self, epoch: float) -> ScoringRules:
        return self.before if epoch < self.at else self.after

    def ruleset_at(self, epoch: float) -> str:
        return "before" if epoch < self.at else "after"

    def refresh(self) -> None:
        return None


def rule_sources(moments: Sequence[float]) -> SearchStrategy[Any]:
    """Fixed rules, or rules that switch at (or next to) one of ``moments``."""
    switch_at = (
        st.sampled_from(moments).flatmap(
            lambda m: st.sampled_from((m, m + 1e-6, m - 1e-6, m + 0.5))
        )
        if moments
        else st.just(1.7e9)
    )
    return st.one_of(
        scoring_rules,
        st.builds(SwitchingRules, scoring_rules, scoring_rules, switch_at),
    )


def nows(moments: Sequence[float], tz: ZoneInfo) -> SearchStrategy[float]:
    """``now`` values: before, among and after the events, and right at the edge
    where the throughput retention drops an event's hour."""
    retention = THROUGHPUT_RETENTION_DAYS * 86400
    fixed = st.sampled_from((0.0, 1_795_000_000.0, 2.5e11))
    if not moments:
        return fixed
    edge = st.sampled_from(moments).flatmap(
        lambda m: st.sampled_from((0.0, -0.5, 0.5, 1e-6, -3600.0)).map(
            lambda d: hour_start(m, tz) + retention + d
        )
    )
    return st.one_of(fixed, edge, st.sampled_from(moments).map(lambda m: m + 30 * 86400.0))


# -- whole scenarios ----------------------------------------------------------------------------

RPUSH_KEY = "co:{m}:dlq:outbox:complaintops-metrics:0"
RPUSHES: tuple[dict[str, list[bytes]], ...] = (
    {},
    {RPUSH_KEY: []},
    {RPUSH_KEY: [b'{"reason": "x"}', "无效 \u3000".encode()], "co:{m}:dlq:outbox:g:1": []},
)
rpushes = st.sampled_from(RPUSHES)


def records_of(
    values: Sequence[tuple[bytes | None, bytes | None]], partitions: int = 3
) -> list[RawRecord]:
    """Records with distinct positions, in the given order."""
    next_offset = [0] * partitions
    out: list[RawRecord] = []
    for i, (key, value) in enumerate(values):
        partition = i % partitions
        out.append(RawRecord(TOPIC, partition, next_offset[partition], value, key))
        next_offset[partition] += 1
    return out


def cut(records: Sequence[RawRecord], cuts: Sequence[int]) -> list[list[RawRecord]]:
    """``records`` cut at the given positions (empty batches allowed)."""
    bounds = [0, *sorted(min(x, len(records)) for x in cuts), len(records)]
    return [list(records[a:b]) for a, b in pairwise(bounds)]


@dataclass(frozen=True)
class Drawn:
    """What a scenario strategy drew, before it becomes a compare.Scenario."""

    tz: ZoneInfo
    rules: Any
    batches: list[list[RawRecord]]
    now: float
    stored: dict[str, bytes]
    rpush: Mapping[str, Sequence[bytes]]


@st.composite
def life_cycles(draw: DrawFn, max_steps: int = 40, stored: bool = False) -> Drawn:
    """Several cases' events, in batches, with a zone, rules and a ``now``."""
    tz = draw(_sampled(ZONES))
    builder = Builder(draw, tz)
    stored_raw: dict[str, bytes] = {}
    if stored:
        for case_id in draw(
            st.lists(st.sampled_from(CASE_IDS_OK), min_size=1, max_size=3, unique=True)
        ):
            state = draw(stored_states(case_id))
            stored_raw[case_id] = encode_state(state)
            builder.states[case_id] = state
            builder.cursor[case_id] = clamp(round(state.stage_entered_at * 10**6))
    for _ in range(draw(_integers(1, max_steps))):
        builder.step()
    records = records_of(builder.values)
    batches = cut(records, draw(st.lists(st.integers(0, len(records)), max_size=3)))
    return Drawn(
        tz=tz,
        rules=draw(rule_sources(builder.instants)),
        batches=batches,
        now=draw(nows(builder.instants, tz)),
        stored=stored_raw,
        rpush=draw(rpushes),
    )


@st.composite
def form_batches(draw: DrawFn) -> Drawn:
    """A batch of events with fields replaced by values of every kind, and raw
    bytes; each event's case is opened first, so many are applied."""
    tz = draw(_sampled(ZONES))
    values: list[tuple[bytes | None, bytes | None]] = []
    for _ in range(draw(_integers(1, 12))):
        case_id = draw(_sampled(CASE_IDS_OK))
        etype = draw(_sampled(c.EVENT_TYPES))
        event = make_event(
            etype,
            full=draw(_integers(0, 1)) == 1,
            case_id=case_id,
            seq=1 if etype == c.OPENED else draw(_integers(2, 4)),
            occurred_at=draw(rendered_times),
        )
        if etype != c.OPENED:
            opened = make_event(c.OPENED, case_id=case_id, occurred_at="2026-11-20T09:00:00+08:00")
            values.append((None, orjson.dumps(opened)))
        changed = mutate(draw, event, fields=3)
        values.append((case_id.encode(), encode_json(changed, draw(json_styles))))
        if draw(_integers(0, 5)) == 0:
            values.append((None, draw(_sampled(RAW_VALUES))))
        if draw(_integers(0, 20)) == 0:
            values.append((None, oversized(changed, draw(_integers(-1, 1)))))
    records = records_of(values)
    moments = [1_795_000_000.0]
    return Drawn(
        tz=tz,
        rules=draw(scoring_rules),
        batches=cut(records, draw(st.lists(st.integers(0, len(records)), max_size=1))),
        now=draw(nows(moments, tz)),
        stored={},
        rpush={},
    )


def oversized(event: Mapping[str, Any], over: int) -> bytes:
    """``event`` padded to 64 KiB + ``over`` bytes exactly."""
    padded = dict(event, notes="")
    base = len(encode_json(padded, 1))
    padded["notes"] = "x" * max(0, c.MAX_EVENT_BYTES + over - base)
    return encode_json(padded, 1)
