"""Who is on call at a moment: rotations that hand over on a fixed day and hour, and overrides (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from alerts.rules import OncallConfig, Person, Rotation, parse_clock_time


@dataclass(frozen=True, slots=True)
class Shift:
    """One person on call for a rotation from ``start`` until ``end`` (epoch seconds)."""

    rotation_id: str
    person: Person
    start: float
    end: float
    override: bool = False


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _handover_at(day: date, rotation: Rotation, tz: ZoneInfo) -> datetime:
    clock = parse_clock_time(rotation.handover)
    return datetime(day.year, day.month, day.day, clock.hour, clock.minute, tzinfo=tz)


def rotation_shift(rotation: Rotation, at: float, tz: ZoneInfo) -> Shift:
    """The rotation's regular shift at ``at``, overrides ignored.

    Shifts are counted in local calendar days, so a handover stays at the same
    wall-clock hour across daylight-saving changes. Before ``start`` the
    rotation runs backwards, so someone is always on call.
    """
    local = datetime.fromtimestamp(at, tz)
    day = local.date()
    if local < _handover_at(day, rotation, tz):
        day -= timedelta(days=1)
    shift_number = (day - rotation.start).days // rotation.every_days
    first_day = rotation.start + timedelta(days=shift_number * rotation.every_days)
    last_day = first_day + timedelta(days=rotation.every_days)
    person = rotation.members[shift_number % len(rotation.members)]
    return Shift(
        rotation.id,
        person,
        _handover_at(first_day, rotation, tz).timestamp(),
        _handover_at(last_day, rotation, tz).timestamp(),
    )


def shift_for_rotation(config: OncallConfig, rotation: Rotation, at: float, tz: ZoneInfo) -> Shift:
    """The shift at ``at``: the latest override covering it, else the rotation's own."""
    covering = [
        override
        for override in config.overrides
        if override.rotation == rotation.id
        and _aware(override.start, tz).timestamp() <= at < _aware(override.until, tz).timestamp()
    ]
    if covering:
        chosen = covering[-1]
        return Shift(
            rotation.id,
            chosen.member,
            _aware(chosen.start, tz).timestamp(),
            _aware(chosen.until, tz).timestamp(),
            override=True,
        )
    return rotation_shift(rotation, at, tz)


def on_call(config: OncallConfig, team_id: str, at: float, tz: ZoneInfo) -> Shift | None:
    """Who is on call for ``team_id`` at ``at``; None when no rotation covers the team."""
    rotation = config.rotation_of(team_id)
    if rotation is None:
        return None
    return shift_for_rotation(config, rotation, at, tz)


def upcoming(
    config: OncallConfig, rotation: Rotation, at: float, tz: ZoneInfo, count: int = 4
) -> list[Shift]:
    """The shift at ``at`` and the ``count - 1`` after it (for the alerts page)."""
    shifts: list[Shift] = []
    moment = at
    for _ in range(count):
        shift = shift_for_rotation(config, rotation, moment, tz)
        shifts.append(shift)
        moment = max(shift.end, moment + 1)
    return shifts
