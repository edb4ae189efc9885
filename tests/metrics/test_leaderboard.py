"""Leaderboards read from a real Valkey after events went through the metrics sink."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import redis

from events import contract as c
from incentives.ranking import RankedRow
from metrics import keys
from metrics.leaderboard import leaderboard, trend
from tests.incentives.builders import SHANGHAI, Log, Script, by_time, edge_events, metrics_sink


def feed(client: redis.Redis, events: list[dict[str, Any]]) -> None:
    metrics_sink(client).apply(Log().records(by_time(events)))


def rows(
    client: redis.Redis, kind: str, day: date, scope: str = "handler", **options: Any
) -> list[tuple[int, str, str | None, float, int | None]]:
    result = leaderboard(client, kind, day, scope, SHANGHAI, **options)
    return [(r.rank, r.id, r.team_id, r.points, r.rank_change) for r in result.rows]


@pytest.mark.parametrize(
    ("kind", "day", "expected"),
    [
        # Sunday 23:59:59 is the last second of 2026-W52 ...
        ("week", date(2026, 12, 27), [(1, "h-002", -20)]),
        ("day", date(2026, 12, 27), [(1, "h-002", -20)]),
        # ... Monday 00:00:00 the first of 2026-W53, which runs to 3 January 2027
        ("week", date(2026, 12, 28), [(1, "h-002", -20), (2, "h-003", -40)]),
        ("week", date(2027, 1, 3), [(1, "h-002", -20), (2, "h-003", -40)]),
        ("day", date(2026, 12, 28), [(1, "h-002", -20)]),
        # 2026-12-31 23:59:59 closes Q4, 2027-01-01 00:00:00 opens Q1
        ("quarter", date(2026, 12, 31), [(1, "h-003", -20), (2, "h-002", -40)]),
        ("quarter", date(2027, 1, 1), [(1, "h-003", -20)]),
        ("month", date(2026, 12, 1), [(1, "h-003", -20), (2, "h-002", -40)]),
        ("month", date(2027, 1, 31), [(1, "h-003", -20)]),
        ("day", date(2027, 1, 1), [(1, "h-003", -20)]),
        ("day", date(2027, 1, 2), []),
    ],
)
def test_period_edges_in_shanghai(
    redis_client: redis.Redis,
    kind: str,
    day: date,
    expected: list[tuple[int, str, float]],
) -> None:
    feed(redis_client, edge_events())
    found = rows(redis_client, kind, day)
    assert [(rank, member, points) for rank, member, _, points, _ in found] == expected


def _decisions(case_id: str, handler: str, team: str, at: str, late: bool = False) -> Script:
    script = Script(case_id)
    opened = "2026-11-02T09:00:00+08:00" if late else at
    script.opened(opened, handler, team)
    script.add(c.DECISION_MADE, at)
    return script


def test_shared_ranks_rank_changes_and_zero_totals(redis_client: redis.Redis) -> None:
    events: list[dict[str, Any]] = []
    # Week 2026-W47 (16-22 November): h-001 +10, h-002 +10 +10, h-007 +10
    events += _decisions("P1", "h-001", "claims-east", "2026-11-17T10:00:00+08:00").events
    events += _decisions("P2", "h-002", "claims-east", "2026-11-17T11:00:00+08:00").events
    events += _decisions("P3", "h-002", "claims-east", "2026-11-18T11:00:00+08:00").events
    events += _decisions("P4", "h-007", "claims-north", "2026-11-19T11:00:00+08:00").events
    # Week 2026-W48 (23-29 November): h-001 +10 +10, h-007 +10 +10, h-002 +10 -10 = 0,
    # h-008 only a satisfaction of 3 (worth 0: never credited)
    events += _decisions("N1", "h-001", "claims-east", "2026-11-23T10:00:00+08:00").events
    events += _decisions("N2", "h-001", "claims-east", "2026-11-24T10:00:00+08:00").events
    events += _decisions("N3", "h-007", "claims-north", "2026-11-24T10:00:00+08:00").events
    events += _decisions("N4", "h-007", "claims-north", "2026-11-25T10:00:00+08:00").events
    events += _decisions("N5", "h-002", "claims-east", "2026-11-25T10:00:00+08:00").events
    late = _decisions("N6", "h-002", "claims-east", "2026-11-26T10:00:00+08:00", late=True)
    events += late.events
    zero = Script("N7")
    zero.opened("2026-11-23T09:00:00+08:00", "h-008", "claims-north")
    zero.add(c.FOLLOW_UP_DONE, "2026-11-24T09:00:00+08:00", satisfaction=3)
    events += zero.events
    feed(redis_client, events)

    assert rows(redis_client, "week", date(2026, 11, 25)) == [
        (1, "h-001", "claims-east", 20, 1),  # was 2nd (shared with h-007)
        (1, "h-007", "claims-north", 20, 1),
        (3, "h-002", "claims-east", 0, -2),  # +10 and -10: a total of 0 still ranks
    ]
    assert rows(redis_client, "week", date(2026, 11, 25), "team") == [
        (1, "claims-east", "claims-east", 20, 0),
        (1, "claims-north", "claims-north", 20, 1),
    ]
    # A team filter ranks that team's handlers among themselves.
    assert rows(redis_client, "week", date(2026, 11, 25), team="claims-east") == [
        (1, "h-001", "claims-east", 20, 1),
        (2, "h-002", "claims-east", 0, -1),
    ]
    assert rows(redis_client, "week", date(2026, 11, 25), "team", team="claims-north") == [
        (1, "claims-north", "claims-north", 20, 1),
    ]
    assert rows(redis_client, "week", date(2026, 11, 25), limit=2) == [
        (1, "h-001", "claims-east", 20, 1),
        (1, "h-007", "claims-north", 20, 1),
    ]
    first = rows(redis_client, "week", date(2026, 11, 18))
    assert first == [
        (1, "h-002", "claims-east", 20, None),
        (2, "h-001", "claims-east", 10, None),
        (2, "h-007", "claims-north", 10, None),
    ]


def test_exactly_the_zset_members_appear(redis_client: redis.Redis) -> None:
    board = keys.leaderboard("month", "2026-11", "handler")
    redis_client.zadd(board, {"h-b": 0.0, "h-a": 7.5, "h-c": 0.1 + 0.2})
    redis_client.hset(keys.leaderboard_teams("month", "2026-11"), mapping={"h-a": "t-1"})
    result = leaderboard(redis_client, "month", date(2026, 11, 3), "handler", SHANGHAI)
    assert result.rows == [
        RankedRow(1, "h-a", "t-1", 7.5, None),
        RankedRow(2, "h-c", None, 0.3, None),
        RankedRow(3, "h-b", None, 0, None),
    ]
    assert (result.period.key, result.previous.key) == ("2026-11", "2026-10")


def test_text_replies_read_the_same(valkey_url: str, redis_client: redis.Redis) -> None:
    feed(redis_client, edge_events())
    text_client = redis.Redis.from_url(valkey_url, decode_responses=True)
    try:
        expected = leaderboard(redis_client, "quarter", date(2026, 12, 1), "handler", SHANGHAI)
        found = leaderboard(text_client, "quarter", date(2026, 12, 1), "handler", SHANGHAI)
    finally:
        text_client.close()
    assert found == expected and found.rows


def test_trend_lists_the_last_periods_oldest_first(redis_client: redis.Redis) -> None:
    feed(redis_client, edge_events())
    points = trend(redis_client, "week", date(2027, 1, 1), "handler", ["h-002"], count=3)
    assert [(p.period.key, p.points) for p in points] == [
        ("2026-W51", {}),
        ("2026-W52", {"h-002": -20.0}),
        ("2026-W53", {"h-002": -20.0}),
    ]


@pytest.mark.parametrize(
    ("kind", "scope", "message"),
    [("year", "handler", "unknown period 'year'"), ("week", "person", "unknown scope 'person'")],
)
def test_unknown_period_or_scope(
    redis_client: redis.Redis, kind: str, scope: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        leaderboard(redis_client, kind, date(2026, 11, 1), scope, SHANGHAI)
