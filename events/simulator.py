"""A generator of realistic case-event streams for a complaint centre (pure, no I/O).

The simulated centre receives complaints with busy hours (peaks 9–11 and
14–17 local time, little at night) and quieter weekends. Each case walks the
six stages with plausible durations, reassignments, clock pauses, deadline
extensions, a decision, a return visit, escalations, closing and occasional
reopening. A small share of the records are deliberate duplicates (an
already produced event again, as an at-least-once producer does) and invalid
events (every kind the contract names), so the pipeline's error paths see
traffic too.

Everything is deterministic for a given ``SimulationConfig.seed``: the same
configuration and the same calls give the same bytes. Invalid events never
consume a case's ``seq``, so the valid stream of a case is gapless.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import uuid
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import orjson

from events import contract as c
from events.json_bytes import dumps_lasting
from events.timeutil import DAY_SECONDS, format_rfc3339, to_datetime

MINUTE: Final = 60
HOUR: Final = 3600

EventKind = Literal["valid", "duplicate", "invalid"]
VALID: Final = "valid"
DUPLICATE: Final = "duplicate"
INVALID: Final = "invalid"

# Relative arrival intensity per local hour (0–23): peaks 9–11 and 14–17.
HOURLY_ARRIVAL_WEIGHTS: Final[tuple[float, ...]] = (
    0.06, 0.04, 0.03, 0.03, 0.04, 0.06, 0.12, 0.3,
    0.9, 2.0, 2.2, 2.0, 1.0, 1.1, 1.9, 2.0,
    1.9, 1.7, 0.8, 0.5, 0.4, 0.3, 0.18, 0.1,
)  # fmt: skip
# Relative arrival intensity per weekday, Monday first.
WEEKDAY_ARRIVAL_WEIGHTS: Final[tuple[float, ...]] = (1.2, 1.1, 1.05, 1.05, 1.0, 0.45, 0.35)

# Average valid events one case produces over its life (measured on long runs);
# used to turn an event rate into an arrival rate.
MEAN_EVENTS_PER_CASE: Final = 10.7

# Form-invalid kinds (check 1 of the contract fails).
NOT_JSON: Final = "not_json"
MISSING_FIELD: Final = "missing_field"
BAD_ENUM: Final = "bad_enum"
BAD_SCHEMA: Final = "bad_schema"
BAD_TIMESTAMP: Final = "bad_timestamp"
BAD_SEQ: Final = "bad_seq"
UNKNOWN_TYPE: Final = "unknown_type"
BAD_VALUE: Final = "bad_value"
OPENED_TWICE: Final = "opened_twice"
# State-invalid kinds (check 3 of the contract fails).
UNKNOWN_CASE: Final = "unknown_case"
CLOSED_CASE_CHANGED: Final = "closed_case_changed"
REOPEN_OPEN_CASE: Final = "reopen_open_case"
PAUSE_PAUSED_CLOCK: Final = "pause_paused_clock"
RESUME_RUNNING_CLOCK: Final = "resume_running_clock"
SAME_STAGE: Final = "same_stage"

FORM_INVALID_KINDS: Final[tuple[str, ...]] = (
    NOT_JSON,
    MISSING_FIELD,
    BAD_ENUM,
    BAD_SCHEMA,
    BAD_TIMESTAMP,
    BAD_SEQ,
    UNKNOWN_TYPE,
    BAD_VALUE,
    OPENED_TWICE,
)
STATE_INVALID_KINDS: Final[tuple[str, ...]] = (
    UNKNOWN_CASE,
    CLOSED_CASE_CHANGED,
    REOPEN_OPEN_CASE,
    PAUSE_PAUSED_CLOCK,
    RESUME_RUNNING_CLOCK,
    SAME_STAGE,
)
INVALID_KINDS: Final = FORM_INVALID_KINDS + STATE_INVALID_KINDS

_RECENT_EVENTS_KEPT: Final = 400
_RECENTLY_CLOSED_KEPT: Final = 64
_IMMEDIATE_RETRY_SHARE: Final = 0.35


# -- configuration and output --------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """What the simulated complaint centre looks like.

    ``teams``: (team_id, handler ids) pairs, from the teams configuration.
    ``arrivals_per_hour``: new complaints per hour, averaged over a week.
    ``invalid_share`` / ``duplicate_share``: shares of all produced records.
    ``first_case_number``: the number in the first case id (``C2026-000001``).
    """

    teams: Sequence[tuple[str, Sequence[str]]]
    seed: int = 0
    arrivals_per_hour: float = 2.0
    invalid_share: float = 0.005
    duplicate_share: float = 0.01
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    first_case_number: int = 1

    def __post_init__(self) -> None:
        teams = tuple((str(team), tuple(handlers)) for team, handlers in self.teams)
        if not teams:
            raise ValueError("the simulation needs at least one team")
        for team, handlers in teams:
            if not handlers:
                raise ValueError(f"team '{team}' has no handlers")
        object.__setattr__(self, "teams", teams)
        if not self.arrivals_per_hour > 0:
            raise ValueError(f"arrivals_per_hour must be > 0, got {self.arrivals_per_hour}")
        for name in ("invalid_share", "duplicate_share"):
            share = getattr(self, name)
            if not 0 <= share < 0.5:
                raise ValueError(f"{name} must be from 0 to 0.5, got {share}")
        if self.first_case_number < 1:
            raise ValueError(f"first_case_number must be >= 1, got {self.first_case_number}")


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One record to produce.

    ``occurred_at`` is the simulated moment the record is produced; for a
    valid event it is the event's own ``occurred_at``. ``detail`` names the
    event type (valid, duplicate) or the kind of invalidity (invalid).
    """

    case_id: str
    value: bytes
    occurred_at: float
    kind: EventKind
    detail: str = ""


# -- weighted choices ----------------------------------------------------------


class _Weighted:
    """A fixed weighted choice."""

    def __init__(self, table: dict[Any, float]) -> None:
        self.values = list(table)
        self.cum_weights = list(itertools.accumulate(table.values()))

    def pick(self, rng: random.Random) -> Any:
        return rng.choices(self.values, cum_weights=self.cum_weights)[0]


CHANNEL_WEIGHTS: Final = _Weighted(
    {
        "phone": 0.38,
        "online": 0.16,
        "app": 0.17,
        "email": 0.07,
        "letter": 0.05,
        "visit": 0.14,
        "regulator_referral": 0.03,
    }
)
CATEGORY_WEIGHTS: Final = _Weighted(
    {
        "claims": 0.42,
        "sales": 0.16,
        "surrender": 0.1,
        "premium": 0.08,
        "policy_service": 0.17,
        "other": 0.07,
    }
)
_PRODUCT_LINE_BY_CATEGORY: Final = {
    "claims": _Weighted(
        {"auto": 0.5, "health": 0.2, "property": 0.12, "accident": 0.1, "life": 0.05, "other": 0.03}
    ),
    "sales": _Weighted(
        {
            "life": 0.45,
            "health": 0.25,
            "accident": 0.1,
            "auto": 0.1,
            "property": 0.05,
            "other": 0.05,
        }
    ),
    "surrender": _Weighted({"life": 0.8, "health": 0.15, "other": 0.05}),
    "premium": _Weighted(
        {"auto": 0.45, "life": 0.2, "health": 0.2, "property": 0.1, "other": 0.05}
    ),
    "policy_service": _Weighted(
        {
            "auto": 0.35,
            "life": 0.25,
            "health": 0.2,
            "property": 0.1,
            "accident": 0.05,
            "other": 0.05,
        }
    ),
    "other": _Weighted(
        {"auto": 0.3, "life": 0.2, "health": 0.2, "property": 0.1, "accident": 0.1, "other": 0.1}
    ),
}
PRIORITY_WEIGHTS: Final = _Weighted({"normal": 0.885, "urgent": 0.1, "major": 0.015})
GENDER_WEIGHTS: Final = _Weighted({"f": 0.48, "m": 0.48, "u": 0.04})
AGE_BAND_WEIGHTS: Final = _Weighted({"<30": 0.18, "30-44": 0.38, "45-59": 0.3, "60+": 0.14})
OCCUPATIONS: Final = ("教师", "个体经营", "退休", "公司职员", "司机", "务农", "医护人员", "学生")
OUTCOME_WEIGHTS: Final = _Weighted({"upheld": 0.35, "partially_upheld": 0.35, "rejected": 0.3})
PAUSE_REASON_WEIGHTS: Final = _Weighted({"external_appraisal": 0.65, "mediation": 0.35})
ESCALATION_WEIGHTS: Final = _Weighted(
    {"senior_management": 0.5, "internal_review": 0.38, "regulator": 0.12}
)
# Chance the complainant escalates after hearing the decision, by outcome.
ESCALATION_CHANCE: Final = {"upheld": 0.02, "partially_upheld": 0.06, "rejected": 0.12}
CLOSE_RESOLUTION_WEIGHTS: Final = _Weighted(
    {"resolved": 0.85, "unresolved": 0.1, "withdrawn": 0.04, "merged": 0.01}
)
SATISFACTION_BY_OUTCOME: Final = {
    "upheld": _Weighted({5: 0.45, 4: 0.35, 3: 0.12, 2: 0.05, 1: 0.03}),
    "partially_upheld": _Weighted({5: 0.15, 4: 0.35, 3: 0.3, 2: 0.12, 1: 0.08}),
    "rejected": _Weighted({5: 0.03, 4: 0.1, 3: 0.27, 2: 0.3, 1: 0.3}),
}
NEW_FACTS_WEIGHTS: Final = _Weighted({True: 0.5, False: 0.3, None: 0.2})
# Channels where the complaint is received some time before it is registered.
_DELAYED_CHANNELS: Final = frozenset({"letter", "email", "regulator_referral"})
# Team id fragments that suggest which complaints a team handles, by category;
# the product line itself (``health``, ``auto``...) is a hint too.
_TEAM_HINTS: Final = {
    "claims": ("claim",),
    "sales": ("sales",),
    "surrender": ("service", "policy", "sales"),
    "premium": ("service", "policy", "sales"),
    "policy_service": ("service", "policy"),
}
# A team takes the case only while its open cases per handler stay below
# SPILL_FACTOR × (the least loaded team's) + SPILL_MARGIN; else that team does.
SPILL_FACTOR: Final = 1.25
SPILL_MARGIN: Final = 2.0


# -- the state of one simulated case ----------------------------------------------


@dataclass(slots=True)
class _Step:
    """A valid event a case's script wants to happen (seq assigned on emission)."""

    at: int
    type: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Case:
    """A simulated case: its profile and a mirror of what its events did."""

    case_id: str
    rng: random.Random
    opened_at: int
    team_id: str
    handler_id: str
    channel: str
    category: str
    script: Iterator[_Step] | None = None
    last_seq: int = 0
    is_open: bool = False
    stage: str = "intake"
    paused: bool = False
    reopen_count: int = 0


# -- time helpers ----------------------------------------------------------------


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def _arrival_normaliser() -> float:
    mean_hour = sum(HOURLY_ARRIVAL_WEIGHTS) / len(HOURLY_ARRIVAL_WEIGHTS)
    mean_day = sum(WEEKDAY_ARRIVAL_WEIGHTS) / len(WEEKDAY_ARRIVAL_WEIGHTS)
    return mean_hour * mean_day


class _Calendar:
    """Working hours in the business zone: office work happens 08:30–18:30 on weekdays."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    def _at(self, day: Any, hour: int, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.tz)

    def working(self, t: float, rng: random.Random) -> int:
        """Move ``t`` forward into working time, most of the time (people do work late)."""
        local = to_datetime(t, self.tz)
        hour = local.hour + local.minute / 60
        if (hour >= 18.5 or hour < 8) and rng.random() < 0.9:
            day = local.date() if hour < 8 else local.date() + timedelta(days=1)
            local = self._at(day, 8, 30) + timedelta(seconds=rng.uniform(0, 2.5 * HOUR))
        if local.weekday() >= 5 and rng.random() < 0.75:
            monday = local.date() + timedelta(days=7 - local.weekday())
            local = self._at(monday, 8, 30) + timedelta(seconds=rng.uniform(0, 3 * HOUR))
        return max(math.ceil(t), int(local.timestamp()))

    def end_of_workday(self, t: float, days_later: int) -> int:
        day = to_datetime(t, self.tz).date() + timedelta(days=days_later)
        return int(self._at(day, 18, 0).timestamp())

    def intensity(self, t: float) -> float:
        local = to_datetime(t, self.tz)
        return HOURLY_ARRIVAL_WEIGHTS[local.hour] * WEEKDAY_ARRIVAL_WEIGHTS[local.weekday()]


# -- the life of a case ---------------------------------------------------------------


@dataclass(slots=True)
class _CycleEnd:
    at: int
    outcome: str | None
    withdrawn: bool


class _Lifecycle:
    """Writes the script of a case: the valid events it will produce, in time order.

    The script is a generator resumed after each of its events is emitted, so it
    reads the case mirror (stage, handler) as the pipeline will see it.
    """

    def __init__(self, config: SimulationConfig, handler_load: dict[str, int]) -> None:
        self.config = config
        self.calendar = _Calendar(config.tz)
        self.handler_load = handler_load
        self.teams: tuple[tuple[str, tuple[str, ...]], ...] = tuple(
            (team, tuple(handlers)) for team, handlers in config.teams
        )

    # -- assignment --------------------------------------------------------------

    def route(self, category: str, product_line: str, rng: random.Random) -> tuple[str, str]:
        """A team for the complaint and the less busy of two of its handlers.

        Teams whose id hints at the category or product line are preferred,
        unless they are much busier than the least busy team.
        """
        hints = (*_TEAM_HINTS.get(category, ()), product_line)
        candidates = [t for t in self.teams if any(h in t[0] for h in hints)] or list(self.teams)
        team = rng.choices(candidates, weights=[len(h) for _, h in candidates])[0]
        least = min(self.teams, key=self._load_per_handler)
        if (
            self._load_per_handler(team)
            > SPILL_FACTOR * self._load_per_handler(least) + SPILL_MARGIN
        ):
            team = least
        return team[0], self._pick_handler(team[1], rng)

    def _load_per_handler(self, team: tuple[str, tuple[str, ...]]) -> float:
        return sum(self.handler_load.get(h, 0) for h in team[1]) / len(team[1])

    def _pick_handler(self, handlers: Sequence[str], rng: random.Random) -> str:
        first, second = rng.choice(handlers), rng.choice(handlers)
        return min((first, second), key=lambda h: self.handler_load.get(h, 0))

    def reassignment(self, case: _Case, rng: random.Random) -> dict[str, Any]:
        """Another handler, in the same team most of the time."""
        team = next((t for t in self.teams if t[0] == case.team_id), self.teams[0])
        colleagues = [h for h in team[1] if h != case.handler_id]
        if colleagues and (rng.random() < 0.85 or len(self.teams) == 1):
            return {"team_id": team[0], "handler_id": self._pick_handler(colleagues, rng)}
        others = [t for t in self.teams if t[0] != case.team_id] or list(self.teams)
        team_id, handlers = rng.choice(others)
        return {"team_id": team_id, "handler_id": self._pick_handler(handlers, rng)}

    # -- timing ------------------------------------------------------------------

    def later(self, t: int, rng: random.Random, seconds: float) -> int:
        return self.calendar.working(t + max(MINUTE, seconds), rng)

    # -- the script ----------------------------------------------------------------

    def script(self, case: _Case, received_at: int, opening: dict[str, Any]) -> Iterator[_Step]:
        rng = case.rng
        t = case.opened_at
        yield _Step(t, c.OPENED, opening)
        if rng.random() < 0.015:  # merged into an earlier complaint of the same person
            t = self.later(t, rng, _lognormal(rng, 4 * HOUR, 0.8))
            yield _Step(t, c.CLOSED, {"resolution": "merged"})
            return
        clock_start = received_at
        t = self.later(t, rng, _lognormal(rng, 3 * HOUR, 0.9))
        yield _Step(t, c.STAGE_CHANGED, {"to_stage": "investigation"})
        while True:
            end = yield from self.decision_cycle(case, t, clock_start)
            if end.withdrawn:
                return
            t, resolution = yield from self.after_decision(case, end.at, end.outcome)
            reopen_chance = 0.2 if resolution == "unresolved" else 0.035
            if case.reopen_count >= 2 or rng.random() >= reopen_chance / (1 + case.reopen_count):
                return
            t = self.later(t, rng, rng.uniform(3, 25) * DAY_SECONDS)
            new_facts = NEW_FACTS_WEIGHTS.pick(rng)
            yield _Step(t, c.REOPENED, {} if new_facts is None else {"new_facts": new_facts})
            if new_facts:
                clock_start = t

    def decision_cycle(
        self, case: _Case, t: int, clock_start: int
    ) -> Generator[_Step, None, _CycleEnd]:
        """From investigation to the decision (or a withdrawal on the way)."""
        rng = case.rng
        counted = max(0.5, _lognormal(rng, 6.0 if case.reopen_count == 0 else 4.0, 0.65))
        decision_at = clock_start + counted * DAY_SECONDS
        if decision_at < t + 4 * HOUR:  # reopened without new facts: the old clock runs on
            decision_at = t + _lognormal(rng, 3 * DAY_SECONDS, 0.5)
        planned: list[tuple[float, _Step]] = []

        pause: tuple[float, float, str] | None = None
        if rng.random() < 0.09:
            length = _lognormal(rng, 5 * DAY_SECONDS, 0.5)
            start = t + (decision_at - t) * rng.uniform(0.1, 0.4)
            pause = (start, start + length, PAUSE_REASON_WEIGHTS.pick(rng))
            decision_at += length
        span = decision_at - t
        resolution_at = t + span * rng.uniform(0.55, 0.75)
        planned.append((resolution_at, _Step(0, c.STAGE_CHANGED, {"to_stage": "resolution"})))
        if rng.random() < 0.07:  # rework: back to investigation, then resolution again
            back = resolution_at + (decision_at - resolution_at) * rng.uniform(0.15, 0.35)
            again = back + (decision_at - back) * rng.uniform(0.4, 0.6)
            planned.append((back, _Step(0, c.STAGE_CHANGED, {"to_stage": "investigation"})))
            planned.append((again, _Step(0, c.STAGE_CHANGED, {"to_stage": "resolution"})))

        withdrawn_at: float | None = None
        if pause is not None:
            start, end, reason = pause
            planned.append((start, _Step(0, c.CLOCK_PAUSED, {"reason": reason})))
            if reason == "mediation" and rng.random() < 0.25:
                withdrawn_at = end  # the mediation ends with the complaint withdrawn
            else:
                planned.append((end, _Step(0, c.CLOCK_RESUMED)))
        if withdrawn_at is None and rng.random() < 0.025:
            withdrawn_at = t + span * rng.uniform(0.2, 0.8)
        if rng.random() < 0.1:
            at = t + span * rng.uniform(0.05, 0.7)
            planned.append((at, _Step(0, c.ASSIGNED, self.reassignment(case, rng))))
        if rng.random() < 0.015:
            at = t + span * rng.uniform(0.1, 0.9)
            planned.append((at, _Step(0, c.ESCALATED, {"to": self.escalation_target(case, rng)})))
        planned.extend(self.extensions(case, t, clock_start, counted, pause, decision_at))

        planned.sort(key=lambda item: item[0])
        if withdrawn_at is not None:
            planned = [item for item in planned if item[0] < withdrawn_at]
            planned.append((withdrawn_at, _Step(0, c.CLOSED, {"resolution": "withdrawn"})))
        else:
            outcome = OUTCOME_WEIGHTS.pick(rng)
            fields = {"outcome": outcome} if rng.random() < 0.95 else {}
            planned.append((decision_at, _Step(0, c.DECISION_MADE, fields)))
        for at, step in planned:
            t = self.calendar.working(max(at, t), rng)
            step.at = t
            yield step
        if withdrawn_at is not None:
            return _CycleEnd(t, None, withdrawn=True)
        return _CycleEnd(t, outcome, withdrawn=False)

    def extensions(
        self,
        case: _Case,
        t: int,
        clock_start: int,
        counted_days: float,
        pause: tuple[float, float, str] | None,
        decision_at: float,
    ) -> list[tuple[float, _Step]]:
        """Deadline extensions for complex cases, filed before the limit runs out."""
        rng = case.rng
        paused = pause[1] - pause[0] if pause is not None else 0.0
        steps: list[tuple[float, _Step]] = []
        for tier, needed, window, chance in ((1, 12, (8, 12), 0.55), (2, 27, (22, 27), 0.6)):
            complex_case = counted_days > needed or (tier == 1 and rng.random() < 0.03)
            if not complex_case or rng.random() >= chance:
                continue
            at = clock_start + rng.uniform(*window) * DAY_SECONDS
            if pause is not None and at > pause[0]:
                at += paused
            if not t < at < decision_at:
                continue
            fields: dict[str, Any] = {"tier": tier}
            if tier == 2:
                fields["approved_by"] = f"{case.team_id}-manager"[: c.MAX_ID_LENGTH]
            steps.append((at, _Step(0, c.DEADLINE_EXTENDED, fields)))
        return steps

    def escalation_target(self, case: _Case, rng: random.Random) -> str:
        if case.channel == "regulator_referral" and rng.random() < 0.5:
            return "regulator"
        return str(ESCALATION_WEIGHTS.pick(rng))

    def after_decision(
        self, case: _Case, t: int, outcome: str | None
    ) -> Generator[_Step, None, tuple[int, str]]:
        """Feedback, the return visit, the review and the closing."""
        rng = case.rng
        outcome_key = outcome or "partially_upheld"
        t = self.later(t, rng, rng.uniform(5 * MINUTE, 3 * HOUR))
        yield _Step(t, c.STAGE_CHANGED, {"to_stage": "feedback"})
        t = self.later(t, rng, rng.uniform(10 * MINUTE, 4 * HOUR))
        due = self.calendar.end_of_workday(t, rng.randint(3, 7))
        yield _Step(t, c.FOLLOW_UP_SCHEDULED, {"due_at": format_rfc3339(due, self.config.tz)})
        if rng.random() < ESCALATION_CHANCE[outcome_key]:
            t = self.later(t, rng, _lognormal(rng, 12 * HOUR, 0.8))
            yield _Step(t, c.ESCALATED, {"to": self.escalation_target(case, rng)})
        if rng.random() < 0.04:  # the complainant disputes the plan: back to resolution
            t = self.later(t, rng, _lognormal(rng, 8 * HOUR, 0.6))
            yield _Step(t, c.STAGE_CHANGED, {"to_stage": "resolution"})
            t = self.later(t, rng, _lognormal(rng, 1.5 * DAY_SECONDS, 0.5))
            yield _Step(t, c.STAGE_CHANGED, {"to_stage": "feedback"})
        t = self.later(t, rng, _lognormal(rng, 20 * HOUR, 0.6))
        yield _Step(t, c.STAGE_CHANGED, {"to_stage": "follow_up"})

        satisfaction_given = False
        visit = rng.random()
        if visit < 0.9:
            if visit < 0.8:
                at = t + max(0.0, due - t) * rng.uniform(0.1, 0.8)
            else:
                at = due + _lognormal(rng, 30 * HOUR, 0.6)
            t = self.calendar.working(max(at, t + MINUTE), rng)
            fields: dict[str, Any] = {}
            if rng.random() < 0.85:
                fields["satisfaction"] = SATISFACTION_BY_OUTCOME[outcome_key].pick(rng)
                satisfaction_given = True
            yield _Step(t, c.FOLLOW_UP_DONE, fields)
            t = self.later(t, rng, _lognormal(rng, 8 * HOUR, 0.7))
        else:  # the return visit never happens; the case moves on when it is long overdue
            t = self.calendar.working(max(due, t) + rng.uniform(1, 6) * DAY_SECONDS, rng)
        yield _Step(t, c.STAGE_CHANGED, {"to_stage": "review"})

        t = self.later(t, rng, _lognormal(rng, 18 * HOUR, 0.6))
        resolution = str(CLOSE_RESOLUTION_WEIGHTS.pick(rng))
        closing: dict[str, Any] = {"resolution": resolution}
        if not satisfaction_given and rng.random() < 0.25:
            closing["satisfaction"] = SATISFACTION_BY_OUTCOME[outcome_key].pick(rng)
        yield _Step(t, c.CLOSED, closing)
        return t, resolution

    # -- the opening event ------------------------------------------------------------

    def opening_fields(self, case: _Case, product_line: str, received_at: int) -> dict[str, Any]:
        rng = case.rng
        fields: dict[str, Any] = {
            "team_id": case.team_id,
            "handler_id": case.handler_id,
            "channel": case.channel,
            "category": case.category,
            "product_line": product_line,
        }
        priority = PRIORITY_WEIGHTS.pick(rng)
        group = rng.random()
        group_size: int | None = None
        if group < 0.012:
            group_size = rng.randint(20, 120)
            if rng.random() < 0.6:
                priority = "major"
        elif group < 0.07:
            group_size = rng.randint(2, 8)
        if priority != "normal" or rng.random() < 0.7:
            fields["priority"] = priority
        if received_at != case.opened_at:
            fields["received_at"] = format_rfc3339(received_at, self.config.tz)
        complainant = self.complainant(rng)
        if complainant is not None:
            fields["complainant"] = complainant
        if group_size is not None:
            fields["group_size"] = group_size
        return fields

    @staticmethod
    def complainant(rng: random.Random) -> dict[str, Any] | None:
        """The complainant profile (投诉人画像), absent or partial at times."""
        if rng.random() >= 0.82:
            return None
        profile: dict[str, Any] = {}
        if rng.random() < 0.9:
            profile["gender"] = GENDER_WEIGHTS.pick(rng)
        if rng.random() < 0.85:
            profile["age_band"] = AGE_BAND_WEIGHTS.pick(rng)
        if rng.random() < 0.35:
            profile["occupation"] = rng.choice(OCCUPATIONS)
        if rng.random() < 0.7:
            profile["repeat"] = rng.random() < 0.14
        return profile


# -- the simulator ---------------------------------------------------------------------


class Simulator:
    """Produces the records of a simulated complaint centre in time order.

    Call ``backfill`` once to get the history up to a moment, then ``live`` to
    keep going; or ``live`` alone to start with an empty centre.
    """

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        # Duplicates and invalid events draw from their own generator, so the
        # valid stream does not depend on their shares.
        self._noise_rng = random.Random(f"{config.seed}/noise")
        self._handler_load: dict[str, int] = {}
        self._lifecycle = _Lifecycle(config, self._handler_load)
        self._heap: list[tuple[int, int, _Case, _Step]] = []
        self._order = itertools.count()
        self._cursor: float | None = None
        self._next_arrival = math.inf
        self._case_number = config.first_case_number
        self._unknown_number = 0
        self._recent: deque[tuple[str, bytes, str]] = deque(maxlen=_RECENT_EVENTS_KEPT)
        self._recently_closed: deque[_Case] = deque(maxlen=_RECENTLY_CLOSED_KEPT)
        self._paused: dict[str, _Case] = {}
        self._tracked: dict[str, _Case] = {}
        self.cases_opened = 0
        rest = 1.0 - config.invalid_share - config.duplicate_share
        self._invalid_chance = config.invalid_share / rest
        self._duplicate_chance = config.duplicate_share / rest
        self._peak = max(HOURLY_ARRIVAL_WEIGHTS) * max(WEEKDAY_ARRIVAL_WEIGHTS)
        self._hourly_rate = config.arrivals_per_hour / _arrival_normaliser()

    # -- public API ---------------------------------------------------------------

    @property
    def clock(self) -> float | None:
        """The simulated moment up to which events were produced (None before the start)."""
        return self._cursor

    @property
    def tracked_cases(self) -> int:
        """Cases held in memory: those with events still to come."""
        return len(self._tracked)

    def backfill(self, days: float, now: float) -> Iterator[SimEvent]:
        """The history of the ``days`` before ``now``, starting from an empty centre."""
        if self._cursor is not None:
            raise RuntimeError("backfill must come before any other call")
        self._begin(now - days * DAY_SECONDS)
        return self._advance(now)

    def live(self, now: float, until: float) -> Iterator[SimEvent]:
        """The records after the last produced one, up to ``until`` (inclusive).

        ``now`` is where a simulator that has not run yet starts.
        """
        if self._cursor is None:
            self._begin(now)
        return self._advance(until)

    # -- the event loop -------------------------------------------------------------

    def _begin(self, start: float) -> None:
        self._cursor = start
        self._next_arrival = self._draw_arrival(start)

    def _draw_arrival(self, after: float) -> float:
        """The next arrival of a non-homogeneous Poisson process (by thinning)."""
        peak_rate = self._hourly_rate * self._peak / HOUR
        t = after
        while True:
            t += self._rng.expovariate(peak_rate)
            if self._rng.random() * self._peak <= self._lifecycle.calendar.intensity(t):
                return t

    def _advance(self, until: float) -> Iterator[SimEvent]:
        while True:
            next_step = self._heap[0][0] if self._heap else math.inf
            if self._next_arrival <= next_step:
                if self._next_arrival > until:
                    break
                self._open_case(math.ceil(self._next_arrival))
                self._next_arrival = self._draw_arrival(self._next_arrival)
                continue
            if next_step > until:
                break
            at, _, case, step = heapq.heappop(self._heap)
            yield from self._emit(case, step)
            following = next(case.script, None) if case.script is not None else None
            if following is None:
                del self._tracked[case.case_id]
            else:
                following.at = max(following.at, at)
                heapq.heappush(self._heap, (following.at, next(self._order), case, following))
        self._cursor = until

    def _open_case(self, at: int) -> None:
        year = to_datetime(at, self.config.tz).year
        case_id = f"C{year}-{self._case_number:06d}"
        self._case_number += 1
        self.cases_opened += 1
        rng = random.Random(self._rng.getrandbits(64))
        channel = CHANNEL_WEIGHTS.pick(rng)
        category = CATEGORY_WEIGHTS.pick(rng)
        product_line = _PRODUCT_LINE_BY_CATEGORY[category].pick(rng)
        team_id, handler_id = self._lifecycle.route(category, product_line, rng)
        case = _Case(case_id, rng, at, team_id, handler_id, channel, category)
        received_at = at
        if channel in _DELAYED_CHANNELS:
            received_at = at - int(max(10 * MINUTE, _lognormal(rng, 16 * HOUR, 0.8)))
        opening = self._lifecycle.opening_fields(case, product_line, received_at)
        case.script = self._lifecycle.script(case, received_at, opening)
        first = next(case.script)
        self._tracked[case_id] = case
        heapq.heappush(self._heap, (first.at, next(self._order), case, first))

    def _emit(self, case: _Case, step: _Step) -> Iterator[SimEvent]:
        seq = case.last_seq + 1
        payload = self._payload(case, seq, step.type, step.at, self._event_id(self._rng))
        if step.type != c.OPENED and case.rng.random() < 0.85:
            payload["actor"] = case.handler_id
        payload.update(step.fields)
        value = dumps_lasting(payload)  # kept in lists and in _recent
        self._mirror(case, seq, step)
        yield SimEvent(case.case_id, value, float(step.at), VALID, step.type)
        self._recent.append((case.case_id, value, step.type))
        if self._noise_rng.random() < self._invalid_chance:
            yield self._invalid(case, step.at)
        if self._noise_rng.random() < self._duplicate_chance:
            yield self._duplicate(step.at)

    def _mirror(self, case: _Case, seq: int, step: _Step) -> None:
        """What the event does to the case, as the state machine will see it."""
        case.last_seq = seq
        load = self._handler_load
        etype = step.type
        if etype == c.OPENED:
            case.is_open = True
            load[case.handler_id] = load.get(case.handler_id, 0) + 1
        elif etype == c.ASSIGNED:
            load[case.handler_id] -= 1
            case.team_id = step.fields["team_id"]
            case.handler_id = step.fields["handler_id"]
            load[case.handler_id] = load.get(case.handler_id, 0) + 1
        elif etype == c.STAGE_CHANGED:
            case.stage = step.fields["to_stage"]
        elif etype == c.CLOCK_PAUSED:
            case.paused = True
            self._paused[case.case_id] = case
        elif etype in (c.CLOCK_RESUMED, c.DECISION_MADE):
            case.paused = False
            self._paused.pop(case.case_id, None)
        elif etype == c.CLOSED:
            case.is_open = False
            case.paused = False
            self._paused.pop(case.case_id, None)
            load[case.handler_id] -= 1
            self._recently_closed.append(case)
        elif etype == c.REOPENED:
            case.is_open = True
            case.stage = "investigation"
            case.reopen_count += 1
            load[case.handler_id] = load.get(case.handler_id, 0) + 1

    # -- payloads --------------------------------------------------------------------

    @staticmethod
    def _event_id(rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def _payload(
        self, case: _Case | None, seq: int, etype: str, at: float, event_id: str, case_id: str = ""
    ) -> dict[str, Any]:
        return {
            "schema": c.SCHEMA,
            "event_id": event_id,
            "case_id": case.case_id if case is not None else case_id,
            "seq": seq,
            "type": etype,
            "occurred_at": format_rfc3339(at, self.config.tz),
        }

    # -- duplicates and invalid events --------------------------------------------------

    def _duplicate(self, at: int) -> SimEvent:
        """An event produced before, again: right away (a retry) or later."""
        if self._noise_rng.random() < _IMMEDIATE_RETRY_SHARE:
            case_id, value, etype = self._recent[-1]
        else:
            case_id, value, etype = self._noise_rng.choice(self._recent)
        return SimEvent(case_id, value, float(at), DUPLICATE, etype)

    def _invalid(self, case: _Case, at: int) -> SimEvent:
        rng = self._noise_rng
        if rng.random() < 0.5:
            kind = rng.choice(FORM_INVALID_KINDS)
            target = case
            value = self._form_invalid(kind, target, at)
            return SimEvent(target.case_id, value, float(at), INVALID, kind)
        kinds = [UNKNOWN_CASE, REOPEN_OPEN_CASE, RESUME_RUNNING_CLOCK, SAME_STAGE]
        closed = [old for old in self._recently_closed if not old.is_open]
        if closed:
            kinds.append(CLOSED_CASE_CHANGED)
        if self._paused:
            kinds.append(PAUSE_PAUSED_CLOCK)
        kind = rng.choice(kinds)
        case_id, payload = self._state_invalid(kind, case, closed, at)
        return SimEvent(case_id, dumps_lasting(payload), float(at), INVALID, kind)

    def _next_payload(self, case: _Case, etype: str, at: float) -> dict[str, Any]:
        """An event for the case with its next seq (never consumed by an invalid event)."""
        return self._payload(case, case.last_seq + 1, etype, at, self._event_id(self._noise_rng))

    def _form_invalid(self, kind: str, case: _Case, at: int) -> bytes:
        rng = self._noise_rng
        payload = self._next_payload(case, c.STAGE_CHANGED, at)
        payload["to_stage"] = rng.choice(c.STAGES)
        if kind == NOT_JSON:
            text = orjson.dumps(payload)
            return text[: rng.randint(1, len(text) - 1)]
        if kind == MISSING_FIELD:
            del payload[
                rng.choice(
                    ["schema", "event_id", "case_id", "seq", "type", "occurred_at", "to_stage"]
                )
            ]
        elif kind == BAD_ENUM:
            name, value = rng.choice(
                [
                    ("to_stage", "closed"),
                    ("to_stage", "回访"),
                    ("to", "media"),
                    ("reason", "holiday"),
                ]
            )
            payload["type"] = {"to": c.ESCALATED, "reason": c.CLOCK_PAUSED}.get(
                name, c.STAGE_CHANGED
            )
            payload[name] = value
        elif kind == BAD_SCHEMA:
            payload["schema"] = rng.choice(["case-event/v2", "case-event", "CASE-EVENT/V1"])
        elif kind == BAD_TIMESTAMP:
            local = to_datetime(at, self.config.tz)
            payload["occurred_at"] = rng.choice(
                [
                    local.replace(tzinfo=None).isoformat(timespec="seconds"),
                    local.strftime("%Y/%m/%d %H:%M:%S"),
                ]
            )
        elif kind == BAD_SEQ:
            payload["seq"] = rng.choice([0, -1, str(case.last_seq + 1), case.last_seq + 0.5])
        elif kind == UNKNOWN_TYPE:
            payload["type"] = rng.choice(["case.updated", "case.deleted", "opened"])
        elif kind == BAD_VALUE:
            payload.pop("to_stage")
            payload.update(
                rng.choice(
                    [
                        {"type": c.FOLLOW_UP_DONE, "satisfaction": rng.choice([0, 6, "5"])},
                        {"type": c.DEADLINE_EXTENDED, "tier": rng.choice([3, 0, "1"])},
                        {"type": c.DEADLINE_EXTENDED, "tier": 2},  # tier 2 needs approved_by
                        {"type": c.FOLLOW_UP_SCHEDULED, "due_at": "next Monday"},
                        {"type": c.REOPENED, "new_facts": "yes"},
                    ]
                )
            )
        elif kind == OPENED_TWICE:  # a second case.opened: its seq cannot be 1
            payload.pop("to_stage")
            payload["type"] = c.OPENED
            payload.update(
                team_id=case.team_id,
                handler_id=case.handler_id,
                channel=case.channel,
                category=case.category,
                product_line="other",
            )
        return dumps_lasting(payload)

    def _state_invalid(
        self, kind: str, case: _Case, closed: list[_Case], at: int
    ) -> tuple[str, dict[str, Any]]:
        rng = self._noise_rng
        if kind == UNKNOWN_CASE:
            self._unknown_number += 1
            year = to_datetime(at, self.config.tz).year
            case_id = f"C{year}-U{self._unknown_number:05d}"
            etype = rng.choice([c.STAGE_CHANGED, c.ASSIGNED, c.CLOSED])
            payload = self._payload(
                None, rng.randint(2, 9), etype, at, self._event_id(rng), case_id
            )
            payload.update(
                {
                    c.STAGE_CHANGED: {"to_stage": "resolution"},
                    c.ASSIGNED: {"team_id": case.team_id, "handler_id": case.handler_id},
                    c.CLOSED: {"resolution": "resolved"},
                }[etype]
            )
            return case_id, payload
        if kind == CLOSED_CASE_CHANGED:
            target = rng.choice(closed)
            payload = self._next_payload(target, c.STAGE_CHANGED, at)
            payload["to_stage"] = rng.choice([s for s in c.STAGES if s != target.stage])
            return target.case_id, payload
        if kind == PAUSE_PAUSED_CLOCK:
            target = rng.choice(list(self._paused.values()))
            payload = self._next_payload(target, c.CLOCK_PAUSED, at)
            payload["reason"] = rng.choice(sorted(c.PAUSE_REASONS))
            return target.case_id, payload
        # The remaining kinds need an open case with a running clock.
        running = case if case.is_open and not case.paused else self._open_running_case()
        if running is None:
            return self._state_invalid(UNKNOWN_CASE, case, closed, at)
        target = running
        if kind == REOPEN_OPEN_CASE:
            payload = self._next_payload(target, c.REOPENED, at)
            payload["new_facts"] = rng.random() < 0.5
        elif kind == RESUME_RUNNING_CLOCK:
            payload = self._next_payload(target, c.CLOCK_RESUMED, at)
        else:
            payload = self._next_payload(target, c.STAGE_CHANGED, at)
            payload["to_stage"] = target.stage
        return target.case_id, payload

    def _open_running_case(self) -> _Case | None:
        """A case that is open with a running clock (the just emitted one may not be)."""
        for _, _, case, _ in self._heap:
            if case.is_open and not case.paused:
                return case
        return None


def simulate_to_list(config: SimulationConfig, days: float, now: float) -> list[SimEvent]:
    """All records of a backfill of ``days`` up to ``now`` (for tests and tools)."""
    return list(Simulator(config).backfill(days, now))
