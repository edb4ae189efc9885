"""Regulatory clocks: the decision deadline and its status (pure).

The deadline (case-events-v1.md): clock start + limit (15, 30 or 60 days) +
paused time; the deadline is the end of that day (24:00) in the business
time zone. No holiday roll-forward. A decision at or before the deadline is
on time. While the clock is paused, the paused time keeps growing, so the
deadline is evaluated against a moment (``at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from events.state import CaseState, DecisionClock
from events.timeutil import (
    DAY_SECONDS,
    add_natural_days,
    end_of_local_day,
    local_date,
    start_of_local_day,
)

RUNNING = "running"
PAUSED = "paused"
DECIDED = "decided"
NOT_APPLICABLE = "closed"


def paused_seconds(clock: DecisionClock, at: float) -> float:
    """Total paused time of the clock, counting a current pause up to ``at``."""
    current = max(0.0, at - clock.paused_since) if clock.paused_since is not None else 0.0
    return clock.paused_total + current


def deadline_base(clock: DecisionClock, tz: ZoneInfo) -> float:
    """Clock start + the limit in natural days + the paused time of finished pauses.

    The deadline is the end of the local day of this instant plus any current pause.
    """
    return add_natural_days(clock.start, clock.limit_days, tz) + clock.paused_total


def deadline(clock: DecisionClock, tz: ZoneInfo, at: float | None = None) -> float:
    """The decision deadline in force at ``at`` (for a paused clock), as epoch seconds.

    For a running clock ``at`` does not matter.
    """
    moment = at if at is not None else clock.paused_since or clock.start
    current_pause = paused_seconds(clock, moment) - clock.paused_total
    if current_pause == 0:
        return _fixed_deadline(clock.start, clock.limit_days, clock.paused_total, tz)
    return end_of_local_day(deadline_base(clock, tz) + current_pause, tz)


# Sized for one batch: a case's deadline is evaluated before and after the
# batch, and a few times inside it. Each entry costs about 240 bytes, so a
# cache sized for every open case would hold tens of MiB in every process.
DEADLINE_CACHE_ENTRIES = 16_384


@lru_cache(maxsize=DEADLINE_CACHE_ENTRIES)
def _fixed_deadline(start: float, limit_days: int, paused_total: float, tz: ZoneInfo) -> float:
    """The deadline of a clock that is not paused now (pure, so cached: it is
    evaluated for every case an event touches, before and after)."""
    return end_of_local_day(add_natural_days(start, limit_days, tz) + paused_total, tz)


def running_deadline(clock: DecisionClock, tz: ZoneInfo) -> float | None:
    """The fixed deadline of a running clock, or None when paused or decided."""
    if clock.paused_since is not None or clock.decided_at is not None:
        return None
    return deadline(clock, tz)


@dataclass(frozen=True, slots=True)
class ClockStatus:
    state: str  # running | paused | decided | closed
    deadline: float | None
    remaining_seconds: float | None
    paused_seconds: float
    at_risk: bool
    breached: bool


def clock_status(case: CaseState, tz: ZoneInfo, at: float, warning_days: float) -> ClockStatus:
    """The decision clock of a case as seen at ``at``."""
    clock = case.clock
    paused = paused_seconds(clock, at)
    if not case.is_open:
        return ClockStatus(NOT_APPLICABLE, None, None, paused, False, False)
    if clock.decided_at is not None:
        due = deadline(clock, tz, clock.decided_at)
        return ClockStatus(DECIDED, due, None, paused, False, False)
    due = deadline(clock, tz, at)
    remaining = due - at
    state = PAUSED if clock.paused_since is not None else RUNNING
    breached = remaining < 0
    at_risk = not breached and remaining < warning_days * DAY_SECONDS
    return ClockStatus(state, due, remaining, paused, at_risk, breached)


# -- paused clocks as range queries ------------------------------------------------
#
# While a clock is paused its deadline at a moment t is end_of_day(t + d), with
# d = deadline base - paused_since constant for the whole pause. Whether it is
# breached, at risk or due today at ``now`` therefore depends on d alone being
# below a limit that depends on ``now``: the read model keeps paused clocks in a
# sorted set scored by d and counts them with range queries.


def paused_offset(clock: DecisionClock, tz: ZoneInfo) -> float:
    """d = deadline base - paused_since, for a paused clock."""
    assert clock.paused_since is not None
    return deadline_base(clock, tz) - clock.paused_since


def _first_instant_of(day: date, tz: ZoneInfo) -> float:
    return start_of_local_day(day, tz)


def paused_breach_limit(now: float, tz: ZoneInfo) -> float:
    """A paused clock with offset d is breached at ``now`` exactly when d < this."""
    today = local_date(now, tz)
    midnight = _first_instant_of(today, tz)
    if now > midnight:
        return midnight - now
    return _first_instant_of(today - timedelta(days=1), tz) - now


def paused_deadline_before_limit(now: float, horizon: float, tz: ZoneInfo) -> float:
    """A paused clock with offset d has its deadline before ``horizon`` (seen at
    ``now``) exactly when d < this."""
    day = local_date(horizon, tz)
    midnight = _first_instant_of(day, tz)
    if horizon > midnight:
        return midnight - now
    return _first_instant_of(day - timedelta(days=1), tz) - now
