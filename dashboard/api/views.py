"""The API's answers as plain dicts (api-v1.md), built from the query layer.

The dashboard's wall uses the same functions, so a tile and the API can
never disagree.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from events.clock import deadline
from events.state import CaseState
from store import repository


def overview(runtime: Runtime, team: str | None = None, now: float | None = None) -> dict[str, Any]:
    data = runtime.query.overview(team=team, now=now)
    return {
        "as_of": runtime.query.format_time(data.as_of),
        "open_cases": data.open_cases,
        "wip": data.wip,
        "follow_ups_overdue": data.follow_ups_overdue,
        "decision_at_risk": data.decision_at_risk,
        "decision_breached": data.decision_breached,
        "events": data.events,
        "decisions_due_today": data.decisions_due_today,
        "entered_today": data.entered_today,
        "exited_today": data.exited_today,
    }


def workload(runtime: Runtime, team: str | None = None) -> dict[str, Any]:
    teams = runtime.query.workload(runtime.configured_handlers(), team=team)
    return {
        "teams": [
            {
                "team_id": t.team_id,
                "open_cases": t.open_cases,
                "wip": t.wip,
                "handlers": [
                    {"handler_id": h.handler_id, "open_cases": h.open_cases, "capacity": h.capacity}
                    for h in t.handlers
                ],
            }
            for t in teams
        ]
    }


def throughput(
    runtime: Runtime, hours: int, team: str | None = None, now: float | None = None
) -> dict[str, Any]:
    buckets = runtime.query.throughput(hours, now=now, team=team)
    return {
        "buckets": [
            {"start": runtime.query.format_time(b.start), "entered": b.entered, "exited": b.exited}
            for b in buckets
        ]
    }


def case_detail(
    runtime: Runtime, session: Session, case_id: str, now: float | None = None
) -> dict[str, Any] | None:
    row = repository.get_case(session, case_id)
    if row is None:
        return None
    now = time.time() if now is None else now
    state = CaseState.from_dict(orjson.loads(row.state))
    fmt = runtime.query.format_time
    clock = state.clock
    if clock.paused_since is not None and clock.decided_at is None:
        due: float | None = deadline(clock, runtime.tz, at=now)
    else:
        due = deadline(clock, runtime.tz)
    return {
        "case_id": row.case_id,
        "status": state.status,
        "stage": state.stage,
        "team_id": state.team_id,
        "handler_id": state.handler_id,
        "decision_deadline": fmt(due) if due is not None else None,
        "follow_up_due": fmt(state.follow_up_due) if state.follow_up_due is not None else None,
        "timeline": [
            {"seq": item.seq, "type": item.type, "occurred_at": fmt(item.occurred_at.timestamp())}
            for item in row.timeline
        ],
        # Beyond the required fields: the clock's details for drill-down.
        "decided_at": fmt(clock.decided_at) if clock.decided_at is not None else None,
        "clock_paused": clock.paused_since is not None,
        "paused_days": round(clock.paused_total / 86400, 2),
        "limit_days": clock.limit_days,
        "follow_up_done": state.follow_up_done,
        "priority": state.priority,
        "category": state.category,
        "channel": state.channel,
    }
