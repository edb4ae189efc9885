"""A small, contract-valid complaint centre for wall and page tests.

Three dozen cases relative to ``now``: fresh ones opened today, some whose
decision is at risk or overdue, return visits overdue, decided and closed
ones. ``apply_scenario`` runs the events through the real metrics sink.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import orjson
import redis

from events import contract as c
from events.batch import RawRecord
from events.timeutil import format_rfc3339
from metrics.sink import RedisSink
from tests.events.factory import CaseScript

DAY = 86400.0
HOUR = 3600.0
TOPIC = "complaints.case-events"
GROUP = "complaintops-metrics"

EAST = ("claims-east", ("h-001", "h-002", "h-003", "h-004"))
NORTH = ("claims-north", ("h-007", "h-008", "h-009"))
# Handlers who decide a case today (a full top ten on the leaderboard; h-001 twice).
DECIDERS = ("h-001", "h-001", *(f"h-{n:03d}" for n in range(2, 13)))


def _at(moment: float, tz: ZoneInfo) -> str:
    return format_rfc3339(moment, tz)


def _open(script: CaseScript, at: float, tz: ZoneInfo, team: str, handler: str) -> dict[str, Any]:
    return script.opened(
        _at(at, tz),
        team_id=team,
        handler_id=handler,
        channel="phone",
        category="claims",
        product_line="auto",
    )


def scenario_events(now: float, tz: ZoneInfo) -> list[dict[str, Any]]:
    """The events of every case, each case's in ``seq`` order."""
    events: list[dict[str, Any]] = []
    number = 0

    def case() -> CaseScript:
        nonlocal number
        number += 1
        return CaseScript(f"W2026-{number:04d}")

    for i in range(8):  # opened in the last hours, some moved on already
        team, handlers = EAST if i % 2 == 0 else NORTH
        script = case()
        opened = now - (i + 1) * 0.4 * HOUR
        events.append(_open(script, opened, tz, team, handlers[i % len(handlers)]))
        if i % 3 == 0:
            events.append(
                script.next(c.STAGE_CHANGED, _at(opened + 600, tz), to_stage="investigation")
            )
    for i in range(5):  # decision due within the warning window
        team, handlers = EAST if i < 3 else NORTH
        script = case()
        opened = now - 13 * DAY - i * HOUR
        events.append(_open(script, opened, tz, team, handlers[i % len(handlers)]))
        events.append(script.next(c.STAGE_CHANGED, _at(opened + DAY, tz), to_stage="investigation"))
        if i % 2 == 0:
            events.append(
                script.next(c.STAGE_CHANGED, _at(opened + 3 * DAY, tz), to_stage="resolution")
            )
    for i in range(3):  # decision overdue
        team, handlers = NORTH if i < 2 else EAST
        script = case()
        opened = now - 18 * DAY - i * HOUR
        events.append(_open(script, opened, tz, team, handlers[i % len(handlers)]))
        events.append(script.next(c.STAGE_CHANGED, _at(opened + DAY, tz), to_stage="investigation"))
    for i in range(4):  # decided, return visit overdue
        team, handlers = EAST
        script = case()
        opened = now - 10 * DAY - i * HOUR
        events.append(_open(script, opened, tz, team, handlers[i % len(handlers)]))
        events.append(script.next(c.STAGE_CHANGED, _at(opened + DAY, tz), to_stage="investigation"))
        events.append(script.next(c.DECISION_MADE, _at(opened + 4 * DAY, tz), outcome="upheld"))
        events.append(
            script.next(c.STAGE_CHANGED, _at(opened + 4 * DAY + 60, tz), to_stage="feedback")
        )
        events.append(
            script.next(
                c.FOLLOW_UP_SCHEDULED,
                _at(opened + 5 * DAY, tz),
                due_at=_at(now - DAY - i * HOUR, tz),
            )
        )
        events.append(
            script.next(c.STAGE_CHANGED, _at(opened + 5 * DAY + 60, tz), to_stage="follow_up")
        )
    for i, handler in enumerate(DECIDERS):  # decided on time today, then in review or closed
        team = "claims-east" if handler <= "h-006" else "claims-north"
        script = case()
        opened = now - 6 * DAY - i * HOUR
        events.append(_open(script, opened, tz, team, handler))
        events.append(
            script.next(c.STAGE_CHANGED, _at(opened + HOUR, tz), to_stage="investigation")
        )
        decided = now - 3 * HOUR + i * 600  # today: points on this week's leaderboard
        events.append(script.next(c.DECISION_MADE, _at(decided, tz), outcome="rejected"))
        events.append(script.next(c.STAGE_CHANGED, _at(decided + 60, tz), to_stage="review"))
        if i < 3:
            events.append(
                script.next(c.CLOSED, _at(now - (i + 1) * 0.3 * HOUR, tz), resolution="resolved")
            )
    return events


def records(events: list[dict[str, Any]], first_offset: int = 0) -> list[RawRecord]:
    return [
        RawRecord(TOPIC, 0, first_offset + n, orjson.dumps(event), event["case_id"].encode())
        for n, event in enumerate(events)
    ]


def apply_events(
    client: redis.Redis, events: list[dict[str, Any]], tz: ZoneInfo, first_offset: int = 0
) -> int:
    """Apply events through the metrics sink; returns how many were applied."""
    sink = RedisSink(client, GROUP, tz)
    sink.prepare(group_has_committed=False)
    return sink.apply(records(events, first_offset)).applied


def apply_scenario(client: redis.Redis, now: float, tz: ZoneInfo) -> int:
    return apply_events(client, scenario_events(now, tz), tz)
