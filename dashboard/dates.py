"""The calendar dates the dashboard and the API accept from a query string.

The years of events' times (1970 to 8999): periods, weeks and the days
around them stay far from ``date.min`` and ``date.max``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

EARLIEST: Final = date(1970, 1, 1)
LATEST: Final = date(8999, 12, 31)
ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


def within_range(day: date) -> bool:
    return EARLIEST <= day <= LATEST


def parse_date(value: object) -> date | None:
    """A ``YYYY-MM-DD`` date (anything after the first 10 characters, such as a
    time, ignored) within the range, or None."""
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value[:10]):
        return None
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day if within_range(day) else None
