"""What-if replays: the baseline equals the ledger, and the candidate equals what the
sinks would have stored had they scored with the candidate rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine

from events import contract as c
from events.scoring import DEFAULT_RULES, ScoringRules
from incentives import ledger
from incentives.period_keys import parse_period_key
from incentives.rulebook import PublishedRules, RuleBook
from incentives.whatif import WhatIfRow, compare, what_if
from store.db import make_engine
from store.migrate import upgrade
from tests.incentives.builders import SHANGHAI, Log, Script, by_time, noise, store_sink, world

CANDIDATE = ScoringRules(
    decision_late=-30,
    satisfaction={5: 8, 4: 3, 3: 0, 2: -3, 1: -8},
    category_weights={"claims": 1.5},
)
PERIODS = ["2026-12", "2026-W53", "2026-Q4", "2027-01-01", "2026-12-15"]


def migrated(url: str) -> Engine:
    upgrade(url, "heads")
    return make_engine(url)


@pytest.fixture
def engines(tmp_path: Path) -> Iterator[tuple[Engine, Engine]]:
    """The same records stored twice: with the shipped rules and with CANDIDATE."""
    actual = migrated(f"sqlite:///{tmp_path / 'actual.db'}")
    changed = migrated(f"sqlite:///{tmp_path / 'changed.db'}")
    records = noise(Log(), world(seed=5, cases=40))
    store_sink(actual).apply(records)
    store_sink(changed, CANDIDATE).apply(records)
    try:
        yield actual, changed
    finally:
        actual.dispose()
        changed.dispose()


@pytest.mark.parametrize("key", PERIODS)
def test_replay_matches_the_ledgers(engines: tuple[Engine, Engine], key: str) -> None:
    actual, changed = engines
    period = parse_period_key(key)
    report = what_if(actual, period, SHANGHAI, DEFAULT_RULES, CANDIDATE)
    assert report.skipped == 0
    for scope, rows in (("handler", report.handlers), ("team", report.teams)):
        old = {row.id: row.old_points for row in rows if row.old_rank is not None}
        new = {row.id: row.new_points for row in rows if row.new_rank is not None}
        assert old == _rounded(ledger.totals(actual, period, SHANGHAI, scope))
        assert new == _rounded(ledger.totals(changed, period, SHANGHAI, scope))
    assert report.changes("handler"), "the candidate should move someone"


def _rounded(points: dict[str, float]) -> dict[str, float]:
    return {member: round(value, 2) for member, value in points.items()}


def test_the_same_rules_change_nothing(engines: tuple[Engine, Engine]) -> None:
    actual, _ = engines
    report = what_if(actual, parse_period_key("2026-12"), SHANGHAI, DEFAULT_RULES, DEFAULT_RULES)
    assert report.handlers and not report.changes("handler") and not report.changes("team")
    assert all(old == new for old, new in report.by_rule.values())


def test_a_case_opened_before_the_period_is_replayed_from_its_first_event(
    tmp_path: Path,
) -> None:
    engine = migrated(f"sqlite:///{tmp_path / 'one.db'}")
    script = Script("OLD")
    script.opened("2026-11-02T09:00:00+08:00", "h-001")  # deadline 18 November 00:00
    script.add(c.DECISION_MADE, "2026-11-25T10:00:00+08:00")  # late, in week 2026-W48
    other = Script("NEW")
    other.opened("2026-11-24T09:00:00+08:00", "h-002")
    other.add(c.DECISION_MADE, "2026-11-25T09:00:00+08:00")
    store_sink(engine).apply(Log().records(by_time(script.events + other.events)))
    week = parse_period_key("2026-W48")
    report = what_if(engine, week, SHANGHAI, DEFAULT_RULES, ScoringRules(decision_late=-30))
    engine.dispose()
    assert (report.cases, report.events) == (2, 3)
    assert report.handlers == [
        WhatIfRow("h-002", "claims-east", 1, 1, 10, 10),
        WhatIfRow("h-001", "claims-east", 2, 2, -10, -30),
    ]
    assert report.by_rule == {"decision_on_time": (10, 10), "decision_late": (-10, -30)}
    assert [row.id for row in report.changes("handler")] == ["h-001"]


def test_the_baseline_follows_the_rule_book(engines: tuple[Engine, Engine]) -> None:
    """With the candidate published from 15 December, the baseline of December is the
    shipped rules before that day and the candidate from it."""
    actual, changed = engines
    book = RuleBook(DEFAULT_RULES, [PublishedRules("dec", date(2026, 12, 15), CANDIDATE)], SHANGHAI)
    before = what_if(actual, parse_period_key("2026-12-14"), SHANGHAI, book, DEFAULT_RULES)
    after = what_if(actual, parse_period_key("2026-12-15"), SHANGHAI, book, DEFAULT_RULES)
    assert not before.changes("handler")
    expected = _rounded(ledger.totals(changed, parse_period_key("2026-12-15"), SHANGHAI, "handler"))
    assert {row.id: row.old_points for row in after.handlers if row.old_rank} == expected


def test_compare_lists_everyone_on_either_side_by_new_rank() -> None:
    rows = compare({"a": 5.0, "b": 3.0, "c": 1.0}, {"b": 9.0, "a": 5.0, "d": 5.0}, None)
    assert [(r.id, r.old_rank, r.new_rank, r.rank_move) for r in rows] == [
        ("b", 2, 1, 1),
        ("a", 1, 2, -1),
        ("d", None, 2, None),
        ("c", 3, None, None),
    ]
    assert [r.changed for r in rows] == [True, True, True, True]
    assert rows[0].team_id == "b"
