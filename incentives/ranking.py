"""Ranking handlers or teams by points (pure).

Points descending; equal points share a rank and the next rank is skipped
(1, 2, 2, 4); rows with equal points are listed by id. ``rank_change`` is
the previous period's rank minus this one (positive: moved up), None for
an id absent from the previous period. Points compare after rounding to
cents, so float noise never splits a tie.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from events.scoring import normalise_points

Number = int | float


@dataclass(frozen=True, slots=True)
class RankedRow:
    """One line of a leaderboard."""

    rank: int
    id: str
    team_id: str | None
    points: Number
    rank_change: int | None

    def as_dict(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "id": self.id,
            "team_id": self.team_id,
            "points": self.points,
            "rank_change": self.rank_change,
        }


def ordered(points: Mapping[str, float]) -> list[tuple[int, str, Number]]:
    """(rank, id, points) for every id, best first, ties by id."""
    normalised = {member: normalise_points(value) for member, value in points.items()}
    order = sorted(normalised, key=lambda member: (-normalised[member], member))
    out: list[tuple[int, str, Number]] = []
    rank = 0
    previous: Number | None = None
    for position, member in enumerate(order, start=1):
        value = normalised[member]
        if previous is None or value != previous:
            rank = position
            previous = value
        out.append((rank, member, value))
    return out


def ranks(points: Mapping[str, float]) -> dict[str, int]:
    """The rank of every id."""
    return {member: rank for rank, member, _ in ordered(points)}


def rank_rows(
    current: Mapping[str, float],
    previous: Mapping[str, float] | None = None,
    teams: Mapping[str, str] | None = None,
) -> list[RankedRow]:
    """The ranked rows of ``current``, with rank changes against ``previous``.

    ``teams`` maps an id to its team (for teams themselves, leave it out:
    a team's team is itself).
    """
    before = ranks(previous or {})
    rows: list[RankedRow] = []
    for rank, member, value in ordered(current):
        old = before.get(member)
        team = teams.get(member) if teams is not None else member
        rows.append(RankedRow(rank, member, team, value, None if old is None else old - rank))
    return rows
