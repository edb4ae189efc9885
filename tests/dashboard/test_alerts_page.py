"""The alerts page and the sent-mail page: layouts, data functions and callbacks as plain
functions, role checks, on a real migrated database."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import dash
import pytest
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden

from alerts.evaluate import Evaluation, Firing
from alerts.lifecycle import active_silences, list_alerts, reconcile
from alerts.mailcatcher import MailCatcher
from complaintops.embedded import find_free_port
from complaintops.runtime import Runtime
from config import load_rules, load_settings
from dashboard.auth.context import set_request_identity
from dashboard.auth.sessions import Identity
from events.timeutil import parse_rfc3339
from store.migrate import upgrade
from tests.dashboard.desk_data import find_ids, find_text, make_app

T0 = parse_rfc3339("2026-12-01T10:00:00+08:00")
LEADER = Identity("user", "leader-1", "leader")
ADMIN = Identity("user", "admin-1", "admin")
KIOSK = Identity("kiosk", None, None)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_complaintops_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("COMPLAINTOPS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def runtime(sqlite_url: str, tmp_path: Path) -> Iterator[Runtime]:
    upgrade(sqlite_url, "heads")
    settings = load_settings(database_url=sqlite_url, data_dir=tmp_path, secret_key="k")
    runtime = Runtime(settings=settings, rules=load_rules(settings))
    firing = [
        Firing(
            "follow_up_overdue",
            "warning",
            "C-1",
            "claims-east",
            "h-001",
            details={"due": T0 - 3600},
        ),
        Firing(
            "decision_breached",
            "critical",
            "C-2",
            "claims-north",
            "h-007",
            details={"due": T0 - 86400},
        ),
    ]
    with Session(runtime.engine) as session, session.begin():
        reconcile(session, Evaluation(T0, firing, {"follow_up_overdue", "decision_breached"}, {}))
    yield runtime
    runtime.engine.dispose()


@pytest.fixture
def app(runtime: Runtime) -> dash.Dash:
    return make_app(runtime)


@pytest.fixture
def page(app: dash.Dash) -> ModuleType:
    from dashboard.pages import alerts

    return alerts


def test_leaders_may_open_the_page_and_its_ids_are_prefixed(
    app: dash.Dash, page: ModuleType
) -> None:
    entry = next(p for p in dash.page_registry.values() if p["path"] == "/alerts")
    assert entry["min_role"] == "leader"
    with app.server.test_request_context("/alerts?lang=en"):
        set_request_identity(LEADER)
        tree = page.layout(lang="en")
    ids = find_ids(tree)
    assert {"alerts-state", "alerts-team", "alerts-pick", "alerts-ack", "alerts-silence"} <= ids
    assert all(i.startswith("alerts-") for i in ids)
    with app.server.test_request_context("/alerts?lang=zh"):
        set_request_identity(KIOSK)
        viewer = page.layout(lang="zh")
    assert "alerts-ack" not in find_ids(viewer)
    assert "只有组长、经理和管理员可以确认或静音告警。" in find_text(viewer)


def test_the_table_lists_alerts_by_state_in_both_languages(
    app: dash.Dash, page: ModuleType, runtime: Runtime
) -> None:
    with app.server.test_request_context("/alerts?lang=en"):
        set_request_identity(LEADER)
        rows = page.alert_rows(runtime, "active", None, "en", now=T0 + 3600)
        # newest first; started together, so the later id first
        assert [(r["case"], r["severity"], r["rule"]) for r in rows] == [
            ("C-2", "Critical", "decision deadline breached"),
            ("C-1", "Warning", "return visit overdue"),
        ]
        c1 = next(r for r in rows if r["case"] == "C-1")
        assert c1["details"] == "return visit due 2026-12-01 09:00, overdue by 2h 0m"
        assert c1["team"] == "Claims complaints team 1" and c1["handler"] == "张伟 (h-001)"
        table = page.alerts_table(rows, "en")
        assert "C-1" in find_text(table)
        assert [r["case"] for r in page.alert_rows(runtime, "all", "claims-north", "en")] == ["C-2"]
        assert page.alert_rows(runtime, "resolved", None, "en") == []
    with app.server.test_request_context("/alerts?lang=zh"):
        rows = page.alert_rows(runtime, "active", None, "zh", now=T0 + 3600)
        assert {r["rule"] for r in rows} == {"回访逾期", "决定期限已超"}


def test_a_leader_acknowledges_and_silences(
    app: dash.Dash, page: ModuleType, runtime: Runtime
) -> None:
    with Session(runtime.engine) as session:
        c1 = next(a.id for a in list_alerts(session) if a.case_id == "C-1")
    with app.server.test_request_context("/alerts?lang=en"):
        set_request_identity(LEADER)
        message, changed, picked = page.on_acknowledge(1, [c1], 0)
        assert (message, changed, picked) == ("Acknowledged 1 alert(s).", 1, [])
        assert page.on_acknowledge(1, [c1], 1)[0] == (
            "The selected alerts were already acknowledged or resolved."
        )
        assert page.on_acknowledge(1, [], 1)[0] == "Choose the alerts to acknowledge first."
        acked = page.alert_rows(runtime, "acknowledged", None, "en")
        assert [(r["case"], r["by"]) for r in acked] == [("C-1", "leader-1")]
        choices = page.pick_options(page.alert_rows(runtime, "active", None, "en"))
        assert [o["label"] for o in choices] == [f"#{c1 + 1} decision deadline breached C-2"]

        message, _ = page.on_silence(1, "decision_breached", None, 4, " night shift ", 1)
        assert message.startswith("Silenced until ")
        assert page.on_silence(1, None, None, 4, None, 2)[0] == "Choose an alert or a team."
        with Session(runtime.engine) as session:
            [silence] = active_silences(session, time.time())
            assert (silence.rule, silence.created_by, silence.comment) == (
                "decision_breached",
                "leader-1",
                "night shift",
            )
        assert page.on_end_silence(1, silence.id, 3)[0] == f"Silence {silence.id} ended."


def test_actions_need_a_signed_in_leader(app: dash.Dash, page: ModuleType) -> None:
    with app.server.test_request_context("/alerts"):
        set_request_identity(KIOSK)
        with pytest.raises(Forbidden):
            page.on_acknowledge(1, [1], 0)
        with pytest.raises(Forbidden):
            page.on_silence(1, "decision_breached", None, 1, None, 0)
        set_request_identity(None)
        with pytest.raises(Forbidden):
            page.on_end_silence(1, 1, 0)


def test_the_refresh_callback_and_who_is_on_call(
    app: dash.Dash, page: ModuleType, runtime: Runtime
) -> None:
    with app.server.test_request_context("/alerts?lang=en"):
        set_request_identity(LEADER)
        table, tiles, silences, oncall, error = page.refresh("active", None, 0, 0)
        assert len(oncall) == 3  # the three rotations of oncall.yaml
        assert error is None
        assert "C-2" in find_text(table)
        assert "Unacknowledged 2" in find_text(tiles)
        assert find_text(silences) == "No active silences."
        panel = page.oncall_panel(runtime, "en", now=parse_rfc3339("2026-12-01T10:00:00+08:00"))
        text = find_text(panel)
        assert "On call now:  赵磊 <zhao.lei@example.com>  → 7 Dec 09:00" in text
        assert "Claims complaints team 1 · Claims complaints team 2" in text


# -- the sent-mail page --------------------------------------------------------------------------


def test_admins_see_the_outbox_and_the_caught_mail(
    app: dash.Dash, runtime: Runtime, tmp_path: Path
) -> None:
    import smtplib
    from email.message import EmailMessage

    from dashboard.pages import mail

    entry = next(p for p in dash.page_registry.values() if p["path"] == "/mail")
    assert entry["min_role"] == "admin"
    folder = tmp_path / "mail"
    port = find_free_port()
    with MailCatcher(folder, port=port), smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        message = EmailMessage()
        message["From"] = "alerts@example.com"
        message["To"] = "oncall@example.com"
        message["Subject"] = "[警告 WARNING] 1 个案件回访逾期"
        message.set_content("正文")
        client.send_message(message)
    with app.server.test_request_context("/mail?lang=en"):
        set_request_identity(ADMIN)
        outbox, caught, options, error = mail.refresh(0)
        assert error is None
        assert find_text(outbox) == "The outbox is empty."
        assert "[警告 WARNING] 1 个案件回访逾期" in find_text(caught)
        [option] = options
        text = mail.show(option["value"])
        assert "To: oncall@example.com" in text and "正文" in text
        assert mail.show("../complaintops.db") == ""
        assert mail.show(None) == ""
