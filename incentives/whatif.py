"""What if the rules had been different? Replay a period through changed rules.

Every case with an event in the period is replayed through the pure core
from its first event, because an award depends on the case's history (its
first decision, its deadline, whether a satisfaction was already given).
Each event is scored twice: with the rules in force when it happened (the
baseline, which equals the points ledger) and with the candidate rules;
only awards for events inside the period count. Nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select

from events.decode import decode
from events.machine import Outcome, apply
from events.model import CaseEvent
from events.periods import Period
from events.scoring import RULE_NAMES, Award, ScoringRules, normalise_points
from events.state import CaseState
from incentives.ledger import period_bounds
from incentives.ranking import Number, ranks
from incentives.rulebook import RuleBook
from store.models import CaseEventRow

CASE_CHUNK: Final = 500
SCOPES: Final = ("handler", "team")


@dataclass(frozen=True, slots=True)
class WhatIfRow:
    """One handler or team: rank and points now, and under the candidate rules."""

    id: str
    team_id: str | None
    old_rank: int | None
    new_rank: int | None
    old_points: Number
    new_points: Number

    @property
    def rank_move(self) -> int | None:
        """Old rank minus new rank (positive: would move up); None when absent on one side."""
        if self.old_rank is None or self.new_rank is None:
            return None
        return self.old_rank - self.new_rank

    @property
    def changed(self) -> bool:
        return self.old_rank != self.new_rank or self.old_points != self.new_points


@dataclass(slots=True)
class Tally:
    """Awards of one side of the comparison."""

    handler: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    team: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_rule: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    teams_of: dict[str, tuple[float, str]] = field(default_factory=dict)

    def add(self, award: Award) -> None:
        self.handler[award.handler_id] += award.points
        self.team[award.team_id] += award.points
        self.by_rule[award.rule] += award.points
        latest = self.teams_of.get(award.handler_id)
        if latest is None or award.occurred_at >= latest[0]:
            self.teams_of[award.handler_id] = (award.occurred_at, award.team_id)


@dataclass(frozen=True, slots=True)
class WhatIfReport:
    period: Period
    cases: int
    events: int
    skipped: int  # logged events the replay did not apply (should be 0)
    handlers: list[WhatIfRow]
    teams: list[WhatIfRow]
    by_rule: dict[str, tuple[Number, Number]]  # rule -> (old points, new points)

    def rows(self, scope: str) -> list[WhatIfRow]:
        return self.handlers if scope == "handler" else self.teams

    def changes(self, scope: str) -> list[WhatIfRow]:
        """Rows whose rank or points would change."""
        return [row for row in self.rows(scope) if row.changed]


def compare(
    old: dict[str, float], new: dict[str, float], teams: dict[str, str] | None
) -> list[WhatIfRow]:
    """Rows for every id on either side, by new rank (absent last), then old rank, then id."""
    old_ranks, new_ranks = ranks(old), ranks(new)
    rows = [
        WhatIfRow(
            id=member,
            team_id=teams.get(member) if teams is not None else member,
            old_rank=old_ranks.get(member),
            new_rank=new_ranks.get(member),
            old_points=normalise_points(old.get(member, 0.0)),
            new_points=normalise_points(new.get(member, 0.0)),
        )
        for member in set(old) | set(new)
    ]
    far = len(rows) + 1
    rows.sort(key=lambda r: (r.new_rank or far, r.old_rank or far, r.id))
    return rows


def _as_book(rules: ScoringRules | RuleBook) -> RuleBook:
    return rules if isinstance(rules, RuleBook) else RuleBook.constant(rules)


def replay(
    cases: Iterable[Sequence[CaseEvent]],
    period: Period,
    tz: ZoneInfo,
    baseline: ScoringRules | RuleBook,
    candidate: ScoringRules | RuleBook,
) -> WhatIfReport:
    """Replay each case's events (in seq order, from its first) under both rule sets."""
    base_book, new_book = _as_book(baseline), _as_book(candidate)
    start_dt, end_dt = period_bounds(period, tz)
    start, end = start_dt.timestamp(), end_dt.timestamp()
    old, new = Tally(), Tally()
    case_count = event_count = skipped = 0
    for events in cases:
        case_count += 1
        state: CaseState | None = None
        for event in events:
            inside = start <= event.occurred_at < end
            event_count += inside
            before = state
            transition = apply(before, event, tz, base_book.rules_at(event.occurred_at))
            if transition.outcome is not Outcome.APPLIED:
                skipped += 1
                continue
            state = transition.state
            if not inside:
                continue
            for award in transition.awards:
                old.add(award)
            for award in apply(before, event, tz, new_book.rules_at(event.occurred_at)).awards:
                new.add(award)
    teams = {h: team for h, (_, team) in {**old.teams_of, **new.teams_of}.items()}
    rules_seen = [rule for rule in RULE_NAMES if rule in old.by_rule or rule in new.by_rule]
    return WhatIfReport(
        period=period,
        cases=case_count,
        events=event_count,
        skipped=skipped,
        handlers=compare(dict(old.handler), dict(new.handler), teams),
        teams=compare(dict(old.team), dict(new.team), None),
        by_rule={
            rule: (
                normalise_points(old.by_rule.get(rule, 0.0)),
                normalise_points(new.by_rule.get(rule, 0.0)),
            )
            for rule in rules_seen
        },
    )


# -- reading the event log ---------------------------------------------------------


def cases_in_period(engine: Engine, period: Period, tz: ZoneInfo) -> list[str]:
    """Ids of the cases with at least one logged event in the period."""
    start, end = period_bounds(period, tz)
    query = (
        select(CaseEventRow.case_id)
        .where(CaseEventRow.occurred_at >= start, CaseEventRow.occurred_at < end)
        .distinct()
        .order_by(CaseEventRow.case_id)
    )
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def case_histories(
    engine: Engine, case_ids: Sequence[str], chunk: int = CASE_CHUNK
) -> Iterator[list[CaseEvent]]:
    """Every logged event of each case, in seq order, case by case."""
    with engine.connect() as connection:
        for begin in range(0, len(case_ids), chunk):
            ids = list(case_ids[begin : begin + chunk])
            query = (
                select(CaseEventRow.case_id, CaseEventRow.payload)
                .where(CaseEventRow.case_id.in_(ids))
                .order_by(CaseEventRow.case_id, CaseEventRow.seq)
            )
            current: str | None = None
            events: list[CaseEvent] = []
            for case_id, payload in connection.execute(query):
                if case_id != current and events:
                    yield events
                    events = []
                current = case_id
                events.append(decode(payload.encode("utf-8")))
            if events:
                yield events


def what_if(
    engine: Engine,
    period: Period,
    tz: ZoneInfo,
    baseline: ScoringRules | RuleBook,
    candidate: ScoringRules | RuleBook,
) -> WhatIfReport:
    """Replay the period's cases from the SQL event log under ``candidate`` and compare
    with ``baseline`` (the rule book in force)."""
    ids = cases_in_period(engine, period, tz)
    return replay(case_histories(engine, ids), period, tz, baseline, candidate)
