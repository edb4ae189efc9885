"""Rule sets in force by instant, from 00:00 of their effective-from date."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from events.scoring import DEFAULT_RULES, ScoringRules
from incentives.rulebook import BASE_RULESET, PublishedRules, RuleBook

SHANGHAI = ZoneInfo("Asia/Shanghai")
DECEMBER = ScoringRules(decision_on_time=12)
JANUARY = ScoringRules(decision_on_time=15)
CORRECTED = ScoringRules(decision_on_time=14)


def instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def book() -> RuleBook:
    return RuleBook(
        DEFAULT_RULES,
        [
            PublishedRules("rules-2027-01-01", date(2027, 1, 1), JANUARY),
            PublishedRules("rules-2026-12-01", date(2026, 12, 1), DECEMBER),
        ],
        SHANGHAI,
    )


@pytest.mark.parametrize(
    ("moment", "name"),
    [
        ("2026-11-30T23:59:59+08:00", BASE_RULESET),
        ("2026-12-01T00:00:00+08:00", "rules-2026-12-01"),
        # 2026-11-30 16:00 UTC is already 1 December in Shanghai
        ("2026-11-30T16:00:00+00:00", "rules-2026-12-01"),
        ("2026-11-30T15:59:59+00:00", BASE_RULESET),
        ("2026-12-31T23:59:59+08:00", "rules-2026-12-01"),
        ("2027-01-01T00:00:00+08:00", "rules-2027-01-01"),
        ("2030-06-01T00:00:00+08:00", "rules-2027-01-01"),
        ("2000-01-01T00:00:00+08:00", BASE_RULESET),
    ],
)
def test_the_rules_in_force_start_at_local_midnight(book: RuleBook, moment: str, name: str) -> None:
    assert book.ruleset_at(instant(moment)) == name
    expected = {
        BASE_RULESET: DEFAULT_RULES,
        "rules-2026-12-01": DECEMBER,
        "rules-2027-01-01": JANUARY,
    }[name]
    assert book.rules_at(instant(moment)) == expected


def test_at_equal_dates_the_last_published_wins() -> None:
    book = RuleBook(
        DEFAULT_RULES,
        [
            PublishedRules("first", date(2026, 12, 1), DECEMBER),
            PublishedRules("correction", date(2026, 12, 1), CORRECTED),
        ],
        SHANGHAI,
    )
    assert book.ruleset_at(instant("2026-12-01T00:00:00+08:00")) == "correction"
    assert book.rules_at(instant("2026-12-05T00:00:00+08:00")) == CORRECTED


def test_a_constant_book_has_one_rule_set_for_all_time() -> None:
    book = RuleBook.constant(DECEMBER, "trial")
    assert book.rules_at(0) == DECEMBER
    assert book.ruleset_at(instant("2099-01-01T00:00:00+08:00")) == "trial"
    assert [span.name for span in book.spans] == ["trial"]


def test_upcoming_and_current(book: RuleBook) -> None:
    now = instant("2026-12-15T12:00:00+08:00")
    assert book.current(now).name == "rules-2026-12-01"
    assert [span.name for span in book.upcoming(now)] == ["rules-2027-01-01"]


def test_published_sets_need_the_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        RuleBook(DEFAULT_RULES, [PublishedRules("x", date(2026, 12, 1), DECEMBER)])
