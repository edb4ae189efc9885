"""Check 1 of the contract: the form of an event (case-events-v1.md).

Every row is one edge of the contract. Rejections must name the field, since
the reason travels to the dead-letter topic and is shown to operators.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events import contract as c
from events.decode import decode
from events.errors import InvalidEvent
from events.model import CaseEvent, Complainant
from tests.events.factory import (
    CASE_ID,
    OPENED_AT,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    encode,
    instant,
    make_event,
)

COMMON_REQUIRED = ("schema", "event_id", "case_id", "seq", "type", "occurred_at")
TYPES_OTHER_THAN_OPENED = [t for t in c.EVENT_TYPES if t != c.OPENED]


def reject(event: dict[str, Any]) -> str:
    """The reason the decoder gives for rejecting ``event``."""
    with pytest.raises(InvalidEvent) as caught:
        decode(encode(event))
    return caught.value.reason


def event_of(event_type: str, **overrides: Any) -> dict[str, Any]:
    """An event of ``event_type``; every type but case.opened gets seq 2."""
    seq = 1 if event_type == c.OPENED else 2
    return make_event(event_type, **{"seq": seq, **overrides})


# -- valid events ------------------------------------------------------------


@pytest.mark.parametrize("event_type", c.EVENT_TYPES)
def test_every_type_is_valid_with_only_its_required_fields(event_type: str) -> None:
    raw = event_of(event_type)
    assert set(raw) == set(COMMON_REQUIRED) | set(REQUIRED_FIELDS[event_type])

    event = decode(encode(raw))

    assert event.type == event_type
    assert event.event_id == raw["event_id"]
    assert event.case_id == CASE_ID
    assert event.seq == raw["seq"]
    assert event.occurred_at == instant(OPENED_AT)
    assert event.occurred_at_text == OPENED_AT
    assert event.actor is None
    assert event.payload == raw
    for name, value in REQUIRED_FIELDS[event_type].items():
        expected = instant(value) if name == "due_at" else value
        assert getattr(event, name) == expected, name


@pytest.mark.parametrize("event_type", c.EVENT_TYPES)
def test_every_type_is_valid_with_all_its_optional_fields(event_type: str) -> None:
    raw = event_of(event_type, full=True)
    assert set(raw) >= set(OPTIONAL_FIELDS[event_type]) | {"actor"}

    event = decode(encode(raw))

    assert event.type == event_type
    assert event.actor == "u-001"


def test_all_optional_fields_of_case_opened_are_decoded() -> None:
    event = decode(encode(make_event(c.OPENED, full=True)))

    assert event.team_id == "claims-east"
    assert event.handler_id == "h-017"
    assert event.channel == "phone"
    assert event.category == "claims"
    assert event.product_line == "auto"
    assert event.priority == "urgent"
    assert event.received_at == instant("2026-11-23T17:45:00+08:00")
    assert event.complainant == Complainant(
        gender="f", age_band="45-59", occupation="教师", repeat=False
    )
    assert event.group_size == 3


def test_case_opened_without_priority_is_normal_and_without_received_at_has_none() -> None:
    event = decode(encode(make_event(c.OPENED)))

    assert event.priority == "normal"
    assert event.received_at is None
    assert event.complainant is None
    assert event.group_size is None


@pytest.mark.parametrize(
    ("event_type", "attribute", "expected"),
    [
        (c.DEADLINE_EXTENDED, "approved_by", "m-001"),
        (c.DECISION_MADE, "outcome", "partially_upheld"),
        (c.FOLLOW_UP_DONE, "satisfaction", 4),
        (c.CLOSED, "satisfaction", 5),
        (c.REOPENED, "new_facts", True),
    ],
)
def test_optional_fields_are_decoded(event_type: str, attribute: str, expected: Any) -> None:
    assert getattr(decode(encode(event_of(event_type, full=True))), attribute) == expected


def test_the_contract_example_is_valid() -> None:
    raw = (
        b'{"schema": "case-event/v1", "event_id": "e-0001", "case_id": "C2026-000123",'
        b' "seq": 1, "type": "case.opened", "occurred_at": "2026-11-24T09:30:00+08:00",'
        b' "team_id": "claims-east", "handler_id": "h-017", "channel": "phone",'
        b' "category": "claims", "product_line": "auto", "priority": "normal",'
        b' "complainant": {"gender": "f", "age_band": "45-59", "repeat": false}}'
    )

    event = decode(raw)

    assert event.case_id == "C2026-000123"
    assert event.complainant == Complainant(gender="f", age_band="45-59", repeat=False)


def test_a_text_value_decodes_like_its_utf8_bytes() -> None:
    raw = make_event(c.OPENED, full=True)

    assert decode(encode(raw).decode()) == decode(encode(raw))


def test_unknown_extra_fields_are_ignored() -> None:
    raw = make_event(
        c.OPENED,
        future_field={"nested": [1, 2, 3]},
        another=None,
        complainant={"gender": "m", "future_key": "x"},
    )

    event = decode(encode(raw))

    assert event.complainant == Complainant(gender="m")
    assert event.payload["future_field"] == {"nested": [1, 2, 3]}


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        (c.OPENED, "actor"),
        (c.OPENED, "priority"),
        (c.OPENED, "received_at"),
        (c.OPENED, "complainant"),
        (c.OPENED, "group_size"),
        (c.DEADLINE_EXTENDED, "approved_by"),
        (c.DECISION_MADE, "outcome"),
        (c.FOLLOW_UP_DONE, "satisfaction"),
        (c.CLOSED, "satisfaction"),
        (c.REOPENED, "new_facts"),
    ],
)
def test_an_optional_field_given_as_null_counts_as_absent(event_type: str, field: str) -> None:
    event = decode(encode(event_of(event_type, **{field: None})))

    expected = "normal" if field == "priority" else None
    assert getattr(event, field) == expected


# -- required fields -----------------------------------------------------------


MISSING_ROWS = [
    (event_type, field)
    for event_type in c.EVENT_TYPES
    for field in (*COMMON_REQUIRED, *REQUIRED_FIELDS[event_type])
]


@pytest.mark.parametrize(("event_type", "field"), MISSING_ROWS)
def test_every_required_field_missing_is_invalid(event_type: str, field: str) -> None:
    assert reject(event_of(event_type, omit=[field])) == f"missing field '{field}'"


@pytest.mark.parametrize(("event_type", "field"), MISSING_ROWS)
def test_every_required_field_given_as_null_is_invalid(event_type: str, field: str) -> None:
    assert reject(event_of(event_type, **{field: None})) == f"missing field '{field}'"


# -- wrong types and bad values ------------------------------------------------


def rows(event_type: str, field: str, *values: Any) -> list[tuple[str, str, Any]]:
    return [(event_type, field, value) for value in values]


# (event type, field, value): each value has the wrong JSON type or breaks the
# field's rule. ``true`` is not an integer, and neither is 1.5.
WRONG_VALUE_ROWS: list[tuple[str, str, Any]] = [
    # integers
    *rows(c.OPENED, "seq", "1", True, 1.5, 0, -1, [1], {"n": 1}),
    *rows(c.DECISION_MADE, "seq", 2**63, 2**64 - 1),  # beyond a BIGINT
    *rows(c.DECISION_MADE, "seq", "2", True, False, 2.5, 0, -7),
    *rows(c.DEADLINE_EXTENDED, "tier", "1", True, 1.5, 0, 3, -1, [1]),
    *rows(c.FOLLOW_UP_DONE, "satisfaction", "4", True, 4.5, 0, 6, -1),
    *rows(c.CLOSED, "satisfaction", "5", True, 3.5, 0, 6),
    *rows(c.OPENED, "group_size", "20", True, 2.5, 0, -3, 2**31, 2**63),  # beyond an INTEGER
    # strings
    *rows(c.OPENED, "schema", "case-event/v2", "Case-Event/v1", "case-event/v1 ", "", 1),
    *rows(
        c.OPENED,
        "event_id",
        "",
        "e" * 65,
        "e\x00-1",
        "e\n",
        "e\u2028",
        "e\u200b",
        7,
        True,
        ["e-1"],
        {"id": 1},
    ),
    *rows(c.OPENED, "case_id", "", "x" * 65, 123, True, ["C1"]),
    *rows(c.OPENED, "team_id", "", "t" * 65, 5, False),
    *rows(c.OPENED, "handler_id", "", "h" * 65, 5, True),
    *rows(c.ASSIGNED, "team_id", "", 9, []),
    *rows(c.ASSIGNED, "handler_id", "", 9, {}),
    *rows(c.OPENED, "actor", 5, True, ["u-1"], {"id": "u-1"}),
    (c.DEADLINE_EXTENDED, "approved_by", ""),
    (c.DEADLINE_EXTENDED, "approved_by", 17),
    # enumerations: a bad value and a wrong type each
    *rows(c.OPENED, "type", "case.deleted", "opened", "CASE.OPENED", 1),
    *rows(c.OPENED, "channel", "fax", "Phone", 1),
    *rows(c.OPENED, "category", "fraud", "Claims", True),
    *rows(c.OPENED, "product_line", "marine", "", []),
    *rows(c.OPENED, "priority", "low", "Major", 2),
    *rows(c.STAGE_CHANGED, "to_stage", "closed", "Intake", "跟进", 3),
    *rows(c.CLOCK_PAUSED, "reason", "holiday", "", False),
    *rows(c.DECISION_MADE, "outcome", "accepted", "upheld ", 1),
    *rows(c.ESCALATED, "to", "court", "media", 0),
    *rows(c.CLOSED, "resolution", "done", "Resolved", {}),
    # booleans
    *rows(c.REOPENED, "new_facts", "yes", "true", 1, 0),
    # times
    *rows(c.OPENED, "occurred_at", 1764000000, True, ["2026-11-24T09:30:00Z"]),
    *rows(c.OPENED, "received_at", 1764000000, "yesterday"),
    *rows(c.FOLLOW_UP_SCHEDULED, "due_at", 1764000000, "2026-12-20"),
    # 投诉人画像
    (c.OPENED, "complainant", ["f", "45-59"]),
    (c.OPENED, "complainant", "f"),
]


@pytest.mark.parametrize(("event_type", "field", "value"), WRONG_VALUE_ROWS)
def test_a_wrong_type_or_value_is_invalid_and_named(
    event_type: str, field: str, value: Any
) -> None:
    reason = reject(event_of(event_type, **{field: value}))

    assert f"field '{field}'" in reason


COMPLAINANT_ROWS: list[tuple[str, Any]] = [
    ("gender", "x"),
    ("gender", "F"),
    ("gender", "female"),
    ("gender", 1),
    ("age_band", "25"),
    ("age_band", "60"),
    ("age_band", "<30 "),
    ("age_band", 45),
    ("occupation", "o" * 65),
    ("occupation", "职" * 65),
    ("occupation", 12),
    ("occupation", ["teacher"]),
    ("repeat", "yes"),
    ("repeat", "false"),
    ("repeat", 1),
]


@pytest.mark.parametrize(("key", "value"), COMPLAINANT_ROWS)
def test_a_bad_complainant_key_is_invalid_and_named(key: str, value: Any) -> None:
    reason = reject(make_event(c.OPENED, complainant={key: value}))

    assert f"field 'complainant.{key}'" in reason


@pytest.mark.parametrize(
    "complainant",
    [
        {},
        {"gender": "u"},
        {"age_band": "60+"},
        {"age_band": "<30", "repeat": True},
        {"occupation": "o" * 64},
        {"occupation": "职" * 64},
        {"gender": None, "age_band": None, "occupation": None, "repeat": None},
    ],
)
def test_complainant_keys_are_all_optional(complainant: dict[str, Any]) -> None:
    event = decode(encode(make_event(c.OPENED, complainant=complainant)))

    assert event.complainant is not None
    assert event.complainant.occupation == complainant.get("occupation")


# -- exact reasons (shown to operators) ----------------------------------------


EXACT_REASON_ROWS: list[tuple[dict[str, Any], str]] = [
    (make_event(omit=["schema"]), "missing field 'schema'"),
    (
        make_event(schema="case-event/v2"),
        "field 'schema' must be exactly 'case-event/v1', got \"case-event/v2\"",
    ),
    (
        make_event(event_id=""),
        "field 'event_id' must be a string of 1 to 64 printable characters, got \"\"",
    ),
    (
        make_event(case_id="C 1"),
        "field 'case_id' must be 1 to 64 characters of A-Z a-z 0-9 _ -, got \"C 1\"",
    ),
    (
        make_event(case_id="C/1"),
        "field 'case_id' must be 1 to 64 characters of A-Z a-z 0-9 _ -, got \"C/1\"",
    ),
    (make_event(seq=0), "field 'seq' must be an integer >= 1, got 0"),
    (make_event(seq="1"), "field 'seq' must be an integer >= 1, got \"1\""),
    (make_event(seq=True), "field 'seq' must be an integer >= 1, got true"),
    (make_event(seq=1.5), "field 'seq' must be an integer >= 1, got 1.5"),
    (make_event(seq=2), "field 'seq' must be 1 for case.opened, got 2"),
    (
        make_event(type="case.deleted"),
        "field 'type' must be one of case.opened, case.assigned, case.stage_changed, "
        "case.clock_paused, case.clock_resumed, case.deadline_extended, case.decision_made, "
        "case.follow_up_scheduled, case.follow_up_done, case.escalated, case.closed, "
        'case.reopened, got "case.deleted"',
    ),
    (
        make_event(occurred_at="2026-11-24T09:30:00"),
        "field 'occurred_at' must be an RFC 3339 date-time with a UTC offset, "
        'got "2026-11-24T09:30:00"',
    ),
    (
        make_event(occurred_at=1764000000),
        "field 'occurred_at' must be an RFC 3339 date-time string, got 1764000000",
    ),
    (
        make_event(channel="fax"),
        "field 'channel' must be one of app, email, letter, online, phone, "
        'regulator_referral, visit, got "fax"',
    ),
    (
        make_event(c.STAGE_CHANGED, seq=2, to_stage="closed"),
        "field 'to_stage' must be one of intake, investigation, resolution, feedback, "
        'follow_up, review, got "closed"',
    ),
    (make_event(c.DEADLINE_EXTENDED, seq=2, tier=3), "field 'tier' must be 1 or 2, got 3"),
    (make_event(c.DEADLINE_EXTENDED, seq=2, tier=2), "missing field 'approved_by'"),
    (
        make_event(c.FOLLOW_UP_DONE, seq=2, satisfaction=6),
        "field 'satisfaction' must be an integer from 1 to 5, got 6",
    ),
    (make_event(group_size=0), "field 'group_size' must be an integer >= 1, got 0"),
    (
        make_event(group_size=2**31),
        "field 'group_size' must be at most 2147483647, got 2147483648",
    ),
    (
        make_event(c.DECISION_MADE, seq=2**63),
        "field 'seq' must be at most 9223372036854775807, got 9223372036854775808",
    ),
    (
        make_event(complainant={"gender": "x"}),
        "field 'complainant.gender' must be one of f, m, u, got \"x\"",
    ),
    (
        make_event(complainant={"age_band": "25"}),
        "field 'complainant.age_band' must be one of 30-44, 45-59, 60+, <30, got \"25\"",
    ),
    (
        make_event(complainant={"repeat": "yes"}),
        "field 'complainant.repeat' must be a boolean, got \"yes\"",
    ),
    (
        make_event(c.REOPENED, seq=2, new_facts="yes"),
        "field 'new_facts' must be a boolean, got \"yes\"",
    ),
    (make_event(actor=5), "field 'actor' must be a string, got 5"),
    (make_event(complainant=[1]), "field 'complainant' must be an object, got [1]"),
]


@pytest.mark.parametrize(("event", "reason"), EXACT_REASON_ROWS)
def test_reasons_are_exact(event: dict[str, Any], reason: str) -> None:
    assert reject(event) == reason


def test_a_long_value_is_cut_in_the_reason() -> None:
    reason = reject(make_event(case_id="/" * 200))

    prefix = "field 'case_id' must be 1 to 64 characters of A-Z a-z 0-9 _ -, got "
    assert reason == prefix + '"' + "/" * 76 + "..."


# -- identifiers ----------------------------------------------------------------


@pytest.mark.parametrize(
    "case_id",
    ["C2026-000123", "a", "Z", "0", "_", "-", "A_b-9", "x" * 64],
)
def test_case_ids_of_the_allowed_characters_are_valid(case_id: str) -> None:
    assert decode(encode(make_event(case_id=case_id))).case_id == case_id


@pytest.mark.parametrize(
    "case_id",
    [
        "",
        "C 1",
        " C1",
        "C/1",
        "C.1",
        "C+1",
        "投诉-1",
        "C1é",
        "x" * 65,
        "C1\n",
        "\nC1",
        "C1\t",
    ],
)
def test_case_ids_with_other_characters_or_too_long_are_invalid(case_id: str) -> None:
    assert "field 'case_id'" in reject(make_event(case_id=case_id))


@pytest.mark.parametrize(
    "event_id",
    # spaces of every kind are characters too: the ideographic space, no-break space
    ["e", "事件-1", "e" * 64, "a b/c", "事件\u30001", "e\u00a01", "\u3000"],
)
def test_event_ids_of_1_to_64_characters_are_valid(event_id: str) -> None:
    assert decode(encode(make_event(event_id=event_id))).event_id == event_id


@pytest.mark.parametrize("event_id", ["", "e" * 65, "事" * 65])
def test_event_ids_empty_or_longer_than_64_are_invalid(event_id: str) -> None:
    assert "field 'event_id'" in reject(make_event(event_id=event_id))


# -- seq -----------------------------------------------------------------------


@pytest.mark.parametrize("seq", [0, -1, "1", 1.5, True, None])
def test_bad_seq_values_are_invalid(seq: Any) -> None:
    assert "field 'seq'" in reject(make_event(c.ASSIGNED, seq=seq))


@pytest.mark.parametrize("seq", [1, 2, 99, 2**53])
def test_any_seq_of_1_or_more_is_valid_for_other_types(seq: int) -> None:
    assert decode(encode(make_event(c.ASSIGNED, seq=seq))).seq == seq


@pytest.mark.parametrize("seq", [2, 3, 100])
def test_case_opened_must_have_seq_1(seq: int) -> None:
    assert reject(make_event(c.OPENED, seq=seq)) == (
        f"field 'seq' must be 1 for case.opened, got {seq}"
    )


# -- time stamps ----------------------------------------------------------------

TIME_FIELDS = [
    (c.OPENED, "occurred_at"),
    (c.OPENED, "received_at"),
    (c.FOLLOW_UP_SCHEDULED, "due_at"),
]

ACCEPTED_TIMES = [
    ("2026-11-24T09:30:00+08:00", "2026-11-24T01:30:00Z"),
    ("2026-11-24T01:30:00Z", "2026-11-24T01:30:00+00:00"),
    ("2026-11-24T01:30:00z", "2026-11-24T01:30:00Z"),
    ("2026-11-24t01:30:00Z", "2026-11-24T01:30:00Z"),
    ("2026-11-23T20:30:00-05:00", "2026-11-24T01:30:00Z"),
    ("2026-11-24T01:30:00-00:00", "2026-11-24T01:30:00Z"),
    ("2026-11-24T09:30:00.5+08:00", "2026-11-24T01:30:00.500Z"),
    ("2026-11-24T09:30:00.123456+08:00", "2026-11-24T01:30:00.123456Z"),
    ("2026-11-24T09:30:00.123456789+08:00", "2026-11-24T01:30:00.123456Z"),
    # RFC 3339 puts no bound on the fraction's digits
    ("2026-11-24T09:30:00.123456789012345+08:00", "2026-11-24T01:30:00.123456Z"),
    # a leap second counts as the first second of the next minute
    ("2016-12-31T23:59:60Z", "2017-01-01T00:00:00Z"),
    ("2017-01-01T07:59:60+08:00", "2017-01-01T00:00:00Z"),
    ("2026-11-24T09:30:00+23:59", "2026-11-23T09:31:00Z"),
    ("2028-02-29T12:00:00+08:00", "2028-02-29T04:00:00Z"),
]


@pytest.mark.parametrize(("event_type", "field"), TIME_FIELDS)
@pytest.mark.parametrize(("text", "same_instant_as"), ACCEPTED_TIMES)
def test_rfc3339_times_with_an_offset_are_accepted(
    event_type: str, field: str, text: str, same_instant_as: str
) -> None:
    event = decode(encode(event_of(event_type, **{field: text})))

    assert getattr(event, field) == pytest.approx(instant(same_instant_as), abs=1e-6)


def test_fractional_seconds_are_kept() -> None:
    event = decode(encode(make_event(occurred_at="2026-11-24T09:30:00.25+08:00")))

    assert event.occurred_at - instant("2026-11-24T09:30:00+08:00") == pytest.approx(0.25)
    assert event.occurred_at_text == "2026-11-24T09:30:00.25+08:00"


REJECTED_TIMES = [
    "2026-11-24T09:30:00",  # no offset
    "2026-11-24",  # date only
    "09:30:00+08:00",  # time only
    "2026-02-30T09:30:00+08:00",  # no such day
    "2026-02-29T09:30:00+08:00",  # not a leap year
    "2026-13-01T09:30:00+08:00",
    "2026-11-31T09:30:00+08:00",
    "2026-11-24T24:00:00+08:00",
    "2026-11-24T09:60:00+08:00",
    "2026-11-24T09:30:61+08:00",
    "2026-11-24T09:30+08:00",  # seconds are required
    "2026-11-24T09:30:00+0800",
    "2026-11-24T09:30:00+08",
    "2026-11-24T09:30:00+24:00",
    "2026-11-24T09:30:00.+08:00",
    "2026-11-24T09:30:00,5+08:00",
    "2026-11-24T09:30:00+08:60",  # offset minutes run 00 to 59
    "2026-11-24T09:30:00+08:99",
    "2026-11-24T09:30:00+99:00",
    "2026-11-24T09:60:60+08:00",
    "2026-11-24T09:30:00+08:00\n",
    " 2026-11-24T09:30:00+08:00",
    "26-11-24T09:30:00+08:00",
    "2026/11/24T09:30:00+08:00",
    "２０２６-11-24T09:30:00+08:00",  # full-width digits
    "1969-12-31T23:59:59Z",  # before the years the clocks compute with
    "9000-01-01T00:00:00Z",
    "9999-12-31T23:59:59+08:00",
    "",
]


@pytest.mark.parametrize(("event_type", "field"), TIME_FIELDS)
@pytest.mark.parametrize("text", REJECTED_TIMES)
def test_times_without_offset_or_not_rfc3339_are_invalid(
    event_type: str, field: str, text: str
) -> None:
    assert f"field '{field}'" in reject(event_of(event_type, **{field: text}))


def test_received_at_earlier_than_occurred_at_is_valid() -> None:
    event = decode(
        encode(
            make_event(
                occurred_at="2026-11-26T10:00:00+08:00", received_at="2026-11-24T09:30:00+08:00"
            )
        )
    )

    assert event.received_at is not None
    assert event.received_at < event.occurred_at


# -- per-type rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "approved_by", "valid"),
    [
        (1, None, True),
        (1, "m-001", True),
        (2, "m-001", True),
        (2, None, False),
        (2, "", False),
        (3, "m-001", False),
        (0, None, False),
    ],
)
def test_deadline_extension_tiers(tier: int, approved_by: str | None, valid: bool) -> None:
    raw = make_event(c.DEADLINE_EXTENDED, seq=2, tier=tier, approved_by=approved_by)
    if valid:
        event = decode(encode(raw))
        assert (event.tier, event.approved_by) == (tier, approved_by)
    else:
        reason = reject(raw)
        assert "field 'tier'" in reason or "field 'approved_by'" in reason


@pytest.mark.parametrize("event_type", [c.FOLLOW_UP_DONE, c.CLOSED])
@pytest.mark.parametrize(("satisfaction", "valid"), [(0, False), (1, True), (5, True), (6, False)])
def test_satisfaction_is_1_to_5(event_type: str, satisfaction: int, valid: bool) -> None:
    raw = event_of(event_type, satisfaction=satisfaction)
    if valid:
        assert decode(encode(raw)).satisfaction == satisfaction
    else:
        assert "field 'satisfaction'" in reject(raw)


@pytest.mark.parametrize(("group_size", "valid"), [(0, False), (-1, False), (1, True), (20, True)])
def test_group_size_is_at_least_1(group_size: int, valid: bool) -> None:
    raw = make_event(group_size=group_size)
    if valid:
        assert decode(encode(raw)).group_size == group_size
    else:
        assert "field 'group_size'" in reject(raw)


@pytest.mark.parametrize("stage", c.STAGES)
def test_every_stage_is_a_valid_target(stage: str) -> None:
    assert decode(encode(make_event(c.STAGE_CHANGED, seq=2, to_stage=stage))).to_stage == stage


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("channel", c.CHANNELS),
        ("category", c.CATEGORIES),
        ("product_line", c.PRODUCT_LINES),
        ("priority", c.PRIORITIES),
    ],
)
def test_every_enumerated_value_of_case_opened_is_valid(field: str, values: frozenset[str]) -> None:
    for value in sorted(values):
        overrides: dict[str, Any] = {field: value}
        assert getattr(decode(encode(make_event(**overrides))), field) == value


@pytest.mark.parametrize(
    ("event_type", "field", "values"),
    [
        (c.CLOCK_PAUSED, "reason", c.PAUSE_REASONS),
        (c.DECISION_MADE, "outcome", c.OUTCOMES),
        (c.ESCALATED, "to", c.ESCALATION_TARGETS),
        (c.CLOSED, "resolution", c.RESOLUTIONS),
    ],
)
def test_every_enumerated_value_of_other_types_is_valid(
    event_type: str, field: str, values: frozenset[str]
) -> None:
    for value in sorted(values):
        event = decode(encode(event_of(event_type, **{field: value})))
        assert getattr(event, field) == value


# -- the record value itself ---------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"hello", b"{'schema': 'case-event/v1'}", b'{"a": 1,}', b"\xff\xfe{}", b"NaN"],
)
def test_values_that_are_not_json_are_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert caught.value.reason.startswith("not JSON: ")


@pytest.mark.parametrize("raw", [b"[]", b"[{}]", b'"case.opened"', b"1", b"null", b"true"])
def test_json_that_is_not_an_object_is_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert caught.value.reason == "event is not a JSON object"


def test_a_missing_value_is_an_invalid_tombstone() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(None)

    assert caught.value.reason == "empty record value (tombstone)"


def test_text_that_cannot_be_utf8_is_invalid() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode('{"schema": "\ud800"}')

    assert caught.value.reason.startswith("not JSON: ")


def _padded_to(size: int) -> bytes:
    """A valid case.opened of exactly ``size`` bytes (UTF-8)."""
    event = make_event(event_id="e-size", padding="")
    missing = size - len(encode(event))
    raw = encode({**event, "padding": "x" * missing})
    assert len(raw) == size
    return raw


def test_an_event_of_exactly_64_kib_is_valid() -> None:
    assert decode(_padded_to(65536)).event_id == "e-size"


def test_an_event_over_64_kib_is_invalid() -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode(_padded_to(65537))

    assert caught.value.reason == "event is 65537 bytes, more than the 64 KiB limit"


def test_the_size_limit_counts_utf8_bytes_of_text_values() -> None:
    event = make_event(event_id="e-size", padding="")
    # 3 bytes per character: 21,846 characters make more than 65,536 bytes.
    raw = encode({**event, "padding": "投" * 21846}).decode()

    with pytest.raises(InvalidEvent) as caught:
        decode(raw)

    assert "64 KiB" in caught.value.reason


# -- form beats everything ------------------------------------------------------


def test_with_every_field_wrong_the_schema_is_named_first() -> None:
    assert reject({"schema": 1, "event_id": 2, "case_id": 3, "seq": "x"}).startswith(
        "field 'schema'"
    )


# -- property: decode never raises anything but InvalidEvent --------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(
        [
            *c.EVENT_TYPES,
            *c.STAGES,
            c.SCHEMA,
            OPENED_AT,
            "2026-02-30T00:00:00Z",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+14:00",
        ]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
field_names = st.sampled_from(
    sorted(
        {*COMMON_REQUIRED, "actor"}
        | {name for fields in REQUIRED_FIELDS.values() for name in fields}
        | {name for fields in OPTIONAL_FIELDS.values() for name in fields}
    )
)


def decodes_or_is_invalid(raw: bytes | str) -> None:
    try:
        event = decode(raw)
    except InvalidEvent as exc:
        assert exc.reason
    else:
        assert isinstance(event, CaseEvent)


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=12), json_values, max_size=8))
def test_any_json_object_decodes_or_is_invalid(obj: dict[str, Any]) -> None:
    decodes_or_is_invalid(json.dumps(obj).encode())


@settings(max_examples=500)
@given(
    event_type=st.sampled_from(c.EVENT_TYPES),
    full=st.booleans(),
    changes=st.dictionaries(field_names, json_values, min_size=1, max_size=3),
)
def test_a_valid_event_with_random_fields_decodes_or_is_invalid(
    event_type: str, full: bool, changes: dict[str, Any]
) -> None:
    raw = event_of(event_type, full=full, **changes)

    decodes_or_is_invalid(json.dumps(raw).encode())


@settings(max_examples=300)
@given(st.binary(max_size=256))
def test_any_bytes_decode_or_are_invalid(raw: bytes) -> None:
    decodes_or_is_invalid(raw)


@settings(max_examples=300)
@given(st.text(max_size=64))
def test_any_text_decodes_or_is_invalid(raw: str) -> None:
    decodes_or_is_invalid(raw)
