"""The command line: scheduler --once, alerts list/ack/silence/silences/unsilence/history/
oncall/outbox, and the mail catcher process."""

from __future__ import annotations

import json
import logging
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from alerts.mailcatcher import read_mail_dir
from complaintops.cli import main
from complaintops.embedded import find_free_port
from complaintops.runtime import Runtime
from events import contract as c
from tests.alerts.conftest import Catcher, EventFeed, write_rules
from tests.alerts.scenario import only
from tests.events.factory import CaseScript


def overdue_long_ago(case_id: str) -> list[dict[str, object]]:
    """A case whose return visit was due in early November (the commands use the real clock)."""
    script = CaseScript(case_id)
    return [
        script.opened(at="2026-11-01T09:00:00+08:00", team_id="claims-east", handler_id="h-001"),
        script.next(c.DECISION_MADE, "2026-11-02T09:00:00+08:00"),
        script.next(
            c.FOLLOW_UP_SCHEDULED, "2026-11-02T10:00:00+08:00", due_at="2026-11-10T18:00:00+08:00"
        ),
    ]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``main`` configures logging onto the captured stream; undo it after each test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch,
    valkey_url: str,
    migrated_url: str,
    catcher: Catcher,
    tmp_path: Path,
) -> None:
    rules = write_rules(tmp_path / "rules", only("follow_up_overdue", group_wait_seconds=0))
    for name, value in {
        "REDIS_URL": valkey_url,
        "DATABASE_URL": migrated_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(catcher.port),
        "SECRET_KEY": "cli-secret",
        "RULES_DIR": str(rules),
        "DATA_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(f"COMPLAINTOPS_{name}", value)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_scheduler_once_then_list_ack_and_history(
    environment: None,
    feed: EventFeed,
    catcher: Catcher,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed.apply(overdue_long_ago("C-1"))
    code, out = run(capsys, "scheduler", "--once")
    assert code == 0 and out.strip() == "1 fired, 0 resolved, 1 email(s) sent"
    [message] = catcher.messages()
    assert "C-1" in str(message.get_body(("plain",)).get_content())

    code, out = run(capsys, "alerts", "list", "--json")
    [row] = json.loads(out)["alerts"]
    assert (row["rule"], row["state"], row["case_id"]) == ("follow_up_overdue", "active", "C-1")

    code, out = run(capsys, "alerts", "ack", row["id"], "--by", "leader@example.com")
    assert out.strip() == f"alert {row['id']}: acknowledged"
    code, out = run(capsys, "alerts", "ack", row["id"], "--by", "leader@example.com")
    assert out.strip() == f"alert {row['id']}: unchanged (not active)"
    assert run(capsys, "alerts", "ack", "999999", "--by", "x")[1].strip() == "no alert 999999"

    code, out = run(capsys, "alerts", "list")
    assert "acknowledged" in out and "case=C-1 team=claims-east handler=h-001" in out
    code, out = run(capsys, "alerts", "history", row["id"])
    lines = out.splitlines()
    assert lines[0] == f"alert {row['id']}: follow_up_overdue warning acknowledged"
    assert [line.split()[1] for line in lines[1:]] == ["fired", "notified", "acknowledged"]

    code, out = run(capsys, "alerts", "outbox")
    assert "sent" in out and "回访逾期" in out


def test_silences_from_the_command_line(
    environment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(
        capsys,
        "alerts",
        "silence",
        "--team",
        "claims-east",
        "--for",
        "2h",
        "--by",
        "m",
        "--comment",
        "drill",
    )
    assert code == 0 and out.startswith("silence 1 until ")
    code, out = run(capsys, "alerts", "silences")
    assert "team=claims-east" in out and "by m  — drill" in out
    assert run(capsys, "alerts", "silence", "--for", "1h", "--by", "m")[1].strip() == (
        "a silence needs a rule, a team or a case"
    )
    assert run(capsys, "alerts", "unsilence", "1")[1].strip() == "silence 1: ended"
    assert run(capsys, "alerts", "silences")[1].strip() == "no active silences"
    with pytest.raises(SystemExit):
        main(["alerts", "silence", "--rule", "x", "--for", "soon", "--by", "m"])


def test_who_is_on_call(environment: None, capsys: pytest.CaptureFixture[str]) -> None:
    _, out = run(capsys, "alerts", "oncall", "--at", "2026-12-01T10:00:00+08:00")
    assert out.splitlines()[0] == (
        "claims [claims-east, claims-north]: 赵磊 <zhao.lei@example.com> "
        "until 2026-12-07T09:00:00+08:00"
    )


def test_the_mail_catcher_command(tmp_path: Path) -> None:
    port = find_free_port()
    folder = tmp_path / "caught"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "complaintops",
            "mailcatcher",
            "--port",
            str(port),
            "--dir",
            str(folder),
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTOPS_")},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, process)
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            message = EmailMessage()
            message["From"] = "a@example.com"
            message["To"] = "b@example.com"
            message["Subject"] = "测试 test"
            message.set_content("hello")
            client.send_message(message)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert [str(m["Subject"]) for m in read_mail_dir(folder)] == ["测试 test"]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode() if process.stdout else "exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)  # waiting for a child process to listen, not for a clock
    raise AssertionError(f"mail catcher did not listen on {port}")


def test_scheduler_once_without_smtp_queues_only(
    make_runtime: Callable[..., Runtime],
    capsys: pytest.CaptureFixture[str],
    environment: None,
    monkeypatch: pytest.MonkeyPatch,
    feed: EventFeed,
) -> None:
    monkeypatch.delenv("COMPLAINTOPS_SMTP_HOST")
    feed.apply(overdue_long_ago("C-9"))
    _, out = run(capsys, "scheduler", "--once")
    assert out.strip() == "1 fired, 0 resolved, 0 email(s) sent"
    assert "pending" in run(capsys, "alerts", "outbox")[1]
