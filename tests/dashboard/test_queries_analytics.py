"""The analytics page's queries: breakdowns, weekly trends and headline figures."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from dashboard.queries import analytics
from dashboard.queries.analytics import AnalyticsFilter, BreakdownRow
from tests.dashboard.desk_data import NOW, SHANGHAI, Feed, Script, make_runtime

DAY_HOURS = 24
# NOW is Monday 30 Nov 2026 14:20 (ISO week 2026-W49).
WHOLE_RANGE = AnalyticsFilter(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def runtime(
    redis_client: redis.Redis, valkey_url: str, database_url: str, tmp_path: Path
) -> Runtime:
    """On SQLite and on PostgreSQL (skipped when no server answers)."""
    return make_runtime(valkey_url, database_url, tmp_path)


def profile(gender: str, age: str, repeat: bool | None = None) -> dict[str, object]:
    out: dict[str, object] = {"gender": gender, "age_band": age, "occupation": "工程师"}
    if repeat is not None:
        out["repeat"] = repeat
    return out


@pytest.fixture
def fed(runtime: Runtime) -> Runtime:
    scripts = [
        # W49 (today)
        Script("A-1").opened(2, channel="online", complainant=profile("f", "<30", False)),
        Script("A-2")
        .opened(3, channel="phone", category="sales", complainant=profile("f", "30-44", True))
        .add("case.decision_made", 2, outcome="upheld")
        .add("case.closed", 1, resolution="resolved", satisfaction=5),
        # W48 (23-29 Nov)
        Script("A-3")
        .opened(4 * DAY_HOURS, channel="phone", priority="urgent")
        .add("case.escalated", 3 * DAY_HOURS, to="regulator")
        .add("case.closed", 2 * DAY_HOURS, resolution="unresolved", satisfaction=2),
        Script("A-4").opened(
            5 * DAY_HOURS,
            team="claims-north",
            handler="h-007",
            channel="app",
            complainant=profile("m", "60+", True),
        ),
        # W47 (16-22 Nov)
        Script("A-5").opened(10 * DAY_HOURS, channel="phone", product_line="health"),
        # October: outside the whole range
        Script("A-6").opened(40 * DAY_HOURS, channel="letter"),
    ]
    Feed(runtime).send_scripts(scripts)
    return runtime


def test_breakdown_by_channel_in_contract_order(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        rows = analytics.breakdown(session, "channel", WHOLE_RANGE, SHANGHAI)
    assert [(r.value, r.cases) for r in rows] == [("phone", 3), ("online", 1), ("app", 1)]
    phone = rows[0]
    assert phone.share == pytest.approx(3 / 5)
    assert (phone.rated, phone.satisfaction) == (2, pytest.approx(3.5))
    assert rows[1].satisfaction is None


def test_breakdown_of_the_profile_puts_unknown_last(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        gender = analytics.breakdown(session, "gender", WHOLE_RANGE, SHANGHAI)
        repeat = analytics.breakdown(session, "repeat", WHOLE_RANGE, SHANGHAI)
        satisfaction = analytics.breakdown(session, "satisfaction", WHOLE_RANGE, SHANGHAI)
    assert [(r.value, r.cases) for r in gender] == [("f", 2), ("m", 1), ("unknown", 2)]
    assert [(r.value, r.cases) for r in repeat] == [("true", 2), ("false", 1), ("unknown", 2)]
    assert [(r.value, r.cases) for r in satisfaction] == [("5", 1), ("2", 1), ("unknown", 3)]


def test_breakdown_by_team_and_dates(fed: Runtime) -> None:
    north = AnalyticsFilter(date(2026, 11, 1), date(2026, 11, 30), team="claims-north")
    week48 = AnalyticsFilter(date(2026, 11, 23), date(2026, 11, 29))
    with Session(fed.engine) as session:
        assert analytics.breakdown(session, "channel", north, SHANGHAI) == [
            BreakdownRow("app", 1, 1.0, None, 0)
        ]
        rows = analytics.breakdown(session, "priority", week48, SHANGHAI)
    assert [(r.value, r.cases) for r in rows] == [("normal", 1), ("urgent", 1)]


def test_a_range_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        AnalyticsFilter(date(2026, 11, 30), date(2026, 11, 1))


def test_weekly_trend_by_iso_week(fed: Runtime) -> None:
    flt = AnalyticsFilter(date(2026, 11, 16), date(2026, 11, 30))
    with Session(fed.engine) as session:
        trend = analytics.weekly_trend(session, flt, SHANGHAI, "channel")
    assert trend.weeks == ["2026-W47", "2026-W48", "2026-W49"]
    assert trend.totals == {"2026-W47": 1, "2026-W48": 2, "2026-W49": 2}
    assert trend.values == ["phone", "online", "app"]
    assert trend.counts["phone"] == {"2026-W47": 1, "2026-W48": 1, "2026-W49": 1}
    assert trend.satisfaction == {"2026-W47": None, "2026-W48": 2.0, "2026-W49": 5.0}


def test_headline(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        head = analytics.headline(session, WHOLE_RANGE, SHANGHAI)
    assert (head.cases, head.closed, head.rated) == (5, 2, 2)
    assert head.satisfaction == pytest.approx(3.5)
    assert head.repeat_share == pytest.approx(2 / 3)
    assert head.regulator_share == pytest.approx(1 / 5)


def test_default_filter_is_twelve_weeks_and_this_one() -> None:
    flt = analytics.default_filter(NOW, SHANGHAI)
    assert flt == AnalyticsFilter(date(2026, 9, 7), date(2026, 11, 30))
    assert len(analytics.weeks_between(flt.start, flt.end)) == 13


def test_value_keys() -> None:
    assert analytics.value_key(None) == "unknown"
    assert analytics.value_key(True) == "true"
    assert analytics.value_key(4) == "4"
    assert analytics.ordered_keys("age_band", {"unknown", "60+", "<30", "zz"}) == [
        "<30",
        "60+",
        "zz",
        "unknown",
    ]
