"""UTCDateTime: aware instants in, aware UTC out, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, exc, insert, select

from store.db import make_engine
from store.errors import NaiveDatetime
from store.types import UTCDateTime, from_epoch, from_epoch_or_none, to_epoch, to_epoch_or_none

SHANGHAI = ZoneInfo("Asia/Shanghai")

metadata = MetaData()
moments = Table(
    "moments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime, nullable=True),
)


def test_instants_round_trip_as_aware_utc(database_url: str) -> None:
    engine = make_engine(database_url)
    local = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=SHANGHAI)
    west = datetime(2026, 11, 23, 20, 0, tzinfo=timezone(timedelta(hours=-5)))
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(
                insert(moments),
                [{"id": 1, "at": local}, {"id": 2, "at": west}, {"id": 3, "at": None}],
            )
        with engine.connect() as connection:
            rows = connection.execute(select(moments.c.at).order_by(moments.c.id)).scalars().all()
            ordered = (
                connection.execute(
                    select(moments.c.id).where(moments.c.at.is_not(None)).order_by(moments.c.at)
                )
                .scalars()
                .all()
            )
            later = (
                connection.execute(
                    select(moments.c.id).where(
                        moments.c.at > datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
                    )
                )
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    assert rows[0] == local and rows[0].tzinfo == UTC
    assert rows[0] == datetime(2026, 11, 24, 1, 30, 15, 123456, tzinfo=UTC)
    assert rows[1] == datetime(2026, 11, 24, 1, 0, tzinfo=UTC) and rows[1].tzinfo == UTC
    assert rows[2] is None
    # Stored as UTC, so database order and comparisons are time order.
    assert ordered == [2, 1]
    assert later == [1]


def test_naive_datetime_is_refused(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        metadata.create_all(engine)
        with pytest.raises(exc.StatementError) as caught, engine.begin() as connection:
            connection.execute(insert(moments), {"id": 1, "at": datetime(2026, 1, 1)})
        assert isinstance(caught.value.orig, NaiveDatetime)
    finally:
        engine.dispose()


def test_epoch_helpers() -> None:
    moment = datetime(2026, 11, 24, 9, 30, 0, 500000, tzinfo=SHANGHAI)
    seconds = to_epoch(moment)
    assert seconds == moment.timestamp()
    assert from_epoch(seconds) == moment
    assert from_epoch(seconds).tzinfo == UTC
    assert from_epoch_or_none(None) is None and to_epoch_or_none(None) is None
    assert to_epoch_or_none(from_epoch(0)) == 0
    with pytest.raises(NaiveDatetime):
        to_epoch(datetime(2026, 1, 1))
