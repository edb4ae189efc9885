"""The points ledger (``points_ledger``, written by the SQL sink), read for people.

Totals per handler or team, points by rule, every line down to the event
("why these points"), and two fair views:

- points per handled case: a handler *handles* a case in a period when
  the case is assigned to them as any of its events in the period happens
  (the case's opening counts for the handler it opens with; a reassignment
  counts for the handler it takes the case from, as points do);
- points against the case mix: for each category, the average points per
  handled case over everyone; a handler's *expected* points are the sum over
  categories of their handled cases times that average; ``above_expected`` is
  points minus expected (positive: better than their mix predicts).

Teams are also shown per head (points divided by the team's handlers).
Periods are local days, ISO weeks, months and quarters of the business
time zone; an entry counts by the scoring event's ``occurred_at``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import ColumnElement, Engine, func, select
from sqlalchemy.orm import InstrumentedAttribute

from events import contract as c
from events.periods import Period
from events.scoring import normalise_points
from events.timeutil import start_of_local_day
from incentives.ranking import Number
from store.models import Case, CaseEventRow, PointsEntry
from store.types import from_epoch

SCOPES: Final = ("handler", "team")
LOOKUP_CHUNK: Final = 1000
DEFAULT_LINES_LIMIT: Final = 500


def period_bounds(period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a period as aware UTC datetimes (local midnights)."""
    start = start_of_local_day(period.start, tz)
    end = start_of_local_day(period.end + timedelta(days=1), tz)
    return from_epoch(start), from_epoch(end)


def _in_period(period: Period, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    start, end = period_bounds(period, tz)
    return [PointsEntry.occurred_at >= start, PointsEntry.occurred_at < end]


def _scope_column(scope: str) -> InstrumentedAttribute[str]:
    if scope not in SCOPES:
        raise ValueError(f"unknown scope '{scope}': use one of {', '.join(SCOPES)}")
    return PointsEntry.handler_id if scope == "handler" else PointsEntry.team_id


# -- totals ------------------------------------------------------------------


def totals(engine: Engine, period: Period, tz: ZoneInfo, scope: str) -> dict[str, float]:
    """Points per handler (or team) in the period: exactly those with an entry."""
    column = _scope_column(scope)
    query = (
        select(column, func.sum(PointsEntry.points)).where(*_in_period(period, tz)).group_by(column)
    )
    with engine.connect() as connection:
        return {member: float(points) for member, points in connection.execute(query)}


def handler_teams(engine: Engine, period: Period, tz: ZoneInfo) -> dict[str, str]:
    """The team each handler was credited for last in the period (latest event wins)."""
    query = (
        select(PointsEntry.handler_id, PointsEntry.team_id)
        .where(*_in_period(period, tz))
        .order_by(PointsEntry.occurred_at, PointsEntry.id)
    )
    teams: dict[str, str] = {}
    with engine.connect() as connection:
        for handler, team in connection.execute(query):
            teams[handler] = team
    return teams


def by_rule(
    engine: Engine, period: Period, tz: ZoneInfo, scope: str, member: str | None = None
) -> dict[str, dict[str, Number]]:
    """id → rule → points in the period (one id when ``member`` is given)."""
    column = _scope_column(scope)
    conditions = _in_period(period, tz)
    if member is not None:
        conditions.append(column == member)
    query = (
        select(column, PointsEntry.rule, func.sum(PointsEntry.points))
        .where(*conditions)
        .group_by(column, PointsEntry.rule)
    )
    out: dict[str, dict[str, Number]] = defaultdict(dict)
    with engine.connect() as connection:
        for who, rule, points in connection.execute(query):
            out[who][rule] = normalise_points(float(points))
    return dict(out)


# -- every line ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One award: the rule, the event that caused it, the case, when, how many points."""

    rule: str
    event_id: str
    case_id: str
    handler_id: str
    team_id: str
    occurred_at: datetime
    points: Number
    ruleset: str


def lines(
    engine: Engine,
    period: Period,
    tz: ZoneInfo,
    *,
    handler: str | None = None,
    team: str | None = None,
    limit: int | None = DEFAULT_LINES_LIMIT,
) -> list[LedgerLine]:
    """The awards of the period, oldest first (a handler's, a team's or everyone's)."""
    conditions = _in_period(period, tz)
    if handler is not None:
        conditions.append(PointsEntry.handler_id == handler)
    if team is not None:
        conditions.append(PointsEntry.team_id == team)
    query = (
        select(
            PointsEntry.rule,
            PointsEntry.event_id,
            PointsEntry.case_id,
            PointsEntry.handler_id,
            PointsEntry.team_id,
            PointsEntry.occurred_at,
            PointsEntry.points,
            PointsEntry.ruleset,
        )
        .where(*conditions)
        .order_by(PointsEntry.occurred_at, PointsEntry.id)
    )
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as connection:
        return [
            LedgerLine(rule, event, case, who, team_id, at, normalise_points(float(points)), rs)
            for rule, event, case, who, team_id, at, points, rs in connection.execute(query)
        ]


# -- handled cases -----------------------------------------------------------------


def _chunks(items: list[str], size: int = LOOKUP_CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def handled_cases(engine: Engine, period: Period, tz: ZoneInfo) -> dict[str, set[str]]:
    """handler → the cases they handled in the period (see the module's definition)."""
    start, end = period_bounds(period, tz)
    in_period = (
        select(CaseEventRow.case_id, CaseEventRow.seq)
        .where(CaseEventRow.occurred_at >= start, CaseEventRow.occurred_at < end)
        .order_by(CaseEventRow.case_id, CaseEventRow.seq)
    )
    handled: dict[str, set[str]] = defaultdict(set)
    with engine.connect() as connection:
        seqs: dict[str, list[int]] = defaultdict(list)
        for case_id, seq in connection.execute(in_period):
            seqs[case_id].append(seq)
        for chunk in _chunks(sorted(seqs)):
            assignments = (
                select(CaseEventRow.case_id, CaseEventRow.seq, CaseEventRow.payload)
                .where(
                    CaseEventRow.case_id.in_(chunk),
                    CaseEventRow.type.in_((c.OPENED, c.ASSIGNED)),
                )
                .order_by(CaseEventRow.case_id, CaseEventRow.seq)
            )
            changes: dict[str, list[tuple[int, str]]] = defaultdict(list)
            for case_id, seq, payload in connection.execute(assignments):
                changes[case_id].append((seq, str(orjson.loads(payload)["handler_id"])))
            for case_id in chunk:
                for handler in _holders(changes.get(case_id, []), seqs[case_id]):
                    handled[handler].add(case_id)
    return dict(handled)


def _holders(changes: list[tuple[int, str]], event_seqs: Iterable[int]) -> set[str]:
    """Who held the case at each of the events: the handler of the latest opening or
    assignment before the event (the opening itself counts for its own handler)."""
    change_seqs = [seq for seq, _ in changes]
    holders: set[str] = set()
    for seq in event_seqs:
        earlier = bisect.bisect_left(change_seqs, seq)
        if earlier > 0:
            holders.add(changes[earlier - 1][1])
        elif changes and change_seqs[0] == seq:
            holders.add(changes[0][1])
    return holders


# -- fair views --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FairRow:
    """A handler's points set against the cases they handled."""

    handler_id: str
    team_id: str | None
    points: Number
    cases: int
    points_per_case: Number | None
    expected: Number
    above_expected: Number
    cases_by_category: dict[str, int]


def fair_view(engine: Engine, period: Period, tz: ZoneInfo) -> list[FairRow]:
    """Per handler: points, handled cases, points per case and points against the
    case mix, best ``above_expected`` first (ties by id). Handlers with points or
    handled cases in the period appear."""
    handled = handled_cases(engine, period, tz)
    points = totals(engine, period, tz, "handler")
    teams = handler_teams(engine, period, tz)
    categories = _categories(engine, {case for cases in handled.values() for case in cases})
    case_points = _points_per_handler_case(engine, period, tz)
    return compute_fair_rows(handled, points, teams, categories, case_points)


def compute_fair_rows(
    handled: Mapping[str, set[str]],
    points: Mapping[str, float],
    teams: Mapping[str, str],
    categories: Mapping[str, str],
    case_points: Mapping[tuple[str, str], float],
) -> list[FairRow]:
    """The fair view from its parts (pure): ``case_points`` is (handler, case) → points."""
    category_points: dict[str, float] = defaultdict(float)
    category_cases: dict[str, int] = defaultdict(int)
    for handler, cases in handled.items():
        for case in cases:
            category = categories.get(case, "other")
            category_cases[category] += 1
            category_points[category] += case_points.get((handler, case), 0.0)
    average = {k: category_points[k] / n for k, n in category_cases.items() if n}
    rows: list[FairRow] = []
    for handler in sorted(set(handled) | set(points)):
        cases = handled.get(handler, set())
        mix: dict[str, int] = defaultdict(int)
        for case in cases:
            mix[categories.get(case, "other")] += 1
        total = points.get(handler, 0.0)
        expected = sum(n * average.get(category, 0.0) for category, n in mix.items())
        rows.append(
            FairRow(
                handler_id=handler,
                team_id=teams.get(handler),
                points=normalise_points(total),
                cases=len(cases),
                points_per_case=normalise_points(total / len(cases)) if cases else None,
                expected=normalise_points(expected),
                above_expected=normalise_points(total - expected),
                cases_by_category=dict(sorted(mix.items())),
            )
        )
    rows.sort(key=lambda row: (-row.above_expected, row.handler_id))
    return rows


def _categories(engine: Engine, case_ids: set[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    with engine.connect() as connection:
        for chunk in _chunks(sorted(case_ids)):
            query = select(Case.case_id, Case.category).where(Case.case_id.in_(chunk))
            out.update({case_id: category for case_id, category in connection.execute(query)})
    return out


def _points_per_handler_case(
    engine: Engine, period: Period, tz: ZoneInfo
) -> dict[tuple[str, str], float]:
    query = (
        select(PointsEntry.handler_id, PointsEntry.case_id, func.sum(PointsEntry.points))
        .where(*_in_period(period, tz))
        .group_by(PointsEntry.handler_id, PointsEntry.case_id)
    )
    with engine.connect() as connection:
        return {(h, case): float(p) for h, case, p in connection.execute(query)}


@dataclass(frozen=True, slots=True)
class TeamRow:
    team_id: str
    points: Number
    headcount: int
    per_head: Number | None


def team_totals(
    engine: Engine, period: Period, tz: ZoneInfo, headcount: Mapping[str, int]
) -> list[TeamRow]:
    """Team totals and points per head (``headcount``: handlers per team from
    configuration; a team missing there counts the handlers credited for it)."""
    points = totals(engine, period, tz, "team")
    credited: dict[str, set[str]] = defaultdict(set)
    for handler, team in handler_teams(engine, period, tz).items():
        credited[team].add(handler)
    return compute_team_rows(points, headcount, {t: len(h) for t, h in credited.items()})


def compute_team_rows(
    points: Mapping[str, float], headcount: Mapping[str, int], credited: Mapping[str, int]
) -> list[TeamRow]:
    """Team rows from their parts (pure), best per head first (ties by id)."""
    rows = []
    for team in sorted(set(points) | set(headcount)):
        heads = headcount.get(team) or credited.get(team, 0)
        total = points.get(team, 0.0)
        rows.append(
            TeamRow(
                team_id=team,
                points=normalise_points(total),
                headcount=heads,
                per_head=normalise_points(total / heads) if heads else None,
            )
        )
    rows.sort(key=lambda row: (-(row.per_head or 0), row.team_id))
    return rows
