"""Scenario 5: the SMTP server down, then up again, under the alert scheduler.

``complaintops scheduler`` runs as a process (delivering every second)
against a SQLite database and the mail catcher (aiosmtpd on loopback). A
first wave of alert emails is queued in the outbox and delivered. Then the
mail catcher is stopped and a second wave is queued: the scheduler must try,
fail and keep every message pending for 30 s (quick: 8 s). The catcher comes
back on the same port, and every message of the outbox — both waves, and any
the scheduler's own evaluation queued — must arrive exactly once (counted by
Message-ID in the caught mail), with none left pending or failed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.email import MIME_POLICY
from alerts.mailcatcher import MailCatcher, read_mail_dir
from alerts.models import FAILED, PENDING, SENT, Notification
from alerts.outbox import enqueue, new_message_id
from bench.faults.stage import Findings, Stage
from complaintops.embedded import find_free_port
from store.db import make_engine
from tests.pipeline.helpers import REPO_ROOT, wait_for

NAME: Final = "smtp_outage"
SENDER: Final = "alerts@complaintops.example"
RECIPIENT: Final = "oncall@complaintops.example"
FIRST_WAVE: Final = 10
DELIVER_EVERY_SECONDS: Final = 1.0
EVALUATE_EVERY_SECONDS: Final = 3600.0
ALL_SENT_WITHIN: Final = 300.0


def sizes(quick: bool) -> tuple[int, float]:
    """(messages queued while the server is down, seconds it stays down)."""
    return (20, 8.0) if quick else (50, 30.0)


def queue(database_url: str, count: int, wave: str) -> list[str]:
    """Queue ``count`` alert emails as the alerting would; their Message-IDs."""
    engine = make_engine(database_url)
    ids: list[str] = []
    try:
        with Session(engine) as session, session.begin():
            for number in range(count):
                message = EmailMessage(policy=MIME_POLICY)
                message["Subject"] = f"[ComplaintOps] 告警 {wave}-{number}"
                message["From"] = SENDER
                message["To"] = RECIPIENT
                message["Message-ID"] = new_message_id(SENDER)
                message.set_content(f"告警 {wave} {number}: 决定时限即将到期。")
                enqueue(
                    session,
                    message=message,
                    recipients=[RECIPIENT],
                    kind="firing",
                    alert_ids=[],
                    now=time.time(),
                )
                ids.append(str(message["Message-ID"]))
    finally:
        engine.dispose()
    return ids


def outbox_rows(database_url: str) -> dict[str, tuple[str, int]]:
    """Message-ID → (state, attempts) of every message in the outbox."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Notification.message_id, Notification.state, Notification.attempts)
            )
            return {message_id: (state, attempts) for message_id, state, attempts in rows}
    finally:
        engine.dispose()


def received(folder: Path) -> Counter[str]:
    return Counter(str(message["Message-ID"]) for message in read_mail_dir(folder))


def start_scheduler(
    stage: Stage, database_url: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTOPS_")}
    env.update(
        COMPLAINTOPS_KAFKA_BOOTSTRAP=stage.bootstrap,
        COMPLAINTOPS_REDIS_URL=stage.redis_url,
        COMPLAINTOPS_DATABASE_URL=database_url,
        COMPLAINTOPS_SMTP_HOST="127.0.0.1",
        COMPLAINTOPS_SMTP_PORT=str(port),
        COMPLAINTOPS_ALERT_FROM=SENDER,
        COMPLAINTOPS_DATA_DIR=str(stage.folder(NAME)),
        PYTHONUNBUFFERED="1",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "complaintops",
                "scheduler",
                "--deliver-every",
                str(DELIVER_EVERY_SECONDS),
                "--evaluate-every",
                str(EVALUATE_EVERY_SECONDS),
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def run(stage: Stage) -> Findings:
    outage_wave, down_seconds = sizes(stage.quick)
    findings = Findings()
    stage.empty_redis()
    folder = stage.folder(NAME)
    mail = folder / "mail"
    database_url = stage.sqlite_url(NAME)
    port = find_free_port()
    catcher = MailCatcher(mail, port=port).start()
    scheduler = start_scheduler(stage, database_url, port, folder / "scheduler.log")
    try:
        first = queue(database_url, FIRST_WAVE, "first")
        wait_for(
            lambda: all(outbox_rows(database_url)[i][0] == SENT for i in first),
            "the first wave sent",
            ALL_SENT_WITHIN,
        )
        catcher.stop()
        down_since = time.monotonic()
        second = queue(database_url, outage_wave, "outage")
        wait_for(
            lambda: all(outbox_rows(database_url)[i][1] >= 1 for i in second),
            "the scheduler trying the second wave",
            ALL_SENT_WITHIN,
        )
        time.sleep(max(0.0, down_seconds - (time.monotonic() - down_since)))
        during = outbox_rows(database_url)
        findings.check(
            "while SMTP was down every message of the second wave stayed pending",
            all(during[i][0] == PENDING for i in second),
            states=Counter(during[i][0] for i in second),
        )
        findings.check(
            "while SMTP was down none of the second wave arrived",
            not set(received(mail)) & set(second),
        )
        findings.figure(
            "outage",
            {"seconds": round(time.monotonic() - down_since, 1), "queued_meanwhile": len(second)},
        )
        catcher = MailCatcher(mail, port=port).start()
        back_at = time.monotonic()
        wait_for(
            lambda: all(state != PENDING for state, _ in outbox_rows(database_url).values()),
            "every message delivered",
            ALL_SENT_WITHIN,
        )
        findings.figure(
            "seconds_to_deliver_after_smtp_returned", round(time.monotonic() - back_at, 1)
        )
        findings.check("the scheduler stayed up", scheduler.poll() is None)
    finally:
        stop(scheduler)
        catcher.stop()
    rows = outbox_rows(database_url)
    caught = received(mail)
    findings.figure(
        "messages",
        {
            "outbox": len(rows),
            "queued_by_the_scenario": len(first) + len(second),
            "caught": sum(caught.values()),
            "most_attempts": max((attempts for _, attempts in rows.values()), default=0),
        },
    )
    findings.check(
        "every message of the outbox is sent (none pending, none failed)",
        all(state == SENT for state, _ in rows.values()),
        states=dict(Counter(state for state, _ in rows.values())),
    )
    findings.check(
        "every message arrived exactly once",
        caught == Counter(dict.fromkeys(rows, 1)),
        twice=sorted(i for i, n in caught.items() if n > 1)[:10],
        missing=sorted(set(rows) - set(caught))[:10],
        unknown=sorted(set(caught) - set(rows))[:10],
    )
    findings.check("no message failed for good", FAILED not in {s for s, _ in rows.values()})
    findings.figure("scheduler_log_tail", _tail(folder / "scheduler.log"))
    return findings


def _tail(path: Path, lines: int = 5) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []
