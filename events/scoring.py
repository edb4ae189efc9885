"""Incentive scoring (scoring-v1.md): which applied event gives which points (pure).

``ScoringRules`` holds the points table; its defaults are exactly the shipped
rules of scoring-v1.md. The rule names below identify each line of the
ledger ("why these points").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from events import contract as c

DECISION_ON_TIME = "decision_on_time"
DECISION_LATE = "decision_late"
FOLLOW_UP_ON_TIME = "follow_up_on_time"
FOLLOW_UP_LATE = "follow_up_late"
SATISFACTION = "satisfaction"
ESCALATED_TO_REGULATOR = "escalated_to_regulator"
REOPENED = "reopened"
REWORK = "rework"

RULE_NAMES: tuple[str, ...] = (
    DECISION_ON_TIME,
    DECISION_LATE,
    FOLLOW_UP_ON_TIME,
    FOLLOW_UP_LATE,
    SATISFACTION,
    ESCALATED_TO_REGULATOR,
    REOPENED,
    REWORK,
)


def _default_satisfaction() -> dict[int, float]:
    return {5: 5, 4: 3, 3: 0, 2: -3, 1: -5}


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """Points per rule; the defaults are scoring-v1.md."""

    decision_on_time: float = 10
    decision_late: float = -10
    follow_up_on_time: float = 3
    follow_up_late: float = -3
    satisfaction: dict[int, float] = field(default_factory=_default_satisfaction)
    escalated_to_regulator: float = -20
    reopened: float = -10
    rework: float = -2
    # Difficulty weight per complaint category; missing categories weigh 1.
    category_weights: dict[str, float] = field(default_factory=dict)

    def weight(self, category: str) -> float:
        return self.category_weights.get(category, 1.0)

    # A fixed rule set is its own rule source (see RuleSource).
    def rules_at(self, epoch: float) -> ScoringRules:
        return self

    def ruleset_at(self, epoch: float) -> str:
        return DEFAULT_RULESET

    def refresh(self) -> None:
        return None


DEFAULT_RULESET = "default"
DEFAULT_RULES = ScoringRules()


class RuleSource(Protocol):
    """The scoring rules in force at each moment.

    A fixed ScoringRules, or a rule book of published rule sets that apply
    from chosen dates (incentives.rulebook). Events score by the rules in
    force at their ``occurred_at``, so publishing never rewrites the past.
    ``refresh`` lets a source that reads published rule sets re-read them
    (sinks call it once per batch, outside the pure core).
    """

    def rules_at(self, epoch: float) -> ScoringRules: ...

    def ruleset_at(self, epoch: float) -> str: ...

    def refresh(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Award:
    """Points credited to a handler (and their team) for one applied event."""

    rule: str
    points: float
    event_id: str
    case_id: str
    handler_id: str
    team_id: str
    occurred_at: float


def stage_is_rework(current: str, to_stage: str) -> bool:
    return c.STAGE_INDEX[to_stage] < c.STAGE_INDEX[current]


def normalise_points(value: float) -> float | int:
    """Whole numbers as int, others rounded to 2 decimals."""
    rounded = round(value, 2)
    return int(rounded) if rounded == int(rounded) else rounded
