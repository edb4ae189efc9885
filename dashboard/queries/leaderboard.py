"""The leaderboard page's data: plain functions over the runtime.

Rankings come from Redis through ``leaderboard_view`` (the API's answer, so
the page and ``GET /api/v1/leaderboard`` never disagree); everything that
explains points (by rule, every line, the fair views, team totals) comes
from the SQL points ledger; what-if replays read the SQL event log.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from complaintops.runtime import Runtime
from config.rules import resolve_rule_file
from config.scoring import SCORING_FILE, load_scoring_rules, parse_scoring_text
from dashboard.api.routes_leaderboard import leaderboard_view
from events.periods import Period, period_of
from events.scoring import RULE_NAMES, ScoringRules
from incentives import ledger
from incentives.period_keys import parse_period_key
from incentives.publish import (
    PublishedRuleSet,
    list_published,
    load_rulebook,
    publish,
)
from incentives.ranking import Number
from incentives.rulebook import RuleBook
from incentives.whatif import WhatIfReport, what_if
from metrics.leaderboard import TREND_PERIODS, trend

WHY_LINES_LIMIT: Final = 500
TREND_MEMBERS: Final = 5


@dataclass(frozen=True, slots=True)
class Board:
    """A ranking as the API answers it, and the period it covers."""

    period: Period
    scope: str
    rows: list[dict[str, Any]]


def board(runtime: Runtime, kind: str, scope: str, at: date, team: str | None = None) -> Board:
    view = leaderboard_view(runtime, kind, scope, at, team)
    return Board(period_of(kind, at), scope, list(view["rows"]))


def rule_breakdown(
    runtime: Runtime, period: Period, scope: str, member: str | None = None
) -> dict[str, dict[str, Number]]:
    """id → rule → points in the period, rules in scoring-v1.md order."""
    raw = ledger.by_rule(runtime.engine, period, runtime.tz, scope, member)
    order = {rule: i for i, rule in enumerate(RULE_NAMES)}
    return {
        who: dict(sorted(rules.items(), key=lambda item: order.get(item[0], len(order))))
        for who, rules in raw.items()
    }


def why_lines(
    runtime: Runtime, period: Period, scope: str, member: str, limit: int | None = WHY_LINES_LIMIT
) -> list[ledger.LedgerLine]:
    """Every award of a handler (or team) in the period, oldest first."""
    if scope == "handler":
        return ledger.lines(runtime.engine, period, runtime.tz, handler=member, limit=limit)
    return ledger.lines(runtime.engine, period, runtime.tz, team=member, limit=limit)


def trend_series(
    runtime: Runtime, kind: str, at: date, scope: str, ids: Sequence[str]
) -> tuple[list[Period], dict[str, list[float | None]]]:
    """Points of ``ids`` over the last periods (None where absent), oldest first."""
    points = trend(runtime.redis, kind, at, scope, ids, count=TREND_PERIODS)
    periods = [p.period for p in points]
    series = {member: [p.points.get(member) for p in points] for member in ids}
    return periods, series


def trend_members(rows: Sequence[Mapping[str, Any]], chosen: str | None) -> list[str]:
    """The ids drawn in the trend: the chosen one and the top of the ranking."""
    ids = [str(row["id"]) for row in rows[:TREND_MEMBERS]]
    if chosen and chosen not in ids:
        ids.append(chosen)
    return ids


def fair_rows(runtime: Runtime, period: Period) -> list[ledger.FairRow]:
    return ledger.fair_view(runtime.engine, period, runtime.tz)


def team_rows(runtime: Runtime, period: Period) -> list[ledger.TeamRow]:
    headcount = {team.id: len(team.handlers) for team in runtime.rules.teams.teams}
    return ledger.team_totals(runtime.engine, period, runtime.tz, headcount)


# -- rules ------------------------------------------------------------------------------


def shipped_rules_text(runtime: Runtime) -> str:
    """The scoring.yaml in use (the override in rules_dir or the shipped one), as text."""
    return resolve_rule_file(runtime.settings, SCORING_FILE).read_text(encoding="utf-8")


def rulebook(runtime: Runtime) -> RuleBook:
    """The rules in force over time: scoring.yaml, then every published rule set."""
    return load_rulebook(
        runtime.engine, load_scoring_rules(runtime.settings), runtime.tz, missing_ok=True
    )


def published(runtime: Runtime) -> list[PublishedRuleSet]:
    return list_published(runtime.engine)


def parse_candidate(text: str, name: str = "scoring.yaml") -> ScoringRules:
    """The candidate rules of a pasted or uploaded YAML; ConfigError naming the key."""
    return parse_scoring_text(text, name)


def run_what_if(runtime: Runtime, period_key: str, candidate: ScoringRules) -> WhatIfReport:
    """Replay a period (``2026-11``, ``2026-W48``, ...) under the candidate rules."""
    period = parse_period_key(period_key)
    return what_if(runtime.engine, period, runtime.tz, rulebook(runtime), candidate)


def publish_candidate(
    runtime: Runtime,
    text: str,
    effective_from: date,
    published_by: str,
    *,
    now: datetime | None = None,
    note: str | None = None,
) -> PublishedRuleSet:
    """Validate and publish a rule set from ``effective_from``; ConfigError or PublishError."""
    rules = parse_candidate(text)
    return publish(
        runtime.engine, rules, text, effective_from, published_by, runtime.tz, now=now, note=note
    )
