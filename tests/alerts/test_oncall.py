"""Who is on call: weekly rotations handing over at a local hour, overrides, time zones."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.oncall import on_call, rotation_shift, upcoming
from alerts.rules import OncallConfig, Person, Rotation

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
A = Person(name="甲", email="a@example.com")
B = Person(name="乙", email="b@example.com")
C = Person(name="丙", email="c@example.com")
STANDIN = Person(name="代班", email="standin@example.com")


def at(text: str, tz: ZoneInfo = SHANGHAI) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def weekly(**overrides: object) -> Rotation:
    values: dict[str, object] = {
        "id": "claims",
        "teams": ("claims-east",),
        "start": date(2026, 11, 23),  # a Monday
        "handover": "09:00",
        "members": (A, B, C),
    }
    values.update(overrides)
    return Rotation.model_validate(values)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-23T09:00:00", A),  # first handover
        ("2026-11-29T23:59:00", A),
        ("2026-11-30T08:59:59", A),  # until Monday's handover hour
        ("2026-11-30T09:00:00", B),
        ("2026-12-07T09:00:00", C),
        ("2026-12-14T09:00:00", A),  # round again
        ("2026-11-23T08:00:00", C),  # before the start it runs backwards
    ],
)
def test_a_weekly_rotation_hands_over_on_the_start_weekday(moment: str, expected: Person) -> None:
    assert rotation_shift(weekly(), at(moment), SHANGHAI).person == expected


def test_the_shift_knows_its_bounds() -> None:
    shift = rotation_shift(weekly(), at("2026-12-02T15:00:00"), SHANGHAI)
    assert (shift.start, shift.end) == (at("2026-11-30T09:00:00"), at("2026-12-07T09:00:00"))
    assert not shift.override


def test_a_daily_rotation() -> None:
    rotation = weekly(every_days=1, members=(A, B))
    assert rotation_shift(rotation, at("2026-11-24T10:00:00"), SHANGHAI).person == B
    assert rotation_shift(rotation, at("2026-11-25T08:00:00"), SHANGHAI).person == B
    assert rotation_shift(rotation, at("2026-11-25T09:00:00"), SHANGHAI).person == A


def test_handover_keeps_its_local_hour_across_daylight_saving() -> None:
    # London leaves summer time on 2026-10-25; the handover stays at 09:00 local.
    rotation = weekly(start=date(2026, 10, 19), members=(A, B))
    assert rotation_shift(rotation, at("2026-10-26T08:59:00", LONDON), LONDON).person == A
    assert rotation_shift(rotation, at("2026-10-26T09:00:00", LONDON), LONDON).person == B


def config(*overrides: Mapping[str, object]) -> OncallConfig:
    return OncallConfig.model_validate(
        {"rotations": [weekly().model_dump()], "overrides": list(overrides)}
    )


def test_an_override_stands_in_for_its_window_only() -> None:
    oncall = config(
        {
            "rotation": "claims",
            "from": "2026-12-01T12:00:00+08:00",
            "until": "2026-12-02T12:00:00+08:00",
            "member": STANDIN.model_dump(),
        }
    )
    assert on_call(oncall, "claims-east", at("2026-12-01T11:59:00"), SHANGHAI).person == B  # type: ignore[union-attr]
    during = on_call(oncall, "claims-east", at("2026-12-01T12:00:00"), SHANGHAI)
    assert during is not None and during.person == STANDIN and during.override
    assert on_call(oncall, "claims-east", at("2026-12-02T12:00:00"), SHANGHAI).person == B  # type: ignore[union-attr]


def test_override_times_without_offset_are_in_the_rotation_zone() -> None:
    oncall = config(
        {
            "rotation": "claims",
            "from": "2026-12-01 12:00:00",
            "until": "2026-12-01 13:00:00",
            "member": STANDIN.model_dump(),
        }
    )
    shift = on_call(oncall, "claims-east", at("2026-12-01T12:30:00", LONDON), LONDON)
    assert shift is not None and shift.person == STANDIN
    assert on_call(oncall, "claims-east", at("2026-12-01T12:30:00"), LONDON).person != STANDIN  # type: ignore[union-attr]


def test_the_latest_of_overlapping_overrides_wins() -> None:
    first = {
        "rotation": "claims",
        "from": "2026-12-01T00:00:00+08:00",
        "until": "2026-12-03T00:00:00+08:00",
        "member": A.model_dump(),
    }
    second = {**first, "from": "2026-12-02T00:00:00+08:00", "member": STANDIN.model_dump()}
    oncall = config(first, second)
    assert on_call(oncall, "claims-east", at("2026-12-01T10:00:00"), SHANGHAI).person == A  # type: ignore[union-attr]
    assert on_call(oncall, "claims-east", at("2026-12-02T10:00:00"), SHANGHAI).person == STANDIN  # type: ignore[union-attr]


def test_a_team_without_rotation_has_nobody() -> None:
    assert on_call(config(), "health-life", at("2026-12-01T10:00:00"), SHANGHAI) is None


def test_upcoming_shifts_follow_each_other() -> None:
    shifts = upcoming(config(), weekly(), at("2026-12-01T10:00:00"), SHANGHAI, count=3)
    assert [s.person for s in shifts] == [B, C, A]
    assert shifts[0].end == shifts[1].start and shifts[1].end == shifts[2].start
