"""The cases page's queries: search, filters (clock ones from Redis), paging, detail."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from dashboard.queries import cases
from dashboard.queries.cases import CaseSearch, ClockPause, Extension, ReturnVisit, StageVisit
from events.decode import decode
from tests.dashboard.desk_data import HOUR, NOW, SHANGHAI, Feed, Script, at, make_runtime
from tests.events.factory import encode

DAY_HOURS = 24


@pytest.fixture
def runtime(
    redis_client: redis.Redis, valkey_url: str, database_url: str, tmp_path: Path
) -> Runtime:
    """On SQLite and on PostgreSQL (skipped when no server answers)."""
    return make_runtime(valkey_url, database_url, tmp_path)


def rich_case() -> Script:
    return (
        Script("R-1")
        .opened(
            200,
            channel="letter",
            group_size=25,
            complainant={
                "gender": "m",
                "age_band": "60+",
                "occupation": "退休教师",
                "repeat": True,
            },
        )
        .stage("investigation", 190)
        .add("case.clock_paused", 180, reason="mediation")
        .add("case.clock_resumed", 150)
        .add("case.deadline_extended", 140, tier=1)
        .stage("resolution", 130)
        .add("case.decision_made", 120, outcome="partially_upheld")
        .stage("feedback", 110)
        .stage("follow_up", 100)
        .add("case.follow_up_scheduled", 99, due_at=at(50))
        .add("case.follow_up_done", 40, satisfaction=4)
        .stage("review", 30)
        .add("case.closed", 20, resolution="resolved")
        .add("case.reopened", 10, new_facts=False)
    )


@pytest.fixture
def fed(runtime: Runtime) -> Runtime:
    scripts = [
        Script("K-1").opened(14 * DAY_HOURS),  # deadline 2 Dec 00:00: at risk
        Script("K-2").opened(20 * DAY_HOURS),  # deadline 26 Nov 00:00: breached
        Script("K-3").opened(48).add("case.clock_paused", 24, reason="external_appraisal"),
        Script("K-4").opened(120).add("case.decision_made", 24, outcome="rejected"),
        Script("K-5").opened(72).add("case.closed", 1, resolution="withdrawn"),
        Script("k-6").opened(
            1, team="claims-north", handler="h-007", channel="online", category="sales"
        ),
        rich_case(),
    ]
    Feed(runtime).send_scripts(scripts)
    return runtime


def ids(runtime: Runtime, criteria: CaseSearch, **kwargs: int) -> list[str]:
    with Session(runtime.engine) as session:
        found = cases.search_cases(session, runtime.query, criteria, NOW, **kwargs)
    return [row.case_id for row in found.rows]


def test_search_is_a_case_insensitive_prefix_newest_first(fed: Runtime) -> None:
    assert ids(fed, CaseSearch(search="k-")) == ["k-6", "K-3", "K-5", "K-4", "K-1", "K-2"]
    assert ids(fed, CaseSearch(search=" K-6 ")) == ["k-6"]
    assert ids(fed, CaseSearch(search="R")) == ["R-1"]
    assert ids(fed, CaseSearch(search="%")) == []


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (CaseSearch(team_id="claims-north"), ["k-6"]),
        (CaseSearch(handler_id="h-007"), ["k-6"]),
        (CaseSearch(channel="online"), ["k-6"]),
        (CaseSearch(category="sales"), ["k-6"]),
        (CaseSearch(stage="investigation"), ["R-1"]),
        (CaseSearch(status="closed"), ["K-5"]),
        (CaseSearch(priority="urgent"), []),
        (CaseSearch(clock="running"), ["k-6", "R-1", "K-1", "K-2"]),
        (CaseSearch(clock="paused"), ["K-3"]),
        (CaseSearch(clock="decided"), ["K-4"]),
        (CaseSearch(clock="at_risk"), ["K-1"]),
        (CaseSearch(clock="breached"), ["K-2"]),
        (CaseSearch(clock="breached", team_id="claims-north"), []),
        (CaseSearch(clock="running", search="K-"), ["k-6", "K-1", "K-2"]),
    ],
)
def test_filters(fed: Runtime, criteria: CaseSearch, expected: list[str]) -> None:
    assert ids(fed, criteria) == expected


def test_clock_labels_and_deadlines_of_the_rows(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        found = cases.search_cases(session, fed.query, CaseSearch(search="K"), NOW)
    rows = {row.case_id: row for row in found.rows}
    assert {cid: row.clock for cid, row in rows.items()} == {
        "K-1": "at_risk",
        "K-2": "breached",
        "K-3": "paused",
        "K-4": "decided",
        "K-5": "closed",
        "k-6": "running",
    }
    assert rows["K-1"].deadline == datetime(2026, 12, 2, tzinfo=SHANGHAI).timestamp()
    assert rows["K-5"].deadline is None


def test_paging(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        first = cases.search_cases(session, fed.query, CaseSearch(), NOW, page=0, page_size=3)
        last = cases.search_cases(session, fed.query, CaseSearch(), NOW, page=2, page_size=3)
        beyond = cases.search_cases(session, fed.query, CaseSearch(), NOW, page=9, page_size=3)
    assert (first.total, first.pages) == (7, 3)
    assert [r.case_id for r in first.rows] == ["k-6", "K-3", "K-5"]
    assert [r.case_id for r in last.rows] == ["K-2"]
    assert beyond.page == 2 and [r.case_id for r in beyond.rows] == ["K-2"]


def test_bad_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="clock must be one of"):
        CaseSearch(clock="late")
    with pytest.raises(ValueError, match="status must be one of"):
        CaseSearch(status="pending")


def test_filter_options(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        options = cases.filter_options(session)
    assert options == {"team_id": ["claims-east", "claims-north"], "handler_id": ["h-001", "h-007"]}


def test_case_view_replays_the_history(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        view = cases.case_view(fed, session, "R-1", NOW)
        assert cases.case_view(fed, session, "nope", NOW) is None
    assert view is not None
    assert view.detail["case_id"] == "R-1" and view.detail["status"] == "open"
    t = lambda hours: NOW - hours * HOUR  # noqa: E731
    assert view.history.visits == [
        StageVisit("intake", t(200), t(190)),
        StageVisit("investigation", t(190), t(130)),
        StageVisit("resolution", t(130), t(110)),
        StageVisit("feedback", t(110), t(100)),
        StageVisit("follow_up", t(100), t(30)),
        StageVisit("review", t(30), t(20)),
        StageVisit("investigation", t(10), None),
    ]
    assert view.history.pauses == [ClockPause(t(180), t(150), "mediation")]
    assert view.history.extensions == [Extension(t(140), 1, 30)]
    visit = view.history.return_visits[0]
    assert visit == ReturnVisit(t(99), t(50), t(40), 4)
    assert visit.on_time(NOW) is False
    # Reopened without new facts: the decision is pending again, 30-day limit, 30 h paused.
    assert view.clock.state == "running"
    assert view.clock.paused_seconds == 30 * HOUR
    assert view.clock.deadline == datetime(2026, 12, 24, tzinfo=SHANGHAI).timestamp()
    assert view.decided_on_time is None
    assert view.profile == {"gender": "m", "age_band": "60+", "repeat": True, "group_size": 25}
    assert "occupation" not in view.profile
    assert view.satisfaction == 4 and view.outcome == "partially_upheld"


def test_case_view_of_a_decision_on_time(fed: Runtime) -> None:
    with Session(fed.engine) as session:
        view = cases.case_view(fed, session, "K-4", NOW)
    assert view is not None
    assert view.clock.state == "decided"
    assert view.decided_on_time is True


def test_return_visit_pending_and_overdue() -> None:
    visit = ReturnVisit(NOW - 10, NOW + 10, None, None)
    assert visit.on_time(NOW) is None
    assert visit.on_time(NOW + 11) is False
    assert ReturnVisit(0, 10, 10, 5).on_time(NOW) is True


def test_replay_skips_events_the_core_refuses() -> None:
    script = Script("X-1").opened(5).stage("investigation", 4)
    events = [decode(encode(e)) for e in script.events]
    history = cases.replay([*events, events[1]], SHANGHAI)  # the second again: a duplicate
    assert [v.stage for v in history.visits] == ["intake", "investigation"]
    assert history.state is not None and history.state.last_seq == 2
