"""The consumers' rule book re-reads published rule sets, at most every check interval."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.engine import Engine

from events.scoring import DEFAULT_RULES, ScoringRules
from incentives.live import LiveRuleBook
from incentives.publish import publish
from store import migrate
from store.db import make_engine
from tests.events.factory import SHANGHAI, instant


def engine_for(url: str) -> Engine:
    migrate.upgrade(url)
    return make_engine(url)


def test_a_publication_is_picked_up_after_the_check_interval(sqlite_url: str) -> None:
    engine = engine_for(sqlite_url)
    now = [1000.0]
    book = LiveRuleBook(engine, DEFAULT_RULES, SHANGHAI, check_every=30, clock=lambda: now[0])
    december = instant("2026-12-05T10:00:00+08:00")
    assert book.rules_at(december).decision_on_time == 10
    publish(
        engine,
        ScoringRules(decision_on_time=12),
        "decision_on_time: 12\n",
        date(2026, 12, 1),
        "manager-1",
        SHANGHAI,
        now=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        name="december",
    )
    now[0] += 10
    book.refresh()
    assert book.rules_at(december).decision_on_time == 10  # not checked yet
    now[0] += 30
    book.refresh()
    assert book.rules_at(december).decision_on_time == 12
    assert book.ruleset_at(december) == "december"
    # Events before the effective date keep the rules they were scored with.
    assert book.rules_at(instant("2026-11-30T23:59:59+08:00")).decision_on_time == 10


def test_a_database_without_the_table_scores_with_the_base_rules(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)  # no migrations at all
    book = LiveRuleBook(engine, DEFAULT_RULES, SHANGHAI)
    assert book.rules_at(0) is DEFAULT_RULES
    assert book.ruleset_at(0) == "default"
