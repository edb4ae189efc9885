"""Leaderboards from the Redis read model.

``MetricsDelta.add_award`` keeps, for every period (day, week, month,
quarter) and scope (handler, team), a sorted set id → points, and per
period a hash handler → the team it was last credited for. A member is in
the set once it has had a non-zero award in the period, so a total of 0
still ranks. A period and the previous one, with their handler → team
hashes, are read by one script, so all come from the same moment (on Redis
Cluster too: the keys share the read model's slot).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from zoneinfo import ZoneInfo

import redis

from events.periods import PERIODS, Period, period_of
from incentives.period_keys import recent_periods
from incentives.ranking import RankedRow, rank_rows
from metrics import keys

SCOPES: Final[tuple[str, ...]] = ("handler", "team")
TREND_PERIODS: Final = 8


@dataclass(frozen=True, slots=True)
class LeaderboardResult:
    """A ranked period, with the previous period it is compared against."""

    period: Period
    previous: Period
    scope: str
    rows: list[RankedRow]


@dataclass(frozen=True, slots=True)
class BoardData:
    """The raw points and teams of one period."""

    points: dict[str, float]
    teams: dict[str, str]


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _check(kind: str, scope: str) -> None:
    if kind not in PERIODS:
        raise ValueError(f"unknown period '{kind}': use one of {', '.join(PERIODS)}")
    if scope not in SCOPES:
        raise ValueError(f"unknown scope '{scope}': use one of {', '.join(SCOPES)}")


# KEYS: per period, its board then its handler -> team hash. Returns their
# flat contents: member, score, … then handler, team, …
READ_BOARDS_SCRIPT: Final = """
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('ZRANGE', KEYS[i], 0, -1, 'WITHSCORES')
  out[#out + 1] = redis.call('HGETALL', KEYS[i + 1])
end
return out
"""


def _pairs(flat: Sequence[Any]) -> list[tuple[Any, Any]]:
    return list(zip(flat[::2], flat[1::2], strict=True))


def _board(scored: Sequence[Any], teams: Sequence[Any]) -> BoardData:
    return BoardData(
        points={_text(member): float(score) for member, score in _pairs(scored)},
        teams={_text(handler): _text(team) for handler, team in _pairs(teams)},
    )


def read_boards(client: redis.Redis, periods: Sequence[Period], scope: str) -> list[BoardData]:
    """The points and teams of each period, read in one atomic step."""
    names = [
        name
        for period in periods
        for name in (
            keys.leaderboard(period.kind, period.key, scope),
            keys.leaderboard_teams(period.kind, period.key),
        )
    ]
    replies = client.register_script(READ_BOARDS_SCRIPT)(keys=names)
    return [_board(replies[i], replies[i + 1]) for i in range(0, len(replies), 2)]


def _restrict(board: BoardData, scope: str, team: str | None) -> dict[str, float]:
    if team is None:
        return board.points
    if scope == "handler":
        return {m: p for m, p in board.points.items() if board.teams.get(m) == team}
    return board.points


def leaderboard(
    client: redis.Redis,
    period_kind: str,
    at_date: date,
    scope: str,
    tz: ZoneInfo,
    team: str | None = None,
    limit: int | None = None,
) -> LeaderboardResult:
    """The ranking of the period of ``period_kind`` containing ``at_date``.

    ``team`` restricts a handler ranking to the handlers credited for that
    team (ranked among themselves, rank changes too); a team ranking keeps
    every team's rank and shows only that team's row. ``limit`` keeps the
    first rows. ``tz`` is the business zone the period keys are in.
    """
    _check(period_kind, scope)
    if limit is not None and limit < 0:
        raise ValueError("limit must not be negative")
    period = period_of(period_kind, at_date)
    previous = period.previous()
    now_board, before_board = read_boards(client, [period, previous], scope)
    current = _restrict(now_board, scope, team)
    earlier = _restrict(before_board, scope, team)
    teams = now_board.teams if scope == "handler" else None
    rows = rank_rows(current, earlier, teams)
    if team is not None and scope == "team":
        rows = [row for row in rows if row.id == team]
    if limit is not None:
        rows = rows[:limit]
    return LeaderboardResult(period, previous, scope, rows)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    period: Period
    points: dict[str, float]  # id -> points (ids absent in the period are left out)


def trend(
    client: redis.Redis,
    period_kind: str,
    at_date: date,
    scope: str,
    ids: Iterable[str] | None = None,
    count: int = TREND_PERIODS,
) -> list[TrendPoint]:
    """Points of the last ``count`` periods up to the one containing ``at_date``, oldest first.

    ``ids`` keeps only those members (all when None).
    """
    _check(period_kind, scope)
    periods = recent_periods(period_of(period_kind, at_date), count)
    wanted = None if ids is None else set(ids)
    with client.pipeline(transaction=False) as pipe:
        for period in periods:
            pipe.zrange(keys.leaderboard(period.kind, period.key, scope), 0, -1, withscores=True)
        replies = pipe.execute()
    out: list[TrendPoint] = []
    for period, scored in zip(periods, replies, strict=True):
        points = {_text(member): float(score) for member, score in scored}
        if wanted is not None:
            points = {member: value for member, value in points.items() if member in wanted}
        out.append(TrendPoint(period, points))
    return out
