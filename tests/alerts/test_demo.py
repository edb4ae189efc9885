"""The demo's alerting children: a mail catcher unless SMTP is configured, and the scheduler."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from alerts.demo import DEMO_SMTP_PORT, demo_children_alerts
from complaintops.embedded import find_free_port


def test_without_smtp_the_demo_catches_mail_in_the_data_dir(tmp_path: Path) -> None:
    port = find_free_port()
    children = demo_children_alerts(argparse.Namespace(smtp_port=port, http_port=8051), tmp_path)
    catcher, scheduler = children
    assert catcher.name == "mailcatcher"
    assert catcher.argv == [
        sys.executable,
        "-m",
        "complaintops",
        "mailcatcher",
        "--port",
        str(port),
        "--dir",
        str(tmp_path / "mail"),
    ]
    assert scheduler.name == "scheduler"
    assert scheduler.argv[-1] == "scheduler"
    assert scheduler.env == {
        "COMPLAINTOPS_SMTP_HOST": "127.0.0.1",
        "COMPLAINTOPS_SMTP_PORT": str(port),
        "COMPLAINTOPS_SMTP_TLS": "none",
        "COMPLAINTOPS_DASHBOARD_URL": "http://127.0.0.1:8051",
    }


def test_with_smtp_configured_only_the_scheduler_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTOPS_SMTP_HOST", "mail.example.com")
    monkeypatch.setenv("COMPLAINTOPS_DASHBOARD_URL", "https://ops.example.com")
    [scheduler] = demo_children_alerts(argparse.Namespace(http_port=8050), tmp_path)
    assert scheduler.name == "scheduler" and scheduler.env is None


def test_the_default_port(tmp_path: Path) -> None:
    children = demo_children_alerts(argparse.Namespace(), tmp_path)
    assert children[0].argv[children[0].argv.index("--port") + 1] == str(DEMO_SMTP_PORT)
