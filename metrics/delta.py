"""The Redis writes of a batch, aggregated before they are sent (pure).

The live contributions of a case (work in progress, indexes) move by the
difference of its footprint before and after the batch; the flows (stage
entries and exits, time in stage, points, event counters) add up per event.
Aggregating first keeps one command per key and field, whatever the batch
size. The rebuild uses the same class over the whole event log.

A handler's team in a period is the team of their latest award there: the
greatest ``award_stamp`` (occurred_at, then event_id), then the greatest
team id. It does not depend on the order awards are processed in (Kafka's
live, the rebuild's case by case): the delta keeps each handler's latest
award of the batch, and the apply script writes it only over an earlier one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import TypeVar
from zoneinfo import ZoneInfo

from events.batch import BatchResult, RecordResult
from events.machine import Outcome
from events.periods import periods_of_day
from events.projection import Footprint, footprint
from events.scoring import Award
from events.state import CaseState
from events.timeutil import DAY_SECONDS, hour_start, local_date
from metrics import keys
from metrics.codec import encode_state

# Upper bounds (hours) of the time-in-stage histogram bins; the last is open.
STAGE_TIME_BINS_HOURS: tuple[float, ...] = (1, 4, 8, 24, 48, 72, 120, 168, 336)
THROUGHPUT_RETENTION_DAYS = 45

# award_stamp: occurred_at in whole microseconds, this many digits, zero padded
# (the years 1970 to 8999 take 18 at most).
STAMP_DIGITS = 18
_STAMP_LIMIT = 10**STAMP_DIGITS


# Local hours and days start on UTC quarter hours in today's time zones, so
# both are looked up once per quarter hour. A quarter in which they change
# (a historical offset such as local mean time) is computed each time.
QUARTER = 900
T = TypeVar("T")


def _quarter(at: float) -> int | None:
    """The UTC quarter hour of ``at``; None within a microsecond of its edge,
    where datetime's rounding to microseconds may put it in the next one."""
    quarter, into = divmod(at, QUARTER)
    return int(quarter) if 1e-6 < into < QUARTER - 1e-6 else None


def _per_quarter(compute: Callable[[float, ZoneInfo], T]) -> Callable[[float, ZoneInfo], T]:
    """``compute`` looked up once per UTC quarter hour, computed directly where
    it changes within the quarter or ``at`` sits on its edge."""

    @lru_cache(maxsize=8192)
    def of_quarter(quarter: int, tz: ZoneInfo) -> T | None:
        first = compute(quarter * QUARTER, tz)
        return first if compute(quarter * QUARTER + QUARTER - 1, tz) == first else None

    def lookup(at: float, tz: ZoneInfo) -> T:
        quarter = _quarter(at)
        cached = of_quarter(quarter, tz) if quarter is not None else None
        return cached if cached is not None else compute(at, tz)

    return lookup


_hour_start = _per_quarter(hour_start)
_local_day = _per_quarter(local_date)


TeamsKeys = tuple[str, str]
"""A period's handler -> team hash and its handler -> stamp hash."""
LatestTeam = tuple[str, str]
"""(stamp, team) of a handler's latest award in a period."""


def award_stamp(occurred_at: float, event_id: str) -> str:
    """The order of awards that decides a handler's team in a period.

    ``occurred_at`` in whole microseconds with a fixed number of digits, a
    colon, then ``event_id``: comparing two stamps byte by byte (which is how
    Python compares str, by code point, and how the apply script compares
    them) compares occurred_at, then event_id.
    """
    micros = round(occurred_at * 1_000_000)
    if not 0 <= micros < _STAMP_LIMIT:
        raise ValueError(f"occurred_at out of range for an award stamp: {occurred_at!r}")
    return f"{micros:0{STAMP_DIGITS}d}:{event_id}"


def later(candidate: LatestTeam, current: LatestTeam | None) -> bool:
    """True when ``candidate`` replaces ``current`` as the latest (stamp,
    team): a greater stamp, or the same stamp and a greater team id (an
    event id reused across teams, against the contract)."""
    return current is None or candidate > current


@lru_cache(maxsize=1024)
def _award_keys(day: date) -> tuple[tuple[str, str, TeamsKeys], ...]:
    """Per period containing ``day``: its handler board, team board, and
    handler-to-team hash with its stamps."""
    return tuple(
        (
            keys.leaderboard(period.kind, period.key, "handler"),
            keys.leaderboard(period.kind, period.key, "team"),
            (
                keys.leaderboard_teams(period.kind, period.key),
                keys.leaderboard_team_stamps(period.kind, period.key),
            ),
        )
        for period in periods_of_day(day)
    )


@dataclass(frozen=True, slots=True)
class _HandlerKeys:
    team_wip: str
    team_handlers: str
    load: str
    team_deadlines: str
    team_follow_ups: str
    handler_follow_ups: str
    team_opened: str
    team_paused: str


@lru_cache(maxsize=4096)
def _handler_keys(team: str, handler: str) -> _HandlerKeys:
    return _HandlerKeys(
        team_wip=keys.TEAM_WIP.format(team),
        team_handlers=keys.TEAM_HANDLERS.format(team),
        load=keys.HANDLER_LOAD.format(handler),
        team_deadlines=keys.TEAM_DEADLINES.format(team),
        team_follow_ups=keys.TEAM_FOLLOW_UPS.format(team),
        handler_follow_ups=keys.HANDLER_FOLLOW_UPS.format(handler),
        team_opened=keys.TEAM_OPENED.format(team),
        team_paused=keys.TEAM_PAUSED.format(team),
    )


def _contributions(fp: Footprint | None) -> tuple[set[tuple[str, str]], dict[str, float]]:
    """What an open case adds: the counters it adds one to, and its score in
    each due-time index. Nothing for an unknown or closed case."""
    if fp is None:
        return set(), {}
    team, handler = fp.team_id, fp.handler_id
    k = _handler_keys(team, handler)
    counters = {
        (keys.WIP, fp.stage),
        (keys.TEAM_OPEN, team),
        (k.team_wip, fp.stage),
        (k.team_handlers, handler),
        (k.load, "open"),
    }
    if fp.urgent:
        counters.add((k.load, "urgent"))
    if fp.major:
        counters.add((k.load, "major"))
    if fp.regulator:
        counters.add((k.load, "regulator"))
    indexed: dict[str, float] = {keys.OPENED: fp.opened_at, k.team_opened: fp.opened_at}
    if fp.deadline is not None:
        indexed[keys.DEADLINES] = fp.deadline
        indexed[k.team_deadlines] = fp.deadline
    if fp.follow_up_due is not None:
        indexed[keys.FOLLOW_UPS] = fp.follow_up_due
        indexed[k.team_follow_ups] = fp.follow_up_due
        indexed[k.handler_follow_ups] = fp.follow_up_due
    if fp.paused is not None:
        # Scored by d = deadline base - paused_since (events.clock.paused_offset):
        # breached / at risk / due today are then range queries on d.
        base, since = fp.paused
        indexed[keys.PAUSED] = base - since
        indexed[k.team_paused] = base - since
    return counters, indexed


def stage_time_bin(seconds: float) -> str:
    hours = seconds / 3600
    for bound in STAGE_TIME_BINS_HOURS:
        if hours < bound:
            return f"h{bound:g}"
    return "hmax"


@dataclass(slots=True)
class MetricsDelta:
    hincr: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    zincr: dict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    zadd: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    zrem: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    hset: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    hdel: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    expire_at: dict[str, int] = field(default_factory=dict)
    # Per period's (teams hash, stamps hash): handler -> (stamp, team) of the
    # handler's latest award in the delta, written only over an earlier one.
    # Leaderboard keys do not expire; if they ever do, both hashes must.
    teams: dict[TeamsKeys, dict[str, LatestTeam]] = field(default_factory=lambda: defaultdict(dict))
    states: dict[str, bytes] = field(default_factory=dict)
    rpush: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))

    # -- counters --------------------------------------------------------------

    def count_events(self, applied: int, duplicates: int, invalid: int, gaps: int) -> None:
        for name, n in (
            ("applied", applied),
            ("duplicates", duplicates),
            ("invalid", invalid),
            ("gaps", gaps),
        ):
            if n:
                self.hincr[(keys.EVENT_COUNTERS, name)] += n

    # -- flows -------------------------------------------------------------------

    def add_flows(self, result: RecordResult, tz: ZoneInfo, now: float) -> None:
        transition = result.transition
        assert transition is not None and transition.state is not None
        team = (result.before or transition.state).team_id
        for entry in transition.entered:
            self._flow("in", entry.stage, team, entry.at, tz, now)
        for leaving in transition.exited:
            self._flow("out", leaving.stage, team, leaving.at, tz, now)
            stage = leaving.stage
            self.hincr[(keys.STAGE_TIME, f"{stage}:sum")] += round(leaving.seconds_in_stage)
            self.hincr[(keys.STAGE_TIME, f"{stage}:n")] += 1
            self.hincr[
                (keys.STAGE_TIME, f"{stage}:{stage_time_bin(leaving.seconds_in_stage)}")
            ] += 1
        for award in transition.awards:
            self.add_award(award, tz)

    def _flow(
        self, direction: str, stage: str, team: str, at: float, tz: ZoneInfo, now: float
    ) -> None:
        hour = _hour_start(at, tz)
        expires = hour + THROUGHPUT_RETENTION_DAYS * DAY_SECONDS
        if expires <= now:
            return  # older than the retained history
        key = keys.throughput_hour(hour)
        self.hincr[(key, f"{direction}:{stage}")] += 1
        self.hincr[(key, f"{direction}:{stage}|{team}")] += 1
        self.expire_at[key] = expires

    def add_award(self, award: Award, tz: ZoneInfo) -> None:
        latest = (award_stamp(award.occurred_at, award.event_id), award.team_id)
        for handler_board, team_board, teams in _award_keys(_local_day(award.occurred_at, tz)):
            self.zincr[(handler_board, award.handler_id)] += award.points
            self.zincr[(team_board, award.team_id)] += award.points
            self.keep_latest_team(teams, award.handler_id, latest)

    def keep_latest_team(self, teams: TeamsKeys, handler: str, latest: LatestTeam) -> None:
        """Record ``latest`` (stamp, team) for ``handler`` unless the delta
        already holds a later one."""
        handlers = self.teams[teams]
        if later(latest, handlers.get(handler)):
            handlers[handler] = latest

    def merge_teams(self, other: MetricsDelta) -> None:
        """Keep, per handler and period, the latest team of both deltas."""
        for teams, handlers in other.teams.items():
            for handler, latest in handlers.items():
                self.keep_latest_team(teams, handler, latest)

    # -- live contributions ----------------------------------------------------

    def move_case(
        self, case_id: str, before: CaseState | None, after: CaseState | None, tz: ZoneInfo
    ) -> None:
        """Move a case's contributions from its state before to its state after.

        Only the difference is written: a counter both footprints share and an
        index entry whose score did not change cost nothing.
        """
        old = footprint(before, tz)
        new = footprint(after, tz)
        if old != new:
            old_counts, old_indexed = _contributions(old)
            new_counts, new_indexed = _contributions(new)
            hincr = self.hincr
            for counter in old_counts:
                if counter not in new_counts:
                    hincr[counter] -= 1
            for counter in new_counts:
                if counter not in old_counts:
                    hincr[counter] += 1
            for key in old_indexed:
                if key not in new_indexed:
                    self.zrem[key].add(case_id)
            for key, score in new_indexed.items():
                if old_indexed.get(key) != score:
                    self.zadd[key][case_id] = score
        if after is not None and after is not before:
            self.states[keys.case(case_id)] = encode_state(after)

    # -- a whole batch -----------------------------------------------------------

    def add_batch(self, batch: BatchResult, tz: ZoneInfo, now: float) -> None:
        applied = duplicates = invalid = gaps = 0
        for result in batch.results:
            if result.outcome is Outcome.APPLIED:
                applied += 1
                assert result.transition is not None
                if result.transition.gap > 0:
                    gaps += 1
                self.add_flows(result, tz, now)
            elif result.outcome is Outcome.DUPLICATE:
                duplicates += 1
            else:
                invalid += 1
        self.count_events(applied, duplicates, invalid, gaps)
        for case_id in batch.changed_cases:
            self.move_case(case_id, batch.initial.get(case_id), batch.states[case_id], tz)

    def touched_keys(self) -> Iterable[str]:
        seen: set[str] = set()
        for key, _ in self.hincr:
            seen.add(key)
        for key, _ in self.zincr:
            seen.add(key)
        seen.update(self.zadd, self.zrem, self.hset, self.hdel, self.states)
        for teams, handlers in self.teams.items():
            if handlers:
                seen.update(teams)
        return seen
