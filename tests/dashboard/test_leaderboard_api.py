"""GET /api/v1/leaderboard (api-v1.md) over a real Valkey filled by the metrics sink."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from complaintops.runtime import Runtime
from config import load_rules, load_settings
from dashboard.api.routes_leaderboard import leaderboard_view
from dashboard.server import create_server
from events import contract as c
from tests.incentives.builders import Log, Script, by_time, metrics_sink

TOKEN = "test-token-leaderboard"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def runtime(valkey_url: str, redis_client: redis.Redis) -> Iterator[Runtime]:
    settings = load_settings(redis_url=valkey_url, api_tokens=[TOKEN])
    runtime = Runtime(settings=settings, rules=load_rules(settings))
    events: list[dict[str, Any]] = []
    for case_id, handler, team, at in [
        ("A", "h-001", "claims-east", "2026-11-17T10:00:00+08:00"),  # 2026-W47
        ("B", "h-007", "claims-north", "2026-11-24T10:00:00+08:00"),  # 2026-W48
        ("C", "h-001", "claims-east", "2026-11-25T10:00:00+08:00"),
        ("D", "h-002", "claims-east", "2026-11-26T10:00:00+08:00"),
    ]:
        script = Script(case_id)
        script.opened(at, handler, team)
        script.add(c.DECISION_MADE, at)
        events += script.events
    metrics_sink(redis_client).apply(Log().records(by_time(events)))
    yield runtime
    runtime.redis.close()


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_server(runtime).test_client()


def test_the_answer_has_exactly_the_contract_shape(client: FlaskClient) -> None:
    response = client.get(
        "/api/v1/leaderboard?period=week&scope=handler&at=2026-11-25", headers=AUTH
    )
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    body = response.get_json()
    assert {k: body[k] for k in ("period", "start", "end", "scope")} == {
        "period": "week",
        "start": "2026-11-23",
        "end": "2026-11-29",
        "scope": "handler",
    }
    assert body["rows"] == [
        {"rank": 1, "id": "h-001", "team_id": "claims-east", "points": 10, "rank_change": 0},
        {"rank": 1, "id": "h-002", "team_id": "claims-east", "points": 10, "rank_change": None},
        {"rank": 1, "id": "h-007", "team_id": "claims-north", "points": 10, "rank_change": None},
    ]
    assert [list(row) for row in body["rows"]] == [
        ["rank", "id", "team_id", "points", "rank_change"]
    ] * 3


def test_teams_months_and_the_team_filter(client: FlaskClient) -> None:
    body = client.get("/api/v1/leaderboard?period=month&scope=team&at=2026-11-01", headers=AUTH)
    assert body.get_json()["rows"] == [
        {
            "rank": 1,
            "id": "claims-east",
            "team_id": "claims-east",
            "points": 30,
            "rank_change": None,
        },
        {
            "rank": 2,
            "id": "claims-north",
            "team_id": "claims-north",
            "points": 10,
            "rank_change": None,
        },
    ]
    assert (body.get_json()["start"], body.get_json()["end"]) == ("2026-11-01", "2026-11-30")
    filtered = client.get("/api/v1/leaderboard?at=2026-11-25&team=claims-north", headers=AUTH)
    assert [row["id"] for row in filtered.get_json()["rows"]] == ["h-007"]


def test_defaults_are_this_week_by_handler(client: FlaskClient, runtime: Runtime) -> None:
    body = client.get("/api/v1/leaderboard", headers=AUTH).get_json()
    assert (body["period"], body["scope"]) == ("week", "handler")
    start, end = date.fromisoformat(body["start"]), date.fromisoformat(body["end"])
    assert start.weekday() == 0 and (end - start).days == 6


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=year", "parameter 'period' must be one of day, week, month, quarter, got 'year'"),
        ("scope=person", "parameter 'scope' must be one of handler, team, got 'person'"),
        ("at=2026-13-01", "parameter 'at' must be a date YYYY-MM-DD, got '2026-13-01'"),
        ("at=24.11.2026", "parameter 'at' must be a date YYYY-MM-DD, got '24.11.2026'"),
        ("at=2026-11-24T00:00", "parameter 'at' must be a date YYYY-MM-DD, got '2026-11-24T00:00'"),
        ("at=2026-W48-3", "parameter 'at' must be a date YYYY-MM-DD, got '2026-W48-3'"),
        (
            "at=0001-01-01",
            "parameter 'at' must be a date from 1970-01-01 to 8999-12-31, got '0001-01-01'",
        ),
        (
            "at=9999-12-31",
            "parameter 'at' must be a date from 1970-01-01 to 8999-12-31, got '9999-12-31'",
        ),
        (
            "at=1969-12-31",
            "parameter 'at' must be a date from 1970-01-01 to 8999-12-31, got '1969-12-31'",
        ),
    ],
)
def test_bad_parameters_are_400_naming_them(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/api/v1/leaderboard?{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}


def test_a_token_is_needed(client: FlaskClient) -> None:
    assert client.get("/api/v1/leaderboard").status_code == 401


def test_the_view_is_what_the_api_answers(client: FlaskClient, runtime: Runtime) -> None:
    view = leaderboard_view(runtime, "quarter", "handler", date(2026, 11, 25), limit=2)
    assert [row["id"] for row in view["rows"]] == ["h-001", "h-002"]
    assert (view["key"], view["previous"]["key"]) == ("2026-Q4", "2026-Q3")
    full = leaderboard_view(runtime, "quarter", "handler", date(2026, 11, 25))
    answer = client.get("/api/v1/leaderboard?period=quarter&at=2026-11-25", headers=AUTH)
    assert answer.get_json() == full
