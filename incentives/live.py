"""The rule book a running consumer scores with, re-read when a rule set is published."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from events.scoring import ScoringRules
from incentives.publish import RuleSetsUnavailable, load_rulebook, rulebook_version
from incentives.rulebook import RuleBook

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 30.0


class LiveRuleBook:
    """A RuleSource over the base rules (scoring.yaml) and the published rule sets.

    ``refresh`` (called by the sinks once per batch) checks the publication
    version at most every ``check_every`` seconds and reloads on a change.
    Publications take effect from a future date (incentives.publish), so a
    reload within the check interval never changes the score of an event
    already stored.
    """

    def __init__(
        self,
        engine: Engine,
        base: ScoringRules,
        tz: ZoneInfo,
        check_every: float = CHECK_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.base = base
        self.tz = tz
        self.check_every = check_every
        self.clock = clock
        self.version = -1
        self.book = RuleBook.constant(base)
        self.checked_at = float("-inf")
        self.refresh()

    def refresh(self) -> None:
        now = self.clock()
        if now - self.checked_at < self.check_every:
            return
        self.checked_at = now
        try:
            version = rulebook_version(self.engine)
            if version != self.version:
                self.book = load_rulebook(self.engine, self.base, self.tz, missing_ok=True)
                if self.version != -1:
                    log.info("scoring rule sets reloaded (version %d)", version)
                self.version = version
        except RuleSetsUnavailable:
            self.version = 0  # not migrated yet: the base rules alone
        except SQLAlchemyError as exc:
            log.warning("published rule sets not re-read (%s); scoring with the last ones", exc)

    def rules_at(self, epoch: float) -> ScoringRules:
        return self.book.rules_at(epoch)

    def ruleset_at(self, epoch: float) -> str:
        return self.book.ruleset_at(epoch)
