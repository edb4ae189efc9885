"""The workload page's queries: matrices, capacity, aging and the pressure index."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from complaintops.runtime import Runtime
from dashboard.queries import workload
from dashboard.queries.workload import (
    CapacityUse,
    Pressure,
    pressure_band,
    pressure_index,
    pressures_from,
)
from metrics.query import HandlerLoad, TeamLoad
from tests.dashboard.desk_data import NOW, Feed, Script, make_runtime


@pytest.fixture
def runtime(
    redis_client: redis.Redis, valkey_url: str, database_url: str, tmp_path: Path
) -> Runtime:
    """On SQLite and on PostgreSQL (skipped when no server answers)."""
    return make_runtime(valkey_url, database_url, tmp_path)


@pytest.fixture
def fed(runtime: Runtime) -> Runtime:
    """h-001 (capacity 25): three open cases, one urgent, one major escalated to the
    regulator, one with an overdue return visit; h-002: one case, 10 days old; h-007
    (claims-north): one closed case."""
    scripts = [
        Script("W-1").opened(2, priority="urgent"),
        Script("W-2")
        .opened(100, priority="major")
        .stage("investigation", 90)
        .add("case.escalated", 80, to="regulator"),
        Script("W-3")
        .opened(120)
        .stage("investigation", 110)
        .stage("resolution", 100)
        .add("case.decision_made", 90, outcome="upheld")
        .stage("follow_up", 89)
        .add("case.follow_up_scheduled", 88, due_at="2026-11-29T18:00:00+08:00"),
        Script("W-4").opened(240, handler="h-002"),
        Script("W-5")
        .opened(30, team="claims-north", handler="h-007")
        .add("case.closed", 20, resolution="withdrawn"),
    ]
    Feed(runtime).send_scripts(scripts)
    return runtime


def test_team_stage_matrix_matches_the_read_model(fed: Runtime) -> None:
    loads = workload.team_loads(fed.query, fed.configured_handlers())
    matrix = workload.team_stage_matrix(loads)
    assert matrix.rows == ["claims-east", "claims-north", "health-life", "sales-service"]
    assert matrix.columns == [
        "intake",
        "investigation",
        "resolution",
        "feedback",
        "follow_up",
        "review",
    ]
    assert matrix.values[0] == [2, 1, 0, 0, 1, 0]
    assert matrix.total("claims-north") == 0


def test_team_loads_of_one_team(fed: Runtime) -> None:
    loads = workload.team_loads(fed.query, fed.configured_handlers(), team="claims-east")
    assert [t.team_id for t in loads] == ["claims-east"]
    handlers = {h.handler_id: h.open_cases for h in loads[0].handlers}
    assert handlers["h-001"] == 3 and handlers["h-002"] == 1 and handlers["h-006"] == 0


def test_handler_stage_matrix_groups_open_cases_in_sql(fed: Runtime) -> None:
    matrix = workload.handler_stage_matrix(fed.engine)
    assert matrix.rows == ["h-001", "h-002"]  # h-007's only case is closed
    assert matrix.values[0] == [1, 1, 0, 0, 1, 0]
    assert matrix.values[1] == [1, 0, 0, 0, 0, 0]
    listed = workload.handler_stage_matrix(fed.engine, team="claims-north", handlers=["h-007"])
    assert listed.rows == ["h-007"] and listed.values == [[0] * 6]


def test_capacity_use_per_team_and_handler(fed: Runtime) -> None:
    loads = workload.team_loads(fed.query, fed.configured_handlers(), team="claims-east")
    team = workload.team_capacity(loads)[0]
    assert team == CapacityUse("claims-east", "claims-east", 4, 25 + 25 + 20 + 30 + 20 + 15)
    handlers = {h.id: h for h in workload.handler_capacity(loads)}
    assert handlers["h-001"].use == pytest.approx(3 / 25)
    assert handlers["h-001"].room == 22


def test_aging_bands(fed: Runtime) -> None:
    assert workload.aging(fed.query, now=NOW) == {"0-3": 1, "4-7": 2, "8-15": 1, "15+": 0}
    assert workload.aging(fed.query, team="claims-north", now=NOW) == {
        "0-3": 0,
        "4-7": 0,
        "8-15": 0,
        "15+": 0,
    }


def test_handler_pressure_from_the_read_model(fed: Runtime) -> None:
    loads = workload.team_loads(fed.query, fed.configured_handlers(), team="claims-east")
    pressures = workload.handler_pressure(fed.query, loads, now=NOW)
    assert [p.handler_id for p in pressures][:2] == ["h-001", "h-002"]
    top = pressures[0]
    assert (top.open_cases, top.urgent, top.serious, top.overdue) == (3, 1, 2, 1)
    # 100 × (0.5 × 3/25 + 0.2 × 1/3 + 0.2 × 2/3 + 0.1 × 1/3)
    assert top.index == pytest.approx(round(100 * (0.06 + 0.2 / 3 + 0.4 / 3 + 0.1 / 3), 1))
    assert pressures[-1].index == 0.0  # someone with no open case


# -- pure -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("open_cases", "capacity", "urgent", "serious", "overdue", "expected"),
    [
        (0, 20, 0, 0, 0, 0.0),
        (10, 20, 0, 0, 0, 25.0),  # half full
        (20, 20, 0, 0, 0, 50.0),  # full
        (28, 20, 0, 0, 0, 70.0),  # 140 % of capacity: red on load alone
        (40, 20, 0, 0, 0, 100.0),  # twice the capacity
        (60, 20, 0, 0, 0, 100.0),  # the load term is capped at 2
        (40, 20, 40, 40, 40, 100.0),  # the index is capped at 100
        (20, 20, 20, 0, 0, 70.0),
        (20, 20, 20, 20, 20, 100.0),
        (4, 20, 1, 5, 1, 10.0 + 5.0 + 20.0 + 2.5),  # serious share capped at 1
        (5, None, 5, 0, 0, 20.0),  # no capacity: no load term
    ],
)
def test_pressure_index_formula(
    open_cases: int,
    capacity: int | None,
    urgent: int,
    serious: int,
    overdue: int,
    expected: float,
) -> None:
    assert pressure_index(open_cases, capacity, urgent, serious, overdue) == expected


@pytest.mark.parametrize(
    ("index", "band"), [(0, "ok"), (39.9, "ok"), (40, "amber"), (69.9, "amber"), (70, "red")]
)
def test_pressure_bands(index: float, band: str) -> None:
    assert pressure_band(index) == band


def test_pressures_are_sorted_highest_first_then_by_id() -> None:
    raw = {
        "h-b": {"open": 10, "urgent": 0, "major": 0, "regulator": 0, "overdue": 0},
        "h-a": {"open": 10, "urgent": 0, "major": 0, "regulator": 0, "overdue": 0},
        "h-c": {"open": 20, "urgent": 20, "major": 0, "regulator": 0, "overdue": 0},
    }
    teams = {"h-a": ("t", 20), "h-b": ("t", 20), "h-c": ("t", 20), "h-d": ("t", 20)}
    pressures = pressures_from(raw, teams)
    assert [p.handler_id for p in pressures] == ["h-c", "h-a", "h-b", "h-d"]
    assert pressures[0] == Pressure("h-c", "t", 20, 20, 20, 0, 0, 70.0)
    assert pressures[0].band == "red" and pressures[0].room == 0
    assert pressures[1].band == "ok" and pressures[1].room == 10


def test_team_capacity_ignores_handlers_without_capacity() -> None:
    loads = [
        TeamLoad("t", 5, {}, [HandlerLoad("a", 3, 10), HandlerLoad("b", 2, None)]),
        TeamLoad("u", 1, {}, [HandlerLoad("c", 1, None)]),
    ]
    uses = workload.team_capacity(loads)
    assert uses[0].capacity == 10 and uses[0].use == 0.5
    assert uses[1].capacity is None and uses[1].use is None and uses[1].room is None
