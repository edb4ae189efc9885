"""The read side: cases, counters, the event log stream, offsets, the team directory."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from store.db import make_engine, session_factory
from store.migrate import upgrade
from store.models import Handler, Team
from store.repository import (
    CaseFilters,
    TimelineEntry,
    event_counters,
    get_case,
    iter_event_log,
    list_cases,
    stored_offsets,
    sync_directory,
)
from store.sink import STORE_GROUP, SqlSink
from tests.store.builders import SHANGHAI, TOPIC, Records, at, encode, event, opened


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as session:
        yield session


@pytest.fixture
def sink(engine: Engine) -> SqlSink:
    return SqlSink(engine, STORE_GROUP, SHANGHAI)


# -- get_case ------------------------------------------------------------------


def test_get_case_with_its_timeline(session: Session, sink: SqlSink) -> None:
    records = Records()
    sink.apply(
        records.many(
            [
                opened("C1"),
                event("C1", 2, "case.stage_changed", at(1), to_stage="investigation"),
                event("C1", 3, "case.clock_paused", at(2), reason="mediation"),
            ]
        )
    )
    sink.apply([records.make(event("C1", 5, "case.clock_resumed", at(3)))])

    case = get_case(session, "C1")

    assert case is not None
    assert (case.case_id, case.status, case.stage, case.team_id, case.handler_id) == (
        "C1",
        "open",
        "investigation",
        "claims-east",
        "h-017",
    )
    assert case.timeline == (
        TimelineEntry(1, "case.opened", at(0)),
        TimelineEntry(2, "case.stage_changed", at(1)),
        TimelineEntry(3, "case.clock_paused", at(2)),
        TimelineEntry(5, "case.clock_resumed", at(3)),
    )
    assert case.clock_state == "running"
    assert case.decision_deadline is not None
    state = case.case_state
    assert (state.case_id, state.last_seq, state.stage) == ("C1", 5, "investigation")
    assert state.clock.paused_total == 24 * 3600


def test_get_unknown_case_is_none(session: Session) -> None:
    assert get_case(session, "nope") is None


# -- list_cases ------------------------------------------------------------------


@pytest.fixture
def many_cases(sink: SqlSink) -> None:
    records = Records()
    bodies = [
        opened("A_1", at(0), team_id="t1", handler_id="h1", channel="phone", category="claims"),
        opened("AX1", at(1), team_id="t1", handler_id="h2", channel="app", priority="urgent"),
        opened("B-1", at(2), team_id="t2", handler_id="h3", category="sales", priority="major"),
        opened("b-2", at(3), team_id="t2", handler_id="h3", channel="letter"),
        event("AX1", 2, "case.clock_paused", at(4), reason="external_appraisal"),
        event("B-1", 2, "case.decision_made", at(4), outcome="upheld"),
        event("b-2", 2, "case.stage_changed", at(4), to_stage="review"),
        event("b-2", 3, "case.closed", at(5), resolution="withdrawn"),
    ]
    sink.apply(records.many(bodies))


def _ids(session: Session, **filters: Any) -> list[str]:
    return [row.case_id for row in list_cases(session, CaseFilters(**filters)).rows]


@pytest.mark.usefixtures("many_cases")
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["b-2", "B-1", "AX1", "A_1"]),
        ({"team_id": "t1"}, ["AX1", "A_1"]),
        ({"handler_id": "h3"}, ["b-2", "B-1"]),
        ({"stage": "review"}, ["b-2"]),
        ({"status": "open"}, ["B-1", "AX1", "A_1"]),
        ({"status": "closed"}, ["b-2"]),
        ({"category": "sales"}, ["B-1"]),
        ({"channel": "app"}, ["AX1"]),
        ({"priority": "major"}, ["B-1"]),
        ({"priority": "normal", "team_id": "t1"}, ["A_1"]),
        ({"clock": "paused"}, ["AX1"]),
        ({"clock": "decided"}, ["B-1"]),
        ({"clock": "running"}, ["A_1"]),
        ({"search": "b-"}, ["b-2", "B-1"]),
        ({"search": "A_"}, ["A_1"]),
        ({"search": "A%"}, []),
        ({"search": "zz"}, []),
    ],
)
def test_list_cases_filters(session: Session, filters: dict[str, Any], expected: list[str]) -> None:
    assert _ids(session, **filters) == expected


@pytest.mark.usefixtures("many_cases")
def test_list_cases_pages(session: Session) -> None:
    first = list_cases(session, CaseFilters(), limit=3, offset=0)
    second = list_cases(session, CaseFilters(), limit=3, offset=3)
    assert (first.total, second.total) == (4, 4)
    assert [r.case_id for r in first.rows] == ["b-2", "B-1", "AX1"]
    assert [r.case_id for r in second.rows] == ["A_1"]
    row = second.rows[0]
    assert (row.gender, row.age_band, row.repeat_complainant) == ("f", "45-59", False)


def test_unknown_clock_filter_is_refused() -> None:
    with pytest.raises(ValueError, match="clock must be one of running, paused, decided"):
        CaseFilters(clock="stopped")


# -- counters and the log ----------------------------------------------------------


def test_event_counters(session: Session, sink: SqlSink) -> None:
    assert event_counters(session) == {"applied": 0, "duplicates": 0, "invalid": 0, "gaps": 0}
    session.rollback()  # a new transaction sees the batch below
    records = Records()
    body = opened("C1")
    sink.apply(
        records.many(
            [
                body,
                body,
                b"not json",
                event("C1", 3, "case.stage_changed", at(1), to_stage="review"),
                event("C1", 7, "case.stage_changed", at(2), to_stage="feedback"),
                event("C9", 2, "case.decision_made", at(2)),
            ]
        )
    )
    assert event_counters(session) == {"applied": 3, "duplicates": 1, "invalid": 2, "gaps": 2}


def _fill_log(sink: SqlSink) -> list[tuple[str, int, bytes, str, int, int]]:
    """Events of three cases, interleaved over two partitions and three batches."""
    records = Records()
    plan = [
        [(opened("C2"), 0), (opened("C1"), 1)],
        [
            (event("C2", 2, "case.stage_changed", at(1), to_stage="review"), 0),
            (opened("C3"), 0),
            (event("C1", 2, "case.stage_changed", at(1), to_stage="feedback"), 1),
        ],
        [
            (event("C1", 4, "case.decision_made", at(2)), 1),
            (event("C3", 2, "case.decision_made", at(2)), 0),
        ],
    ]
    expected = []
    for batch in plan:
        made = [records.make(body, partition) for body, partition in batch]
        sink.apply(made)
        for (body, _), record in zip(batch, made, strict=True):
            expected.append(
                (body["case_id"], body["seq"], encode(body), TOPIC, record.partition, record.offset)
            )
    return sorted(expected, key=lambda entry: (entry[0], entry[1]))


@pytest.mark.parametrize("chunk", [1, 2, 10_000])
def test_iter_event_log_in_case_and_seq_order(engine: Engine, sink: SqlSink, chunk: int) -> None:
    expected = _fill_log(sink)
    assert [entry[:2] for entry in expected] == [
        ("C1", 1),
        ("C1", 2),
        ("C1", 4),
        ("C2", 1),
        ("C2", 2),
        ("C3", 1),
        ("C3", 2),
    ]
    assert list(iter_event_log(engine, chunk=chunk)) == expected


def test_iter_event_log_of_an_empty_log(engine: Engine) -> None:
    assert list(iter_event_log(engine)) == []


def test_iter_event_log_streams_through_a_server_side_cursor(postgres_url: str) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    cursors: list[Any] = []

    def remember(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM case_events" in statement and "ORDER BY case_events.case_id" in statement:
            cursors.append(cursor)

    try:
        expected = _fill_log(SqlSink(engine, STORE_GROUP, SHANGHAI))
        sa_event.listen(engine, "before_cursor_execute", remember)
        stream = iter_event_log(engine, chunk=2)
        assert next(stream) == expected[0]
        assert len(cursors) == 1
        assert isinstance(cursors[0], psycopg.ServerCursor)
        assert [expected[0], *stream] == expected
    finally:
        engine.dispose()


def test_iter_event_log_refuses_an_empty_chunk(engine: Engine) -> None:
    with pytest.raises(ValueError, match="chunk"):
        list(iter_event_log(engine, chunk=0))


def test_stored_offsets_by_group(session: Session, engine: Engine, sink: SqlSink) -> None:
    records = Records()
    sink.apply(
        [
            records.make(opened("C1"), 0),
            records.make(opened("C2"), 0),
            records.make(opened("C3"), 2),
        ]
    )
    SqlSink(engine, "other", SHANGHAI).apply([Records("t2").make(opened("C9"), 1)])
    assert stored_offsets(session, STORE_GROUP) == {TOPIC: {0: 1, 2: 0}}
    assert stored_offsets(session, "other") == {"t2": {1: 0}}
    assert stored_offsets(session, "nobody") == {}


# -- the directory ---------------------------------------------------------------


def _team(team_id: str, zh: str, en: str, email: str | None, handlers: list[Any]) -> Any:
    return SimpleNamespace(
        id=team_id,
        name=SimpleNamespace(zh=zh, en=en),
        manager_email=email,
        handlers=handlers,
    )


def _handler(handler_id: str, name: str | None, capacity: int | None) -> Any:
    return SimpleNamespace(id=handler_id, name=name, capacity=capacity)


def _directory(session: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    teams = session.execute(
        select(Team.team_id, Team.name_zh, Team.name_en, Team.manager_email).order_by(Team.team_id)
    ).all()
    handlers = session.execute(
        select(
            Handler.handler_id,
            Handler.team_id,
            Handler.display_name,
            Handler.capacity,
            Handler.active,
        ).order_by(Handler.handler_id)
    ).all()
    return [tuple(t) for t in teams], [tuple(h) for h in handlers]


def test_sync_directory_from_configuration_objects(session: Session) -> None:
    config = SimpleNamespace(
        teams=[
            _team(
                "claims-east",
                "理赔东区",
                "Claims East",
                "lead@example.com",
                [
                    _handler("h-1", "张伟", 12),
                    _handler("h-2", None, 8),
                ],
            ),
            _team("sales", "销售", "Sales", None, [_handler("h-3", "李娜", 10)]),
        ]
    )
    sync_directory(session, config)
    session.commit()

    assert _directory(session) == (
        [
            ("claims-east", "理赔东区", "Claims East", "lead@example.com"),
            ("sales", "销售", "Sales", None),
        ],
        [
            ("h-1", "claims-east", "张伟", 12, True),
            ("h-2", "claims-east", None, 8, True),
            ("h-3", "sales", "李娜", 10, True),
        ],
    )


def test_sync_directory_from_dicts_updates_moves_and_deactivates(session: Session) -> None:
    sync_directory(
        session,
        [
            {
                "id": "t1",
                "name": {"zh": "一组", "en": "One"},
                "manager_email": None,
                "handlers": [
                    {"id": "h-1", "name": "A", "capacity": 5},
                    {"id": "h-2", "name": "B", "capacity": 5},
                ],
            },
            {
                "id": "t2",
                "name": {"zh": "二组", "en": "Two"},
                "manager_email": None,
                "handlers": [{"id": "h-3", "name": "C", "capacity": 5}],
            },
        ],
    )
    session.commit()

    sync_directory(
        session,
        [
            {
                "id": "t1",
                "name": {"zh": "一组", "en": "Team One"},
                "manager_email": "one@example.com",
                "handlers": [{"id": "h-1", "name": "A", "capacity": 7}],
            },
            {
                "id": "t2",
                "name": {"zh": "二组", "en": "Two"},
                "manager_email": None,
                "handlers": [
                    {"id": "h-3", "name": "C", "capacity": 5},
                    {"id": "h-2", "name": "B", "capacity": None},
                ],
            },
        ],
    )
    session.commit()

    teams, handlers = _directory(session)
    assert teams[0] == ("t1", "一组", "Team One", "one@example.com")
    assert handlers == [
        ("h-1", "t1", "A", 7, True),
        ("h-2", "t2", "B", None, True),
        ("h-3", "t2", "C", 5, True),
    ]

    sync_directory(
        session,
        [
            {
                "id": "t1",
                "name": {"zh": "一组", "en": "One"},
                "manager_email": None,
                "handlers": [{"id": "h-1", "name": "A", "capacity": 7}],
            }
        ],
    )
    session.commit()
    teams, handlers = _directory(session)
    assert [t[0] for t in teams] == ["t1", "t2"]  # teams are kept
    assert [(h[0], h[4]) for h in handlers] == [("h-1", True), ("h-2", False), ("h-3", False)]


def test_sync_directory_from_the_teams_rule_model(session: Session) -> None:
    from config.rules import TeamsConfig

    config = TeamsConfig.model_validate(
        {
            "teams": [
                {
                    "id": "claims-east",
                    "name": {"zh": "理赔投诉东区组", "en": "Claims East"},
                    "manager_email": "east@example.com",
                    "handlers": [{"id": "h-017", "name": "张伟", "capacity": 12}],
                }
            ]
        }
    )
    sync_directory(session, config.teams)
    session.commit()
    assert _directory(session) == (
        [("claims-east", "理赔投诉东区组", "Claims East", "east@example.com")],
        [("h-017", "claims-east", "张伟", 12, True)],
    )
