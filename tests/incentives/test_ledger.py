"""The SQL points ledger: totals, why each point was given, fair views; and its
agreement with the Redis leaderboards after the same records went through both sinks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, func, select

from consumers.sink import Sink
from events import contract as c
from events.periods import PERIODS, Period, period_of
from incentives import ledger
from incentives.period_keys import parse_period_key
from incentives.ranking import rank_rows
from metrics import keys
from metrics.leaderboard import leaderboard
from store.db import make_engine
from store.migrate import upgrade
from store.models import PointsEntry
from tests.incentives.builders import (
    SHANGHAI,
    Log,
    Script,
    by_time,
    feed,
    metrics_sink,
    noise,
    store_sink,
    world,
)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url, "heads")
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def every_period(first: date, last: date) -> list[Period]:
    seen: dict[tuple[str, str], Period] = {}
    day = first
    while day <= last:
        for kind in PERIODS:
            period = period_of(kind, day)
            seen.setdefault((kind, period.key), period)
        day += timedelta(days=1)
    return list(seen.values())


def sql_rows(engine: Engine, period: Period, scope: str) -> list[tuple[Any, ...]]:
    current = ledger.totals(engine, period, SHANGHAI, scope)
    previous = ledger.totals(engine, period.previous(), SHANGHAI, scope)
    teams = ledger.handler_teams(engine, period, SHANGHAI) if scope == "handler" else None
    return [
        (r.rank, r.id, r.team_id, r.points, r.rank_change)
        for r in rank_rows(current, previous, teams)
    ]


def redis_rows(client: redis.Redis, period: Period, scope: str) -> list[tuple[Any, ...]]:
    result = leaderboard(client, period.kind, period.start, scope, SHANGHAI)
    return [(r.rank, r.id, r.team_id, r.points, r.rank_change) for r in result.rows]


def leaderboard_dump(client: redis.Redis) -> dict[bytes, Any]:
    found: dict[bytes, Any] = {}
    for key in client.scan_iter(match=keys.LEADERBOARD.format("*", "*", "*")):
        kind = client.type(key)
        found[key] = (
            client.zrange(key, 0, -1, withscores=True) if kind == b"zset" else client.hgetall(key)
        )
    return found


def test_sql_ledger_and_redis_rankings_agree_and_redelivery_doubles_nothing(
    engine: Engine, redis_client: redis.Redis
) -> None:
    records = noise(Log(), world(seed=11, cases=45))
    sinks: list[Sink] = [metrics_sink(redis_client), store_sink(engine)]
    feed(sinks, records, batch=37)

    periods = every_period(date(2026, 11, 30), date(2027, 1, 12))
    compared = 0
    for period in periods:
        for scope in ("handler", "team"):
            expected = sql_rows(engine, period, scope)
            assert redis_rows(redis_client, period, scope) == expected, (period, scope)
            compared += bool(expected)
    assert compared > 20  # most periods have points

    with engine.connect() as connection:
        entries = connection.execute(select(func.count()).select_from(PointsEntry)).scalar_one()
    board = leaderboard_dump(redis_client)
    # Every record delivered again, in other batches: nothing changes.
    feed(sinks, records, batch=101)
    feed(sinks, records[: len(records) // 2], batch=len(records))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(PointsEntry)).scalar_one() == (
            entries
        )
    assert leaderboard_dump(redis_client) == board
    for period in periods:
        assert redis_rows(redis_client, period, "handler") == sql_rows(engine, period, "handler")


# -- why these points ---------------------------------------------------------------


def scripted(engine: Engine) -> dict[str, Script]:
    """A few cases in week 2026-W48 (23-29 November) and around it."""
    a = Script("A")  # h-001 decides on time, then a return visit late
    a.opened("2026-11-20T09:00:00+08:00", "h-001", "claims-east", "claims")
    a.add(c.DECISION_MADE, "2026-11-23T10:00:00+08:00")
    a.add(c.FOLLOW_UP_SCHEDULED, "2026-11-23T11:00:00+08:00", due_at="2026-11-24T11:00:00+08:00")
    a.add(c.FOLLOW_UP_DONE, "2026-11-25T11:00:00+08:00", satisfaction=5)
    b = Script("B")  # opened by h-001 before the week, handed to h-002 during it
    b.opened("2026-11-02T09:00:00+08:00", "h-001", "claims-east", "sales")
    b.add(c.ASSIGNED, "2026-11-24T09:00:00+08:00", team_id="claims-north", handler_id="h-002")
    b.add(c.DECISION_MADE, "2026-11-26T09:00:00+08:00")  # late: the deadline was 18 November
    d = Script("D")  # h-003's case with no event in the week
    d.opened("2026-11-10T09:00:00+08:00", "h-003", "claims-east", "claims")
    e = Script("E")  # opened in the week by h-003, escalated to the regulator
    e.opened("2026-11-29T23:00:00+08:00", "h-003", "claims-east", "claims")
    e.add(c.ESCALATED, "2026-11-29T23:59:59+08:00", to="regulator")
    e.add(c.ESCALATED, "2026-11-30T00:00:00+08:00", to="regulator")  # next week
    scripts = {s.case_id: s for s in (a, b, d, e)}
    events = by_time(ev for s in scripts.values() for ev in s.events)
    store_sink(engine).apply(Log().records(events))
    return scripts


WEEK = parse_period_key("2026-W48")


def test_every_point_is_explained_down_to_the_event(engine: Engine) -> None:
    scripts = scripted(engine)
    lines = ledger.lines(engine, WEEK, SHANGHAI, handler="h-001")
    a = scripts["A"].events
    assert [(x.rule, x.event_id, x.case_id, x.points, x.ruleset) for x in lines] == [
        ("decision_on_time", a[1]["event_id"], "A", 10, "default"),
        ("follow_up_late", a[3]["event_id"], "A", -3, "default"),
        ("satisfaction", a[3]["event_id"], "A", 5, "default"),
    ]
    assert [x.occurred_at.astimezone(SHANGHAI).isoformat() for x in lines] == [
        "2026-11-23T10:00:00+08:00",
        "2026-11-25T11:00:00+08:00",
        "2026-11-25T11:00:00+08:00",
    ]
    assert ledger.totals(engine, WEEK, SHANGHAI, "handler") == {
        "h-001": 12.0,
        "h-002": -10.0,
        "h-003": -20.0,
    }
    assert ledger.by_rule(engine, WEEK, SHANGHAI, "handler") == {
        "h-001": {"decision_on_time": 10, "follow_up_late": -3, "satisfaction": 5},
        "h-002": {"decision_late": -10},
        "h-003": {"escalated_to_regulator": -20},
    }
    assert ledger.by_rule(engine, WEEK, SHANGHAI, "team", "claims-north") == {
        "claims-north": {"decision_late": -10}
    }
    everyone = ledger.lines(engine, WEEK, SHANGHAI)
    assert sum(x.points for x in everyone) == 12 - 10 - 20
    assert len(ledger.lines(engine, WEEK, SHANGHAI, limit=2)) == 2
    assert [x.case_id for x in ledger.lines(engine, WEEK, SHANGHAI, team="claims-north")] == ["B"]


def test_handled_cases_follow_the_assignments(engine: Engine) -> None:
    scripted(engine)
    assert ledger.handled_cases(engine, WEEK, SHANGHAI) == {
        "h-001": {"A", "B"},  # B's hand-over happened in the week while h-001 held it
        "h-002": {"B"},
        "h-003": {"E"},  # D had no event in the week
    }
    next_week = parse_period_key("2026-W49")
    assert ledger.handled_cases(engine, next_week, SHANGHAI) == {"h-003": {"E"}}


def test_fair_view_sets_points_against_cases_and_case_mix(engine: Engine) -> None:
    scripted(engine)
    rows = {row.handler_id: row for row in ledger.fair_view(engine, WEEK, SHANGHAI)}
    # claims: A (h-001: 12 points), E (h-003: -20) -> average -4 per handled claims case
    # sales: B handled by h-001 (0 points) and h-002 (-10) -> average -5
    assert rows["h-001"].cases == 2 and rows["h-001"].points_per_case == 6
    assert rows["h-001"].cases_by_category == {"claims": 1, "sales": 1}
    assert rows["h-001"].expected == -9 and rows["h-001"].above_expected == 21
    assert (rows["h-002"].expected, rows["h-002"].above_expected) == (-5, -5)
    assert (rows["h-003"].expected, rows["h-003"].above_expected) == (-4, -16)
    assert rows["h-002"].team_id == "claims-north"
    assert [row.handler_id for row in ledger.fair_view(engine, WEEK, SHANGHAI)] == [
        "h-001",
        "h-002",
        "h-003",
    ]


def test_compute_fair_rows_without_cases_or_points() -> None:
    rows = ledger.compute_fair_rows(
        handled={"h-1": set()}, points={"h-2": 4.0}, teams={}, categories={}, case_points={}
    )
    assert [
        (r.handler_id, r.cases, r.points_per_case, r.expected, r.above_expected) for r in rows
    ] == [
        ("h-2", 0, None, 0, 4),
        ("h-1", 0, None, 0, 0),
    ]


def test_team_totals_per_head(engine: Engine) -> None:
    scripted(engine)
    rows = ledger.team_totals(engine, WEEK, SHANGHAI, {"claims-east": 4, "health-life": 6})
    assert [(r.team_id, r.points, r.headcount, r.per_head) for r in rows] == [
        ("health-life", 0, 6, 0),
        ("claims-east", -8, 4, -2),
        ("claims-north", -10, 1, -10),  # not configured: counts the handlers credited
    ]


def test_period_bounds_are_local_midnights() -> None:
    start, end = ledger.period_bounds(parse_period_key("2026-Q4"), SHANGHAI)
    assert start.isoformat() == "2026-09-30T16:00:00+00:00"
    assert end.isoformat() == "2026-12-31T16:00:00+00:00"


def test_unknown_scope(engine: Engine) -> None:
    with pytest.raises(ValueError, match="unknown scope 'person'"):
        ledger.totals(engine, WEEK, SHANGHAI, "person")
