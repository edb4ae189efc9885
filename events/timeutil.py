"""Time parsing and calendar arithmetic in the business time zone (pure)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

# RFC 3339 date-time with a mandatory UTC offset ("Z" or "+hh:mm").
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)

UTC = UTC
DAY_SECONDS = 86400


def parse_rfc3339(value: str) -> float:
    """Return the instant of an RFC 3339 timestamp as epoch seconds.

    Raises ValueError when the text is not RFC 3339 with an offset.
    """
    if not _RFC3339.match(value):
        raise ValueError("not an RFC 3339 date-time with a UTC offset")
    text = value.replace("t", "T").replace("z", "Z")
    dot = text.find(".")
    if dot != -1:
        # Python keeps at most microseconds: drop further fraction digits.
        end = dot + 1
        while end < len(text) and text[end].isdigit():
            end += 1
        text = text[: min(end, dot + 7)] + text[end:]
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
    """24:00 of the local day containing ``epoch`` (00:00 of the next day)."""
    return start_of_local_day(local_date(epoch, tz) + timedelta(days=1), tz)


def hour_start(epoch: float, tz: ZoneInfo) -> int:
    """Start of the local clock hour containing ``epoch``, as epoch seconds."""
    local = datetime.fromtimestamp(epoch, tz)
    return int(local.replace(minute=0, second=0, microsecond=0).timestamp())
