"""The alerting part of ``complaintops demo``: the scheduler, and a mail catcher
unless a real SMTP server is configured (``COMPLAINTOPS_SMTP_HOST``).

The catcher writes every alert email to ``<data dir>/mail/*.eml``; admins see
them on the dashboard's sent-mail page.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Final

from complaintops.embedded import ensure_port_free
from complaintops.supervisor import ChildSpec

DEMO_SMTP_PORT: Final = 2525
"""Loopback port of the demo's mail catcher (``--smtp-port`` when the demo has one)."""


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "complaintops", *args]


def mail_dir(data_dir: Path) -> Path:
    return data_dir / "mail"


def demo_children_alerts(args: argparse.Namespace, data_dir: Path) -> list[ChildSpec]:
    """The mail catcher (when no SMTP server is configured) and the alert scheduler.

    The scheduler's ``env`` points it at the catcher (``COMPLAINTOPS_SMTP_HOST``
    and ``_PORT``) and at the demo's dashboard for links in the emails.
    """
    children: list[ChildSpec] = []
    scheduler_env: dict[str, str] = {}
    if not os.environ.get("COMPLAINTOPS_SMTP_HOST"):
        port = int(getattr(args, "smtp_port", None) or DEMO_SMTP_PORT)
        ensure_port_free(port, "mail catcher (SMTP)", "--smtp-port")
        children.append(
            ChildSpec(
                "mailcatcher",
                _argv("mailcatcher", "--port", str(port), "--dir", str(mail_dir(data_dir))),
            )
        )
        scheduler_env.update(
            {
                "COMPLAINTOPS_SMTP_HOST": "127.0.0.1",
                "COMPLAINTOPS_SMTP_PORT": str(port),
                "COMPLAINTOPS_SMTP_TLS": "none",
            }
        )
    http_port = getattr(args, "http_port", None)
    if http_port and not os.environ.get("COMPLAINTOPS_DASHBOARD_URL"):
        scheduler_env["COMPLAINTOPS_DASHBOARD_URL"] = f"http://127.0.0.1:{http_port}"
    children.append(ChildSpec("scheduler", _argv("scheduler"), scheduler_env or None))
    return children
