"""Published rule sets: from a future date only, recorded with who and when."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, inspect

from events.scoring import DEFAULT_RULES, ScoringRules
from incentives.publish import (
    PublishError,
    RuleSetsUnavailable,
    first_allowed_date,
    list_published,
    load_rulebook,
    publish,
    rulebook_version,
)
from store.db import make_engine
from store.migrate import downgrade, upgrade
from tests.incentives.builders import SHANGHAI, instant

# 23:30 on 30 November in Shanghai (15:30 UTC): "today" is 30 November there.
NOW = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)
GENEROUS = ScoringRules(decision_on_time=15, category_weights={"claims": 1.2})
STRICT = ScoringRules(decision_late=-20)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url, "heads")
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_earliest_date_is_tomorrow_in_the_business_zone() -> None:
    assert first_allowed_date(NOW, SHANGHAI) == date(2026, 12, 1)
    # 23:44:59 still allows tomorrow; from 23:45 the consumers might not reload in time.
    assert first_allowed_date(datetime(2026, 11, 30, 15, 44, 59, tzinfo=UTC), SHANGHAI) == date(
        2026, 12, 1
    )
    assert first_allowed_date(datetime(2026, 11, 30, 15, 45, tzinfo=UTC), SHANGHAI) == date(
        2026, 12, 2
    )
    assert first_allowed_date(datetime(2026, 11, 30, 16, 0, tzinfo=UTC), SHANGHAI) == date(
        2026, 12, 2
    )


@pytest.mark.parametrize("day", [date(2026, 11, 30), date(2026, 11, 1)])
def test_today_or_the_past_is_refused(engine: Engine, day: date) -> None:
    with pytest.raises(PublishError) as caught:
        publish(engine, GENEROUS, "yaml", day, "m-001", SHANGHAI, now=NOW)
    assert str(caught.value) == (
        "the effective-from date must be 2026-12-01 or later: points already given are "
        f"never rescored, got {day.isoformat()}"
    )
    assert list_published(engine) == []


def test_published_sets_record_who_when_and_the_text(engine: Engine) -> None:
    assert rulebook_version(engine) == 0
    first = publish(
        engine,
        GENEROUS,
        "# generous\n",
        date(2026, 12, 1),
        " m-001 ",
        SHANGHAI,
        now=NOW,
        note="reward speed",
    )
    assert (first.name, first.published_by, first.note) == (
        "rules-2026-12-01",
        "m-001",
        "reward speed",
    )
    assert first.published_at == NOW and first.rules == GENEROUS
    again = publish(engine, STRICT, "# strict\n", date(2026, 12, 1), "m-002", SHANGHAI, now=NOW)
    named = publish(
        engine,
        DEFAULT_RULES,
        "# back\n",
        date(2027, 1, 1),
        "m-001",
        SHANGHAI,
        now=NOW,
        name="back-to-v1",
    )
    assert again.name == "rules-2026-12-01-2"
    assert rulebook_version(engine) == named.id > again.id > first.id
    stored = list_published(engine)
    assert [(p.name, p.effective_from, p.rules, p.source_yaml) for p in stored] == [
        ("rules-2026-12-01", date(2026, 12, 1), GENEROUS, "# generous\n"),
        ("rules-2026-12-01-2", date(2026, 12, 1), STRICT, "# strict\n"),
        ("back-to-v1", date(2027, 1, 1), DEFAULT_RULES, "# back\n"),
    ]
    book = load_rulebook(engine, DEFAULT_RULES, SHANGHAI)
    assert book.ruleset_at(instant("2026-11-30T23:59:59+08:00")) == "default"
    assert book.rules_at(instant("2026-12-01T00:00:00+08:00")) == STRICT  # last published wins
    assert book.ruleset_at(instant("2027-01-01T00:00:00+08:00")) == "back-to-v1"


@pytest.mark.parametrize(
    ("name", "by", "message"),
    [
        ("default", "m-001", "and not 'default', got 'default'"),
        ("with space", "m-001", "got 'with space'"),
        (None, "   ", "the publisher must be a user name of 1 to 64 characters"),
    ],
)
def test_bad_names_are_refused(engine: Engine, name: str | None, by: str, message: str) -> None:
    with pytest.raises(PublishError, match=message):
        publish(engine, STRICT, "", date(2026, 12, 5), by, SHANGHAI, now=NOW, name=name)


def test_a_name_is_published_once(engine: Engine) -> None:
    publish(engine, STRICT, "", date(2026, 12, 5), "m", SHANGHAI, now=NOW, name="s")
    with pytest.raises(PublishError, match="a rule set named 's' is already published"):
        publish(engine, STRICT, "", date(2026, 12, 6), "m", SHANGHAI, now=NOW, name="s")


def test_without_the_table(sqlite_url: str) -> None:
    upgrade(sqlite_url, "0001")
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(RuleSetsUnavailable, match="run 'complaintops db upgrade'"):
            load_rulebook(engine, STRICT, SHANGHAI)
        book = load_rulebook(engine, STRICT, SHANGHAI, missing_ok=True)
        assert [span.name for span in book.spans] == ["default"] and book.rules_at(0) == STRICT
    finally:
        engine.dispose()


def test_the_migration_goes_up_and_down(sqlite_url: str) -> None:
    upgrade(sqlite_url, "rulesets@head")
    engine = make_engine(sqlite_url)
    try:
        assert inspect(engine).has_table("scoring_rulesets")
        downgrade(sqlite_url, "0001")
        assert not inspect(engine).has_table("scoring_rulesets")
        assert inspect(engine).has_table("points_ledger")
    finally:
        engine.dispose()
