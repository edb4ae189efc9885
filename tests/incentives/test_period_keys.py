"""Period keys as typed on the command line."""

from __future__ import annotations

from datetime import date

import pytest

from incentives.period_keys import parse_period_key, recent_periods


@pytest.mark.parametrize(
    ("key", "kind", "start", "end"),
    [
        ("2026-11-24", "day", date(2026, 11, 24), date(2026, 11, 24)),
        ("2026-W48", "week", date(2026, 11, 23), date(2026, 11, 29)),
        ("2026-w48", "week", date(2026, 11, 23), date(2026, 11, 29)),
        ("2026-W53", "week", date(2026, 12, 28), date(2027, 1, 3)),
        ("2027-W01", "week", date(2027, 1, 4), date(2027, 1, 10)),
        ("2026-11", "month", date(2026, 11, 1), date(2026, 11, 30)),
        ("2028-02", "month", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2026, 12, 31)),
        ("2027-Q1", "quarter", date(2027, 1, 1), date(2027, 3, 31)),
    ],
)
def test_keys_name_their_period(key: str, kind: str, start: date, end: date) -> None:
    period = parse_period_key(key)
    assert (period.kind, period.start, period.end) == (kind, start, end)
    assert period.key == key.upper()


@pytest.mark.parametrize("key", ["2026-13", "2026-02-30", "2025-W53", "2026-Q5", "Nov 2026", ""])
def test_bad_keys_say_which_forms_are_accepted(key: str) -> None:
    with pytest.raises(ValueError, match=r"YYYY-MM-DD \(day\), YYYY-Www"):
        parse_period_key(key)


def test_recent_periods_end_with_the_given_one() -> None:
    periods = recent_periods(parse_period_key("2027-W02"), 3)
    assert [p.key for p in periods] == ["2026-W53", "2027-W01", "2027-W02"]
