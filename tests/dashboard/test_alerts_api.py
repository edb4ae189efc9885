"""GET /api/v1/alerts (api-v1.md) and the acknowledge link of alert emails (/alerts/ack)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from alerts.evaluate import Evaluation, Firing
from alerts.lifecycle import acknowledge, list_alerts, reconcile
from alerts.tokens import sign
from complaintops.runtime import Runtime
from config import load_rules, load_settings
from dashboard.api.routes_alerts import alerts_view
from dashboard.server import create_server
from events.timeutil import parse_rfc3339
from store.migrate import upgrade

TOKEN = "test-token-alerts"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECRET = "alerts-api-secret"
T0 = parse_rfc3339("2026-12-01T10:00:00+08:00")


@pytest.fixture(autouse=True)
def _no_complaintops_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("COMPLAINTOPS_"):
            monkeypatch.delenv(name)


def store(runtime: Runtime, at: float, *firing: Firing) -> None:
    rules = {f.rule for f in firing} | {
        "follow_up_overdue",
        "decision_breached",
        "handler_overloaded",
    }
    with Session(runtime.engine) as session, session.begin():
        reconcile(session, Evaluation(at, list(firing), rules, {}))


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    upgrade(database_url, "heads")
    settings = load_settings(
        database_url=database_url,
        api_tokens=[TOKEN],
        secret_key=SECRET,
        data_dir=tmp_path,
        dashboard_url="https://ops.example.com",
    )
    runtime = Runtime(settings=settings, rules=load_rules(settings))
    # Three alerts: one acknowledged, one resolved after 10 minutes, one active.
    overdue = Firing("follow_up_overdue", "warning", "C-1", "claims-east", "h-001")
    breached = Firing("decision_breached", "critical", "C-2", "claims-north", "h-007")
    overloaded = Firing("handler_overloaded", "warning", None, "claims-east", "h-006")
    store(runtime, T0, overdue, breached)
    store(runtime, T0 + 60, overdue, breached, overloaded)
    store(runtime, T0 + 600, breached, overloaded)
    with Session(runtime.engine) as session, session.begin():
        ids = {a.rule: a.id for a in list_alerts(session, state="all")}
        acknowledge(session, [ids["decision_breached"]], "a@example.com", "web", T0 + 700)
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return create_server(runtime).test_client()


def test_the_answer_has_exactly_the_contract_shape(client: FlaskClient) -> None:
    response = client.get("/api/v1/alerts", headers=AUTH)
    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    body = response.get_json()
    assert list(body) == ["alerts"]
    assert body["alerts"] == [
        {
            "id": body["alerts"][0]["id"],
            "rule": "handler_overloaded",
            "severity": "warning",
            "state": "active",
            "case_id": None,
            "team_id": "claims-east",
            "handler_id": "h-006",
            "since": "2026-12-01T10:01:00+08:00",
        },
        {
            "id": body["alerts"][1]["id"],
            "rule": "decision_breached",
            "severity": "critical",
            "state": "acknowledged",
            "case_id": "C-2",
            "team_id": "claims-north",
            "handler_id": "h-007",
            "since": "2026-12-01T10:00:00+08:00",
        },
    ]
    assert all(isinstance(row["id"], str) for row in body["alerts"])


def test_state_resolved_and_all(client: FlaskClient) -> None:
    resolved = client.get("/api/v1/alerts?state=resolved", headers=AUTH).get_json()["alerts"]
    assert [(a["rule"], a["state"], a["case_id"]) for a in resolved] == [
        ("follow_up_overdue", "resolved", "C-1")
    ]
    every = client.get("/api/v1/alerts?state=all", headers=AUTH).get_json()["alerts"]
    assert sorted(a["state"] for a in every) == ["acknowledged", "active", "resolved"]
    active = client.get("/api/v1/alerts?state=active", headers=AUTH).get_json()["alerts"]
    assert active == client.get("/api/v1/alerts", headers=AUTH).get_json()["alerts"]


def test_the_team_filter(client: FlaskClient) -> None:
    rows = client.get("/api/v1/alerts?state=all&team=claims-north", headers=AUTH).get_json()
    assert [a["case_id"] for a in rows["alerts"]] == ["C-2"]


def test_every_alert_is_listed_without_pagination(client: FlaskClient, runtime: Runtime) -> None:
    breached = Firing("decision_breached", "critical", "C-2", "claims-north", "h-007")
    overloaded = Firing("handler_overloaded", "warning", None, "claims-east", "h-006")
    many = [
        Firing("follow_up_overdue", "warning", f"C-{1000 + n}", "claims-east", "h-001")
        for n in range(600)
    ]
    store(runtime, T0 + 800, breached, overloaded, *many)
    active = client.get("/api/v1/alerts", headers=AUTH).get_json()["alerts"]
    assert len(active) == 602
    assert len({alert["id"] for alert in active}) == 602
    everything = client.get("/api/v1/alerts?state=all", headers=AUTH).get_json()["alerts"]
    assert len(everything) == 603
    team = client.get("/api/v1/alerts?state=all&team=claims-east", headers=AUTH).get_json()
    assert len(team["alerts"]) == 602
    assert alerts_view(runtime, state="all") == {"alerts": everything}


@pytest.mark.parametrize("state", ["open", "ACTIVE", ""])
def test_a_bad_state_is_a_400_naming_it(client: FlaskClient, state: str) -> None:
    response = client.get(f"/api/v1/alerts?state={state}", headers=AUTH)
    assert response.status_code == 400
    assert response.get_json() == {
        "error": f"parameter 'state' must be one of active, resolved, all, got '{state}'"
    }


def test_a_token_is_required(client: FlaskClient) -> None:
    assert client.get("/api/v1/alerts").status_code == 401
    wrong = client.get("/api/v1/alerts", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_the_view_function_equals_the_api(client: FlaskClient, runtime: Runtime) -> None:
    for state in ("active", "resolved", "all"):
        api = client.get(f"/api/v1/alerts?state={state}", headers=AUTH).get_json()
        assert alerts_view(runtime, state=state) == api


def test_an_unmigrated_database_is_a_503(tmp_path: Path) -> None:
    settings = load_settings(
        database_url=f"sqlite:///{tmp_path / 'empty.db'}", api_tokens=[TOKEN], data_dir=tmp_path
    )
    client = create_server(Runtime(settings=settings, rules=load_rules(settings))).test_client()
    response = client.get("/api/v1/alerts", headers=AUTH)
    assert response.status_code == 503
    assert response.get_json() == {"error": "alerts unavailable: OperationalError"}


# -- the acknowledge link ---------------------------------------------------------------------


def _active_id(runtime: Runtime) -> int:
    with Session(runtime.engine) as session:
        return next(a.id for a in list_alerts(session) if a.state == "active")


def test_following_the_link_asks_before_acknowledging(
    client: FlaskClient, runtime: Runtime
) -> None:
    alert_id = _active_id(runtime)
    token = sign(SECRET, [alert_id], "oncall@example.com", time.time() + 3600)
    page = client.get(f"/alerts/ack?token={token}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'method="post"' in text and "handler_overloaded" in text
    assert "oncall@example.com" in text
    with Session(runtime.engine) as session:  # nothing changed yet
        assert next(a for a in list_alerts(session) if a.id == alert_id).state == "active"

    done = client.post("/alerts/ack", data={"token": token})
    assert done.status_code == 200
    assert "已确认 Acknowledged" in done.get_data(as_text=True)
    with Session(runtime.engine) as session:
        alert = next(a for a in list_alerts(session) if a.id == alert_id)
        assert (alert.state, alert.acknowledged_by) == ("acknowledged", "oncall@example.com")

    again = client.post("/alerts/ack", data={"token": token})
    assert again.status_code == 200
    assert "acknowledged now" not in again.get_data(as_text=True)


def test_forged_expired_or_foreign_links_are_refused(client: FlaskClient, runtime: Runtime) -> None:
    alert_id = _active_id(runtime)
    expired = sign(SECRET, [alert_id], "a@example.com", time.time() - 1)
    foreign = sign("another key", [alert_id], "a@example.com", time.time() + 3600)
    for token in (expired, foreign, "garbage"):
        response = client.post("/alerts/ack", data={"token": token})
        assert response.status_code == 400
        assert "Invalid link" in response.get_data(as_text=True)
    with Session(runtime.engine) as session:
        assert next(a for a in list_alerts(session) if a.id == alert_id).state == "active"


def test_a_link_to_a_missing_alert_is_a_404(client: FlaskClient) -> None:
    token = sign(SECRET, [999_999], "a@example.com", time.time() + 3600)
    assert client.post("/alerts/ack", data={"token": token}).status_code == 404


def test_the_link_needs_no_api_token_but_the_api_does(client: FlaskClient) -> None:
    assert client.get("/alerts/ack?token=x").status_code == 400  # answered, not 401
