"""Which scoring rules are in force when (pure).

A ``RuleBook`` holds the base rules (scoring.yaml, in force from the
beginning) and the published rule sets, each in force from 00:00 of its
effective-from date in the business time zone until the next one starts.
The sinks score each event with ``rules_at(event.occurred_at)``, so
publishing a rule set never rewrites a period that has already been
scored, and a replay of the event log (rebuild, reconcile, what-if) gives
the same points as the live pipeline.

At equal effective-from dates, the rule set published last wins.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Final
from zoneinfo import ZoneInfo

from events.scoring import DEFAULT_RULES, ScoringRules
from events.timeutil import start_of_local_day

BASE_RULESET: Final = "default"
"""The name of the base rules in the points ledger (``points_ledger.ruleset``)."""


@dataclass(frozen=True, slots=True)
class RuleSetSpan:
    """A rule set and the instant from which it is in force (None: always)."""

    name: str
    rules: ScoringRules
    starts_at: float | None = None
    effective_from: date | None = None


@dataclass(frozen=True, slots=True)
class PublishedRules:
    """A published rule set as the rule book needs it."""

    name: str
    effective_from: date
    rules: ScoringRules


class RuleBook:
    """Scoring rules by instant: the base rules, then each published set."""

    def __init__(
        self,
        base: ScoringRules = DEFAULT_RULES,
        published: Iterable[PublishedRules] = (),
        tz: ZoneInfo | None = None,
        base_name: str = BASE_RULESET,
    ) -> None:
        published = list(published)
        if published and tz is None:
            raise ValueError("published rule sets need the business time zone")
        spans = [RuleSetSpan(base_name, base)]
        # Stable sort: at equal dates the later publication stays later and wins.
        for item in sorted(published, key=lambda p: p.effective_from):
            assert tz is not None
            starts = start_of_local_day(item.effective_from, tz)
            spans.append(RuleSetSpan(item.name, item.rules, starts, item.effective_from))
        self._spans: tuple[RuleSetSpan, ...] = tuple(spans)
        self._starts: list[float] = [s.starts_at for s in spans[1:] if s.starts_at is not None]

    @classmethod
    def constant(cls, rules: ScoringRules, name: str = BASE_RULESET) -> RuleBook:
        """A rule book with one rule set for all time."""
        return cls(rules, base_name=name)

    @property
    def spans(self) -> tuple[RuleSetSpan, ...]:
        """Every rule set, base first, in the order they take effect."""
        return self._spans

    def span_at(self, epoch: float) -> RuleSetSpan:
        """The rule set in force at the instant ``epoch``."""
        index = bisect.bisect_right(self._starts, epoch)
        return self._spans[index]

    def rules_at(self, epoch: float) -> ScoringRules:
        """The rules scoring an event that occurred at ``epoch``."""
        return self.span_at(epoch).rules

    def ruleset_at(self, epoch: float) -> str:
        """The name of the rule set in force at ``epoch`` (for the ledger)."""
        return self.span_at(epoch).name

    def refresh(self) -> None:
        """A rule book is fixed; ``LiveRuleBook`` re-reads published sets."""
        return None

    def current(self, now: float) -> RuleSetSpan:
        """The rule set in force now."""
        return self.span_at(now)

    def upcoming(self, now: float) -> list[RuleSetSpan]:
        """Rule sets that take effect after ``now``."""
        return [span for span in self._spans if span.starts_at is not None and span.starts_at > now]
