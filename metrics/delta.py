"""The Redis writes of a batch, aggregated before they are sent (pure).

The live contributions of a case (work in progress, indexes) move by the
difference of its footprint before and after the batch; the flows (stage
entries and exits, time in stage, points, event counters) add up per event.
Aggregating first keeps one command per key and field, whatever the batch
size. The rebuild uses the same class over the whole event log.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from events.batch import BatchResult, RecordResult
from events.machine import Outcome
from events.periods import periods_at
from events.projection import Footprint, footprint
from events.scoring import Award
from events.state import CaseState
from events.timeutil import DAY_SECONDS, hour_start
from metrics import keys
from metrics.codec import encode_state

# Upper bounds (hours) of the time-in-stage histogram bins; the last is open.
STAGE_TIME_BINS_HOURS: tuple[float, ...] = (1, 4, 8, 24, 48, 72, 120, 168, 336)
THROUGHPUT_RETENTION_DAYS = 45


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
        hour = hour_start(at, tz)
        expires = hour + THROUGHPUT_RETENTION_DAYS * DAY_SECONDS
        if expires <= now:
            return  # older than the retained history
        key = keys.throughput_hour(hour)
        self.hincr[(key, f"{direction}:{stage}")] += 1
        self.hincr[(key, f"{direction}:{stage}|{team}")] += 1
        self.expire_at[key] = expires

    def add_award(self, award: Award, tz: ZoneInfo) -> None:
        for period in periods_at(award.occurred_at, tz):
            self.zincr[
                (keys.leaderboard(period.kind, period.key, "handler"), award.handler_id)
            ] += award.points
            self.zincr[(keys.leaderboard(period.kind, period.key, "team"), award.team_id)] += (
                award.points
            )
            self.hset[keys.leaderboard_teams(period.kind, period.key)][award.handler_id] = (
                award.team_id
            )

    # -- live contributions ----------------------------------------------------

    def move_case(
        self, case_id: str, before: CaseState | None, after: CaseState | None, tz: ZoneInfo
    ) -> None:
        """Move a case's contributions from its state before to its state after."""
        old = footprint(before, tz)
        new = footprint(after, tz)
        if old != new:
            if old is not None:
                self._contribute(case_id, old, before, -1)
            if new is not None:
                self._contribute(case_id, new, after, +1)
        if after is not None and after is not before:
            self.states[keys.case(case_id)] = encode_state(after)

    def _contribute(self, case_id: str, fp: Footprint, state: CaseState | None, sign: int) -> None:
        assert state is not None
        team, handler = fp.team_id, fp.handler_id
        self.hincr[(keys.WIP, fp.stage)] += sign
        self.hincr[(keys.TEAM_OPEN, team)] += sign
        self.hincr[(keys.TEAM_WIP.format(team), fp.stage)] += sign
        self.hincr[(keys.TEAM_HANDLERS.format(team), handler)] += sign
        load = keys.HANDLER_LOAD.format(handler)
        self.hincr[(load, "open")] += sign
        if fp.urgent:
            self.hincr[(load, "urgent")] += sign
        if fp.major:
            self.hincr[(load, "major")] += sign
        if fp.regulator:
            self.hincr[(load, "regulator")] += sign
        indexed: list[tuple[str, float | None]] = [
            (keys.DEADLINES, fp.deadline),
            (keys.TEAM_DEADLINES.format(team), fp.deadline),
            (keys.FOLLOW_UPS, fp.follow_up_due),
            (keys.TEAM_FOLLOW_UPS.format(team), fp.follow_up_due),
            (keys.HANDLER_FOLLOW_UPS.format(handler), fp.follow_up_due),
            (keys.OPENED, state.opened_at),
            (keys.TEAM_OPENED.format(team), state.opened_at),
        ]
        if fp.paused is not None:
            # Scored by d = deadline base - paused_since (events.clock.paused_offset):
            # breached / at risk / due today are then range queries on d.
            base, since = fp.paused
            indexed += [(keys.PAUSED, base - since), (keys.TEAM_PAUSED.format(team), base - since)]
        for key, score in indexed:
            if score is None:
                continue
            if sign > 0:
                self.zadd[key][case_id] = score
            else:
                self.zrem[key].add(case_id)

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
        return seen
