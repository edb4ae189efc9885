"""Building blocks of the alerting integration tests: case histories and mail reading."""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any

from alerts.service import AlertService
from events import contract as c
from tests.alerts.conftest import Catcher, FakeClock
from tests.events.factory import CaseScript

OPENED = "2026-11-24T09:30:00+08:00"
PAST_DUE = "2026-11-30T18:00:00+08:00"  # a return visit overdue at NOW (2026-12-01 10:00)
CASE_IN_BODY = re.compile(r"Case (\S+)")


def case_with_follow_up(
    case_id: str,
    team: str,
    handler: str,
    due: str,
    *,
    then: Iterable[tuple[str, str, dict[str, Any]]] = (),
    opened: str = OPENED,
) -> list[dict[str, Any]]:
    """A case opened, decided, moved to follow-up and given a return visit due at ``due``."""
    script = CaseScript(case_id)
    events = [
        script.opened(at=opened, team_id=team, handler_id=handler),
        script.next(c.DECISION_MADE, "2026-11-25T10:00:00+08:00", outcome="upheld"),
        script.next(c.STAGE_CHANGED, "2026-11-25T11:00:00+08:00", to_stage="follow_up"),
        script.next(c.FOLLOW_UP_SCHEDULED, "2026-11-25T11:05:00+08:00", due_at=due),
    ]
    events += [script.next(kind, at, **fields) for kind, at, fields in then]
    return events


def cycle(service: AlertService, clock: FakeClock, seconds: float = 0) -> None:
    """Move the clock, evaluate, deliver."""
    clock.advance(seconds)
    service.evaluate()
    service.deliver()


def kind(message: EmailMessage) -> str:
    return str(message["X-ComplaintOps-Kind"])


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def cases_named(message: EmailMessage) -> list[str]:
    return CASE_IN_BODY.findall(plain(message))


def mail(catcher: Catcher, of_kind: str | None = None) -> list[EmailMessage]:
    return [m for m in catcher.messages() if of_kind is None or kind(m) == of_kind]


ONLY = {
    name: {"enabled": False}
    for name in (
        "follow_up_overdue",
        "decision_at_risk",
        "decision_breached",
        "stage_sla_breached",
        "handler_overloaded",
        "consumer_lag",
        "major_complaint_opened",
    )
}


def only(*rules: str, **routing: Any) -> dict[str, Any]:
    """alerts.yaml changes: just these rules enabled, and routing changes."""
    enabled = {name: ({} if name in rules else value) for name, value in ONLY.items()}
    for name in rules:
        enabled[name] = {"enabled": True}
    return {"rules": enabled, "routing": routing}
