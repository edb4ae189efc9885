"""Time parsing and calendar arithmetic in the business time zone (pure)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# RFC 3339 date-time with a mandatory UTC offset ("Z" or "+hh:mm"): any number
# of fraction digits, offsets up to 23:59, and a leap second (seconds 60).
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:(\d{2})(\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):[0-5]\d)$",
    re.ASCII,
)

UTC = UTC
DAY_SECONDS = 86400
# The last instant the calendar arithmetic reaches: deadlines beyond it are
# clamped to it, so that no combination of form-valid times overflows.
LATEST_INSTANT = datetime(9998, 12, 31, tzinfo=UTC).timestamp()


def parse_rfc3339(value: str) -> float:
    """Return the instant of an RFC 3339 timestamp as epoch seconds.

    Raises ValueError when the text is not RFC 3339 with an offset.
    """
    match = _RFC3339.match(value)
    if not match:
        raise ValueError("not an RFC 3339 date-time with a UTC offset")
    text = value.replace("t", "T").replace("z", "Z")
    fraction = match.group(2)
    if fraction is not None and len(fraction) > 7:
        # Python keeps at most microseconds: drop further fraction digits.
        start = match.start(2)
        text = text[: start + 7] + text[match.end(2) :]
    if match.group(1) == "60":
        # A leap second: POSIX time has no such second, so it counts as the
        # first second of the next minute.
        second = match.start(1)
        text = text[:second] + "59" + text[second + 2 :]
        return datetime.fromisoformat(text).timestamp() + 1.0
    return datetime.fromisoformat(text).timestamp()


def to_datetime(epoch: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(epoch, tz)


def format_rfc3339(epoch: float, tz: ZoneInfo) -> str:
    """RFC 3339 in the business zone with its offset, seconds precision."""
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")


def local_date(epoch: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch, tz).date()


def start_of_local_day(day: date, tz: ZoneInfo) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def add_natural_days(epoch: float, days: int, tz: ZoneInfo) -> float:
    """The same local wall-clock time ``days`` calendar days later (rule R11: natural days).

    Across a daylight-saving change this differs from adding ``days * 86400`` seconds.
    """
    return (datetime.fromtimestamp(epoch, tz) + timedelta(days=days)).timestamp()


def end_of_local_day(epoch: float, tz: ZoneInfo) -> float:
    """24:00 of the local day containing ``epoch`` (00:00 of the next day).

    Instants after ``LATEST_INSTANT`` count as that instant: a clock whose
    pauses add up to millennia (form-valid times out of order) must not
    overflow the calendar.
    """
    if epoch > LATEST_INSTANT:
        epoch = LATEST_INSTANT
    return start_of_local_day(local_date(epoch, tz) + timedelta(days=1), tz)


def hour_start(epoch: float, tz: ZoneInfo) -> int:
    """Start of the local clock hour containing ``epoch``, as epoch seconds."""
    local = datetime.fromtimestamp(epoch, tz)
    return int(local.replace(minute=0, second=0, microsecond=0).timestamp())
