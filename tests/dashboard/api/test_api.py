"""The /api/v1 read API (api-v1.md) on the real server, Valkey and SQLite."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient

from complaintops.embedded import find_free_port
from complaintops.runtime import Runtime
from config import load_settings
from dashboard.server import create_server
from events import contract as c
from events.batch import RawRecord
from events.contract import STAGES
from metrics.sink import RedisSink
from store import migrate
from store.sink import SqlSink
from tests.events.factory import SHANGHAI, CaseScript, encode

TOKEN = "test-token-1"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def runtime(valkey_url: str, sqlite_url: str, redis_client: redis.Redis) -> Runtime:
    migrate.upgrade(sqlite_url)
    settings = load_settings(
        redis_url=valkey_url, database_url=sqlite_url, api_tokens=[TOKEN, "second"]
    )
    return Runtime.from_settings(settings)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[FlaskClient]:
    with create_server(runtime).test_client() as test_client:
        yield test_client


def feed(runtime: Runtime, events: list[dict[str, Any]]) -> None:
    records = [RawRecord("complaints.case-events", 0, i, encode(e)) for i, e in enumerate(events)]
    metrics = RedisSink(runtime.redis, runtime.settings.metrics_group, SHANGHAI)
    metrics.prepare(group_has_committed=False)
    metrics.apply(records)
    SqlSink(runtime.engine, runtime.settings.store_group, SHANGHAI).apply(records)


def two_cases() -> list[dict[str, Any]]:
    a, b = CaseScript("C-1"), CaseScript("C-2")
    return [
        a.opened("2026-11-24T09:30:00+08:00", team_id="claims-east", handler_id="h-001"),
        a.next(c.STAGE_CHANGED, "2026-11-24T10:15:00+08:00", to_stage="investigation"),
        b.opened("2026-11-24T11:00:00+08:00", team_id="claims-north", handler_id="h-007"),
        a.next(
            c.FOLLOW_UP_SCHEDULED, "2026-11-24T12:00:00+08:00", due_at="2026-11-30T18:00:00+08:00"
        ),
    ]


@pytest.mark.parametrize(
    "path",
    ["/api/v1/overview", "/api/v1/workload", "/api/v1/throughput", "/api/v1/cases/C-1"],
)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic dGVzdA=="},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong", "basic", "empty"],
)
def test_every_path_but_health_needs_a_token(
    client: FlaskClient, path: str, headers: dict[str, str]
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 401
    assert response.content_type == "application/json; charset=utf-8"
    assert "error" in response.get_json()


@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/", "/api/v1/overview/", "/api/v1/cases/a%2Fb", "/api/x"]
)
def test_a_path_no_route_serves_is_json_401_then_404(client: FlaskClient, path: str) -> None:
    refused = client.get(path)
    assert refused.status_code == 401
    assert refused.content_type == "application/json; charset=utf-8"
    assert "error" in refused.get_json()
    missing = client.get(path, headers=AUTH)
    assert missing.status_code == 404
    assert missing.content_type == "application/json; charset=utf-8"
    assert missing.get_json() == {"error": "not found"}


def test_a_wrong_method_is_json_401_then_405(client: FlaskClient) -> None:
    assert client.post("/api/v1/overview").status_code == 401
    answer = client.post("/api/v1/overview", headers=AUTH)
    assert answer.status_code == 405
    assert answer.get_json() == {"error": "method not allowed"}
    assert client.post("/api/v1/health").status_code == 405


def test_health_needs_no_token_and_reports_each_dependency(client: FlaskClient) -> None:
    body = client.get("/api/v1/health").get_json()
    assert set(body["checks"]) == {"redis", "database", "kafka"}
    assert body["checks"]["redis"] is True and body["checks"]["database"] is True
    # No broker is configured at the default address in this test.
    assert body["status"] == ("ok" if all(body["checks"].values()) else "degraded")


def test_any_configured_token_is_accepted(client: FlaskClient) -> None:
    assert (
        client.get("/api/v1/overview", headers={"Authorization": "Bearer second"}).status_code
        == 200
    )


def test_overview_counts_the_open_cases(client: FlaskClient, runtime: Runtime) -> None:
    feed(runtime, two_cases())
    body = client.get("/api/v1/overview", headers=AUTH).get_json()
    assert body["open_cases"] == 2
    assert list(body["wip"]) == list(STAGES)
    assert body["wip"] == {
        "intake": 1,
        "investigation": 1,
        "resolution": 0,
        "feedback": 0,
        "follow_up": 0,
        "review": 0,
    }
    assert body["events"] == {"applied": 4, "duplicates": 0, "invalid": 0, "gaps": 0}
    assert body["as_of"].endswith("+08:00")
    team = client.get("/api/v1/overview?team=claims-north", headers=AUTH).get_json()
    assert team["open_cases"] == 1 and team["wip"]["intake"] == 1


def test_workload_lists_configured_and_active_teams_sorted(
    client: FlaskClient, runtime: Runtime
) -> None:
    feed(runtime, two_cases())
    teams = client.get("/api/v1/workload", headers=AUTH).get_json()["teams"]
    ids = [t["team_id"] for t in teams]
    assert ids == sorted(ids)
    configured = set(runtime.rules.teams.team_ids())
    assert configured <= set(ids)
    east = next(t for t in teams if t["team_id"] == "claims-east")
    assert east["open_cases"] == 1
    handler_ids = [h["handler_id"] for h in east["handlers"]]
    assert handler_ids == sorted(handler_ids)
    h1 = next(h for h in east["handlers"] if h["handler_id"] == "h-001")
    assert h1["open_cases"] == 1 and h1["capacity"] == runtime.rules.teams.capacity_of("h-001")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("hours=0", "parameter 'hours' must be an integer from 1 to 168, got 0"),
        ("hours=169", "parameter 'hours' must be an integer from 1 to 168, got 169"),
        ("hours=abc", "parameter 'hours' must be an integer from 1 to 168, got 'abc'"),
        ("hours=", "parameter 'hours' must be an integer from 1 to 168, got ''"),
        ("hours=%2B5", "parameter 'hours' must be an integer from 1 to 168, got '+5'"),
        ("hours=%205", "parameter 'hours' must be an integer from 1 to 168, got ' 5'"),
        ("hours=5%20", "parameter 'hours' must be an integer from 1 to 168, got '5 '"),
        ("hours=5%0A", "parameter 'hours' must be an integer from 1 to 168, got '5\n'"),
        ("hours=1_0", "parameter 'hours' must be an integer from 1 to 168, got '1_0'"),
        ("hours=%D9%A5", "parameter 'hours' must be an integer from 1 to 168, got '\u0665'"),
        ("hours=%EF%BC%95", "parameter 'hours' must be an integer from 1 to 168, got '\uff15'"),
    ],
)
def test_bad_hours_is_a_400_naming_it(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/api/v1/throughput?{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json() == {"error": message}


def test_throughput_buckets_are_hourly_oldest_first(client: FlaskClient, runtime: Runtime) -> None:
    body = client.get("/api/v1/throughput?hours=5", headers=AUTH).get_json()
    buckets = body["buckets"]
    assert len(buckets) == 5
    assert all(
        list(b["entered"]) == list(STAGES) and list(b["exited"]) == list(STAGES) for b in buckets
    )
    starts = [b["start"] for b in buckets]
    assert starts == sorted(starts)
    assert all(s.endswith(":00:00+08:00") for s in starts)
    assert len(client.get("/api/v1/throughput", headers=AUTH).get_json()["buckets"]) == 24


def test_case_detail_and_unknown_case(client: FlaskClient, runtime: Runtime) -> None:
    feed(runtime, two_cases())
    body = client.get("/api/v1/cases/C-1", headers=AUTH).get_json()
    assert (
        body["case_id"] == "C-1" and body["status"] == "open" and body["stage"] == "investigation"
    )
    assert (body["team_id"], body["handler_id"]) == ("claims-east", "h-001")
    assert body["decision_deadline"] == "2026-12-10T00:00:00+08:00"
    assert body["follow_up_due"] == "2026-11-30T18:00:00+08:00"
    assert [(t["seq"], t["type"]) for t in body["timeline"]] == [
        (1, "case.opened"),
        (2, "case.stage_changed"),
        (3, "case.follow_up_scheduled"),
    ]
    assert body["timeline"][0]["occurred_at"] == "2026-11-24T09:30:00+08:00"
    missing = client.get("/api/v1/cases/C-404", headers=AUTH)
    assert missing.status_code == 404 and "C-404" in missing.get_json()["error"]


# -- Redis or the database down -------------------------------------------------------------


@pytest.fixture
def outage_client(tmp_path: Path) -> Iterator[FlaskClient]:
    """Redis on a port nobody listens on and a database without tables."""
    settings = load_settings(
        redis_url=f"redis://127.0.0.1:{find_free_port()}/0",
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
        api_tokens=[TOKEN],
    )
    server = create_server(Runtime.from_settings(settings))
    server.config["PROPAGATE_EXCEPTIONS"] = False
    with server.test_client() as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v1/overview", "metrics unavailable: ConnectionError"),
        ("/api/v1/workload", "metrics unavailable: ConnectionError"),
        ("/api/v1/throughput", "metrics unavailable: ConnectionError"),
        ("/api/v1/cases/C-1", "database unavailable: OperationalError"),
    ],
)
def test_an_outage_is_a_json_503_and_logged(
    outage_client: FlaskClient, caplog: pytest.LogCaptureFixture, path: str, message: str
) -> None:
    with caplog.at_level(logging.ERROR, logger="dashboard.api.errors"):
        response = outage_client.get(path, headers=AUTH)
    assert response.status_code == 503
    assert response.content_type == "application/json; charset=utf-8"
    assert response.get_json() == {"error": message}
    assert any(path in record.getMessage() for record in caplog.records)
