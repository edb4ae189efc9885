"""The workload page's data: team × stage and handler × stage matrices,
capacity use, aging of open cases and the handler pressure index (情绪管理).

Team figures come from the Redis read model (the same query as
``GET /api/v1/workload``); the handler × stage matrix groups the SQL
``cases`` table (open cases by handler and stage), which is fine for a desk
page opened by a few people.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from sqlalchemy import Engine, func, select

from events.contract import STAGES
from metrics.query import MetricsQuery, TeamLoad
from store.models import Case

AGE_BANDS: Final = ("0-3", "4-7", "8-15", "15+")
"""Age bands of open cases in days since opening (keys of ``MetricsQuery.aging``)."""


@dataclass(frozen=True, slots=True)
class Matrix:
    """Counts of open cases: one row per team or handler, one column per stage."""

    rows: list[str]
    columns: list[str]
    values: list[list[int]]

    def total(self, row: str) -> int:
        return sum(self.values[self.rows.index(row)])


def team_loads(
    query: MetricsQuery,
    configured: Mapping[str, list[tuple[str, int | None]]],
    team: str | None = None,
) -> list[TeamLoad]:
    """Teams with their WIP and handlers (``GET /api/v1/workload``'s data)."""
    return query.workload(dict(configured), team=team)


def team_stage_matrix(loads: Sequence[TeamLoad]) -> Matrix:
    return Matrix(
        rows=[t.team_id for t in loads],
        columns=list(STAGES),
        values=[[t.wip[stage] for stage in STAGES] for t in loads],
    )


def handler_stage_matrix(
    engine: Engine, team: str | None = None, handlers: Iterable[str] = ()
) -> Matrix:
    """Open cases by handler (rows sorted by id) and stage, from the SQL store.

    ``handlers`` are listed even without an open case (the configured ones).
    """
    query = (
        select(Case.handler_id, Case.stage, func.count())
        .where(Case.status == "open")
        .group_by(Case.handler_id, Case.stage)
    )
    if team is not None:
        query = query.where(Case.team_id == team)
    counts: dict[str, dict[str, int]] = {h: dict.fromkeys(STAGES, 0) for h in handlers}
    with engine.connect() as connection:
        for handler, stage, n in connection.execute(query):
            row = counts.setdefault(handler, dict.fromkeys(STAGES, 0))
            if stage in row:
                row[stage] += int(n)
    rows = sorted(counts)
    return Matrix(rows, list(STAGES), [[counts[h][s] for s in STAGES] for h in rows])


# -- capacity ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CapacityUse:
    """Open cases against capacity for a team or a handler."""

    id: str
    team_id: str
    open_cases: int
    capacity: int | None

    @property
    def use(self) -> float | None:
        """open / capacity (1.0 = full); None without a configured capacity."""
        if not self.capacity:
            return None
        return self.open_cases / self.capacity

    @property
    def room(self) -> int | None:
        """Cases the handler (or team) can still take; None without a capacity."""
        if self.capacity is None:
            return None
        return max(0, self.capacity - self.open_cases)


def team_capacity(loads: Sequence[TeamLoad]) -> list[CapacityUse]:
    """Per team: its open cases against the summed capacity of its handlers
    (handlers without a configured capacity add nothing)."""
    out = []
    for team in loads:
        capacities = [h.capacity for h in team.handlers if h.capacity is not None]
        capacity = sum(capacities) if capacities else None
        out.append(CapacityUse(team.team_id, team.team_id, team.open_cases, capacity))
    return out


def handler_capacity(loads: Sequence[TeamLoad]) -> list[CapacityUse]:
    return [
        CapacityUse(h.handler_id, team.team_id, h.open_cases, h.capacity)
        for team in loads
        for h in team.handlers
    ]


def aging(query: MetricsQuery, team: str | None = None, now: float | None = None) -> dict[str, int]:
    """Open cases by days since opening: 0-3, 4-7, 8-15, over 15."""
    return query.aging(now=now, team=team)


# -- the pressure index -----------------------------------------------------------------------

LOAD_WEIGHT: Final = 0.5
URGENT_WEIGHT: Final = 0.2
SERIOUS_WEIGHT: Final = 0.2
OVERDUE_WEIGHT: Final = 0.1
MAX_LOAD: Final = 2.0
"""The load term (open / capacity) counts up to twice the capacity."""

AMBER_FROM: Final = 40.0
RED_FROM: Final = 70.0

PressureBand = Literal["ok", "amber", "red"]


@dataclass(frozen=True, slots=True)
class Pressure:
    """A handler's pressure index (压力指数) and what it is made of.

    index = min(100, 100 × (0.5 × load + 0.2 × urgent + 0.2 × serious + 0.1 × overdue))

    - load: open cases / capacity, capped at 2 (0 when no capacity is configured),
      so a full handler scores 50 from load alone and one at 140 % of capacity
      or more is red whatever the rest;
    - urgent: share of open cases with priority ``urgent`` (0 to 1);
    - serious: share of open cases that are major (重大投诉: priority major or a
      group of 20 or more) or escalated to the regulator, capped at 1 (a case
      can be both);
    - overdue: share of open cases whose return visit (回访) is overdue (0 to 1).

    Bands: below 40 ok (green), 40 to below 70 amber, 70 and above red.
    """

    handler_id: str
    team_id: str
    open_cases: int
    capacity: int | None
    urgent: int
    serious: int
    overdue: int
    index: float

    @property
    def band(self) -> PressureBand:
        return pressure_band(self.index)

    @property
    def room(self) -> int | None:
        if self.capacity is None:
            return None
        return max(0, self.capacity - self.open_cases)


def pressure_band(index: float) -> PressureBand:
    if index >= RED_FROM:
        return "red"
    if index >= AMBER_FROM:
        return "amber"
    return "ok"


def pressure_index(
    open_cases: int, capacity: int | None, urgent: int, serious: int, overdue: int
) -> float:
    """The weighted index of ``Pressure`` (0 to 100, one decimal)."""
    load = min(MAX_LOAD, open_cases / capacity) if capacity else 0.0
    if open_cases > 0:
        urgent_share = min(1.0, urgent / open_cases)
        serious_share = min(1.0, serious / open_cases)
        overdue_share = min(1.0, overdue / open_cases)
    else:
        urgent_share = serious_share = overdue_share = 0.0
    score = (
        LOAD_WEIGHT * load
        + URGENT_WEIGHT * urgent_share
        + SERIOUS_WEIGHT * serious_share
        + OVERDUE_WEIGHT * overdue_share
    )
    return round(min(100.0, 100 * score), 1)


def handler_pressure(
    query: MetricsQuery, loads: Sequence[TeamLoad], now: float | None = None
) -> list[Pressure]:
    """Every handler of ``loads``, highest pressure first (then by id)."""
    teams = {h.handler_id: (team.team_id, h.capacity) for team in loads for h in team.handlers}
    raw = query.handler_pressure(list(teams), now=now)
    return pressures_from(raw, teams)


def pressures_from(
    raw: Mapping[str, Mapping[str, int]], teams: Mapping[str, tuple[str, int | None]]
) -> list[Pressure]:
    out = []
    for handler, (team_id, capacity) in teams.items():
        load = raw.get(handler, {})
        open_cases = int(load.get("open", 0))
        urgent = int(load.get("urgent", 0))
        serious = int(load.get("major", 0)) + int(load.get("regulator", 0))
        overdue = int(load.get("overdue", 0))
        index = pressure_index(open_cases, capacity, urgent, serious, overdue)
        out.append(
            Pressure(handler, team_id, open_cases, capacity, urgent, serious, overdue, index)
        )
    return sorted(out, key=lambda p: (-p.index, p.handler_id))
