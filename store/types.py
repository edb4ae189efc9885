"""Column types: instants stored as UTC, read back as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.types import DateTime, TypeDecorator

from store.errors import NaiveDatetime


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware instant.

    PostgreSQL stores it as ``timestamptz``; SQLite (which has no time zones)
    as naive UTC text, so that text order is time order. Values read back are
    always aware datetimes in UTC. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not UTC:
            if value.tzinfo is None or value.utcoffset() is None:
                raise NaiveDatetime(f"a timezone-aware datetime is needed, got {value!r}")
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def from_epoch(seconds: float) -> datetime:
    """The aware UTC datetime of epoch seconds."""
    return datetime.fromtimestamp(seconds, UTC)


def from_epoch_or_none(seconds: float | None) -> datetime | None:
    return None if seconds is None else from_epoch(seconds)


def to_epoch(moment: datetime) -> float:
    """Epoch seconds of an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetime(f"a timezone-aware datetime is needed, got {moment!r}")
    return moment.timestamp()


def to_epoch_or_none(moment: datetime | None) -> float | None:
    return None if moment is None else to_epoch(moment)


def utc_now() -> datetime:
    return datetime.now(UTC)
