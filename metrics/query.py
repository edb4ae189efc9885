"""The one query layer over the Redis read model.

The JSON API, the dashboard pages and the alert jobs all read through these
methods, so they never disagree. Every at-risk, breached or overdue figure
is a range query over a due-time index, never a scan of the cases; paused
decision clocks (few at a time) are evaluated from their own small hash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import redis

from events.clock import paused_breach_limit, paused_deadline_before_limit
from events.contract import STAGES
from events.state import CaseState
from events.timeutil import (
    DAY_SECONDS,
    end_of_local_day,
    format_rfc3339,
    hour_start,
    local_date,
    start_of_local_day,
)
from metrics import keys
from metrics.codec import decode_state

EVENT_COUNTERS = ("applied", "duplicates", "invalid", "gaps")


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def stage_counts(raw: dict[Any, Any], prefix: str = "") -> dict[str, int]:
    """All six stages in process order, zeros included."""
    decoded = {_text(k): _int(v) for k, v in raw.items()}
    return {stage: max(0, decoded.get(prefix + stage, 0)) for stage in STAGES}


@dataclass(slots=True)
class Overview:
    as_of: float
    open_cases: int
    wip: dict[str, int]
    follow_ups_overdue: int
    decision_at_risk: int
    decision_breached: int
    events: dict[str, int]
    # Wall display extras (not in the API's required fields).
    decisions_due_today: int = 0
    entered_today: dict[str, int] = field(default_factory=dict)
    exited_today: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class HandlerLoad:
    handler_id: str
    open_cases: int
    capacity: int | None


@dataclass(slots=True)
class TeamLoad:
    team_id: str
    open_cases: int
    wip: dict[str, int]
    handlers: list[HandlerLoad]


@dataclass(slots=True)
class ThroughputBucket:
    start: float
    entered: dict[str, int]
    exited: dict[str, int]


@dataclass(frozen=True, slots=True)
class DueCase:
    case_id: str
    due: float
    team_id: str | None = None


class MetricsQuery:
    """Reads of the live metrics. ``clock`` gives 'now' (injected in tests)."""

    def __init__(
        self,
        client: redis.Redis,
        tz: ZoneInfo,
        warning_days: float = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.tz = tz
        self.warning_seconds = warning_days * DAY_SECONDS
        self.clock = clock

    # -- overview ------------------------------------------------------------------

    def overview(self, team: str | None = None, now: float | None = None) -> Overview:
        now = self.clock() if now is None else now
        deadlines = keys.TEAM_DEADLINES.format(team) if team else keys.DEADLINES
        follow_ups = keys.TEAM_FOLLOW_UPS.format(team) if team else keys.FOLLOW_UPS
        paused = keys.TEAM_PAUSED.format(team) if team else keys.PAUSED
        today = local_date(now, self.tz)
        day_start = start_of_local_day(today, self.tz)
        day_end = end_of_local_day(now, self.tz)
        risk_end = now + self.warning_seconds
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(keys.TEAM_WIP.format(team) if team else keys.WIP)
        pipe.zcount(follow_ups, "-inf", f"({now}")
        pipe.zcount(deadlines, now, f"({risk_end}")
        pipe.zcount(deadlines, "-inf", f"({now}")
        pipe.zcount(deadlines, now, f"({day_end}")
        pipe.hgetall(keys.EVENT_COUNTERS)
        # Paused clocks, by their offset d (see events.clock).
        pipe.zcount(paused, "-inf", f"({paused_breach_limit(now, self.tz)}")
        pipe.zcount(paused, "-inf", f"({paused_deadline_before_limit(now, risk_end, self.tz)}")
        pipe.zcount(paused, "-inf", f"({paused_deadline_before_limit(now, day_end, self.tz)}")
        hours = list(range(int(hour_start(day_start, self.tz)), int(now) + 1, 3600))
        for hour in hours:
            pipe.hgetall(keys.throughput_hour(hour))
        (
            wip_raw,
            overdue,
            at_risk,
            breached,
            due_today,
            counters,
            paused_breached,
            paused_before_risk_end,
            paused_before_day_end,
            *hour_rows,
        ) = pipe.execute()
        wip = stage_counts(wip_raw)
        breached += paused_breached
        at_risk += paused_before_risk_end - paused_breached
        due_today += paused_before_day_end - paused_breached
        suffix = f"|{team}" if team else ""
        entered = dict.fromkeys(STAGES, 0)
        exited = dict.fromkeys(STAGES, 0)
        for row in hour_rows:
            for stage in STAGES:
                entered[stage] += _int(row.get(f"in:{stage}{suffix}".encode()))
                exited[stage] += _int(row.get(f"out:{stage}{suffix}".encode()))
        return Overview(
            as_of=now,
            open_cases=sum(wip.values()),
            wip=wip,
            follow_ups_overdue=int(overdue),
            decision_at_risk=int(at_risk),
            decision_breached=int(breached),
            events={name: _int(counters.get(name.encode())) for name in EVENT_COUNTERS},
            decisions_due_today=int(due_today),
            entered_today=entered,
            exited_today=exited,
        )

    def _paused_due(
        self, team: str | None, now: float, low: float | str, high: float | str
    ) -> list[DueCase]:
        """Paused clocks whose offset d lies in [low, high), with their deadline at ``now``."""
        key = keys.TEAM_PAUSED.format(team) if team else keys.PAUSED
        return [
            DueCase(case_id, end_of_local_day(now + d, self.tz), team)
            for case_id, d in self._scored(key, low, high)
        ]

    # -- lists for alerts and drill-down -----------------------------------------------

    def overdue_follow_ups(
        self, now: float | None = None, team: str | None = None
    ) -> list[DueCase]:
        """Open cases whose latest return visit is past due and not done."""
        now = self.clock() if now is None else now
        key = keys.TEAM_FOLLOW_UPS.format(team) if team else keys.FOLLOW_UPS
        return [DueCase(m, s, team) for m, s in self._scored(key, "-inf", f"({now}")]

    def decisions_at_risk(self, now: float | None = None, team: str | None = None) -> list[DueCase]:
        now = self.clock() if now is None else now
        key = keys.TEAM_DEADLINES.format(team) if team else keys.DEADLINES
        high = f"({now + self.warning_seconds}"
        out = [DueCase(m, s, team) for m, s in self._scored(key, now, high)]
        out += self._paused_due(
            team,
            now,
            paused_breach_limit(now, self.tz),
            f"({paused_deadline_before_limit(now, now + self.warning_seconds, self.tz)}",
        )
        return sorted(out, key=lambda d: (d.due, d.case_id))

    def decisions_breached(
        self, now: float | None = None, team: str | None = None
    ) -> list[DueCase]:
        now = self.clock() if now is None else now
        key = keys.TEAM_DEADLINES.format(team) if team else keys.DEADLINES
        out = [DueCase(m, s, team) for m, s in self._scored(key, "-inf", f"({now}")]
        out += self._paused_due(team, now, "-inf", f"({paused_breach_limit(now, self.tz)}")
        return sorted(out, key=lambda d: (d.due, d.case_id))

    def _scored(self, key: str, low: float | str, high: float | str) -> list[tuple[str, float]]:
        rows: Any = self.client.zrangebyscore(key, low, high, withscores=True)
        return [(_text(member), float(score)) for member, score in rows]

    def case_states(self, case_ids: Iterable[str]) -> dict[str, CaseState]:
        ids = list(case_ids)
        if not ids:
            return {}
        raws = self.client.mget([keys.case(i) for i in ids])
        return {
            cid: decode_state(cid, raw)
            for cid, raw in zip(ids, raws, strict=True)
            if raw is not None
        }

    # -- workload -----------------------------------------------------------------------

    def workload(
        self,
        configured: dict[str, list[tuple[str, int | None]]] | None = None,
        team: str | None = None,
    ) -> list[TeamLoad]:
        """Teams and handlers with an open case or listed in ``configured``
        (team -> [(handler, capacity)]), sorted by id."""
        configured = configured or {}
        capacities = {h: cap for handlers in configured.values() for h, cap in handlers}
        team_ids = set(configured)
        open_by_team = self.client.hgetall(keys.TEAM_OPEN)
        team_ids |= {_text(t) for t, n in open_by_team.items() if _int(n) > 0}
        if team is not None:
            team_ids &= {team}
        ordered = sorted(team_ids)
        pipe = self.client.pipeline(transaction=False)
        for team_id in ordered:
            pipe.hgetall(keys.TEAM_WIP.format(team_id))
            pipe.hgetall(keys.TEAM_HANDLERS.format(team_id))
        rows = pipe.execute()
        loads: list[TeamLoad] = []
        for i, team_id in enumerate(ordered):
            wip = stage_counts(rows[2 * i])
            open_by_handler = {_text(h): _int(n) for h, n in rows[2 * i + 1].items()}
            handler_ids = {h for h, n in open_by_handler.items() if n > 0}
            handler_ids |= {h for h, _ in configured.get(team_id, [])}
            handlers = [
                HandlerLoad(h, max(0, open_by_handler.get(h, 0)), capacities.get(h))
                for h in sorted(handler_ids)
            ]
            open_cases = sum(wip.values())
            if open_cases == 0 and team_id not in configured:
                continue
            loads.append(TeamLoad(team_id, open_cases, wip, handlers))
        return loads

    def handler_pressure(
        self, handler_ids: Iterable[str], now: float | None = None
    ) -> dict[str, dict[str, int]]:
        """Per handler: open, urgent, major, regulator and overdue return visits."""
        now = self.clock() if now is None else now
        ids = list(handler_ids)
        pipe = self.client.pipeline(transaction=False)
        for handler in ids:
            pipe.hgetall(keys.HANDLER_LOAD.format(handler))
            pipe.zcount(keys.HANDLER_FOLLOW_UPS.format(handler), "-inf", f"({now}")
        rows = pipe.execute()
        out: dict[str, dict[str, int]] = {}
        for i, handler in enumerate(ids):
            load = {_text(k): _int(v) for k, v in rows[2 * i].items()}
            out[handler] = {
                "open": max(0, load.get("open", 0)),
                "urgent": max(0, load.get("urgent", 0)),
                "major": max(0, load.get("major", 0)),
                "regulator": max(0, load.get("regulator", 0)),
                "overdue": int(rows[2 * i + 1]),
            }
        return out

    def aging(self, now: float | None = None, team: str | None = None) -> dict[str, int]:
        """Open cases by age since opening: 0-3, 4-7, 8-15 and over 15 days."""
        now = self.clock() if now is None else now
        key = keys.TEAM_OPENED.format(team) if team else keys.OPENED
        d = DAY_SECONDS
        bounds = [
            ("0-3", now - 4 * d, now + d),
            ("4-7", now - 8 * d, now - 4 * d),
            ("8-15", now - 16 * d, now - 8 * d),
        ]
        pipe = self.client.pipeline(transaction=False)
        for _, low, high in bounds:
            pipe.zcount(key, f"({low}", high)
        pipe.zcount(key, "-inf", now - 16 * d)
        counts = pipe.execute()
        return {"0-3": counts[0], "4-7": counts[1], "8-15": counts[2], "15+": counts[3]}

    # -- flow ---------------------------------------------------------------------------

    def throughput(
        self, hours: int, now: float | None = None, team: str | None = None
    ) -> list[ThroughputBucket]:
        """Hourly buckets, oldest first; the last is the current hour."""
        now = self.clock() if now is None else now
        current = hour_start(now, self.tz)
        starts = [current - 3600 * (hours - 1 - i) for i in range(hours)]
        pipe = self.client.pipeline(transaction=False)
        for start in starts:
            pipe.hgetall(keys.throughput_hour(start))
        suffix = f"|{team}" if team else ""
        buckets = []
        for start, row in zip(starts, pipe.execute(), strict=True):
            decoded = {_text(k): _int(v) for k, v in row.items()}
            buckets.append(
                ThroughputBucket(
                    start=start,
                    entered={s: decoded.get(f"in:{s}{suffix}", 0) for s in STAGES},
                    exited={s: decoded.get(f"out:{s}{suffix}", 0) for s in STAGES},
                )
            )
        return buckets

    def stage_time(self) -> dict[str, dict[str, float | dict[str, int]]]:
        """Per stage: total seconds, exits counted and the histogram bins."""
        raw = {_text(k): _int(v) for k, v in self.client.hgetall(keys.STAGE_TIME).items()}
        out: dict[str, dict[str, float | dict[str, int]]] = {}
        for stage in STAGES:
            bins = {k.split(":", 1)[1]: v for k, v in raw.items() if k.startswith(f"{stage}:h")}
            out[stage] = {
                "seconds": raw.get(f"{stage}:sum", 0),
                "count": raw.get(f"{stage}:n", 0),
                "bins": bins,
            }
        return out

    # -- health -------------------------------------------------------------------------

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False

    def is_built(self) -> bool:
        return bool(self.client.exists(keys.META))

    def format_time(self, epoch: float) -> str:
        return format_rfc3339(epoch, self.tz)
