"""An independent recomputation of the pipeline's figures from labelled records.

The simulator labels every record it produces ``valid``, ``duplicate`` or
``invalid``. This oracle applies the ``valid`` ones with plain dict logic
written again from the contract (case-events-v1.md, api-v1.md,
scoring-v1.md) and answers what the dashboard's API and the SQL ``cases``
table must show. It shares no code with the event core, the read model or
the store, so a misreading of the contract there shows up as a difference
here.

It also checks the labels themselves: a ``valid`` record must pass the
contract's seq and state rules, and a ``duplicate`` must carry a seq not
above its case's last applied one. A label that breaks them raises
``OracleError`` (the stream, not the pipeline, would then be wrong).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
STAGES: Final = ("intake", "investigation", "resolution", "feedback", "follow_up", "review")
BASE_LIMIT_DAYS: Final = 15
REOPEN_LIMIT_DAYS: Final = 15
TIER_LIMIT_DAYS: Final = {1: 30, 2: 60}
WARNING_DAYS: Final = 3.0
DAY: Final = 86_400.0
HOUR: Final = 3_600.0

VALID: Final = "valid"
DUPLICATE: Final = "duplicate"
INVALID: Final = "invalid"


class OracleError(AssertionError):
    """A record's label contradicts the contract."""


@dataclass(frozen=True, slots=True)
class LabelledRecord:
    """One produced record: where it landed, what the simulator says it is, its bytes."""

    partition: int
    offset: int
    kind: str
    value: bytes
    key: str = ""


@dataclass(slots=True)
class OracleCase:
    """A case as the contract describes it, after its last applied event."""

    case_id: str
    status: str
    stage: str
    team_id: str
    handler_id: str
    last_seq: int
    clock_start: float
    limit_days: int
    paused_seconds: float = 0.0
    paused_since: float | None = None
    decided_at: float | None = None
    follow_up_due: float | None = None
    follow_up_done: bool = False

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class CaseRow:
    """What the SQL ``cases`` row of a case must say."""

    status: str
    stage: str
    team_id: str
    handler_id: str
    last_seq: int
    follow_up_due: float | None
    follow_up_done: bool
    # The deadline in force: running clock → its deadline; decided → the one
    # in force at the decision; paused (it grows) → None.
    decision_deadline: float | None


# -- time, from the contract's words ---------------------------------------------


def parse_time(text: str) -> float:
    """RFC 3339 with a UTC offset → epoch seconds."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise OracleError(f"time without offset in a valid record: {text}")
    return moment.timestamp()


def end_of_day(epoch: float, tz: ZoneInfo) -> float:
    """24:00 of the local day containing ``epoch`` (00:00 of the next day)."""
    local = datetime.fromtimestamp(epoch, tz)
    next_day = local.date() + timedelta(days=1)
    return datetime(next_day.year, next_day.month, next_day.day, tzinfo=tz).timestamp()


def hour_of(epoch: float, tz: ZoneInfo) -> float:
    """Start of the local clock hour containing ``epoch``."""
    local = datetime.fromtimestamp(epoch, tz)
    return local.replace(minute=0, second=0, microsecond=0).timestamp()


def add_days(epoch: float, days: int, tz: ZoneInfo) -> float:
    """``days`` natural days later, on the local calendar."""
    return (datetime.fromtimestamp(epoch, tz) + timedelta(days=days)).timestamp()


def decision_deadline(case: OracleCase, tz: ZoneInfo, now: float) -> float:
    """Clock start + limit in natural days + paused time (a current pause counts
    up to ``now``); the end of that local day."""
    paused = case.paused_seconds
    if case.paused_since is not None:
        paused += max(0.0, now - case.paused_since)
    return end_of_day(add_days(case.clock_start, case.limit_days, tz) + paused, tz)


def zero_stages() -> dict[str, int]:
    return dict.fromkeys(STAGES, 0)


# -- the oracle ----------------------------------------------------------------------


@dataclass(slots=True)
class _Flows:
    entered: Counter[tuple[float, str]] = field(default_factory=Counter)
    exited: Counter[tuple[float, str]] = field(default_factory=Counter)


class Oracle:
    """Applies labelled records (in each partition's order) and answers the API's figures."""

    def __init__(self, tz: ZoneInfo = SHANGHAI, warning_days: float = WARNING_DAYS) -> None:
        self.tz = tz
        self.warning_seconds = warning_days * DAY
        self.cases: dict[str, OracleCase] = {}
        self.counters: dict[str, int] = {"applied": 0, "duplicates": 0, "invalid": 0, "gaps": 0}
        self.invalid_positions: set[tuple[int, int]] = set()
        self.duplicate_positions: set[tuple[int, int]] = set()
        self.invalid_values: dict[tuple[int, int], bytes] = {}
        self.last_event_at: float | None = None
        self._flows = _Flows()

    @classmethod
    def of(cls, records: Iterable[LabelledRecord], tz: ZoneInfo = SHANGHAI) -> Oracle:
        oracle = cls(tz)
        oracle.feed(records)
        return oracle

    def feed(self, records: Iterable[LabelledRecord]) -> None:
        """Apply records; each partition's records are taken in offset order."""
        for record in sorted(records, key=lambda r: (r.partition, r.offset)):
            position = (record.partition, record.offset)
            if record.kind == VALID:
                self._apply(json.loads(record.value))
                self.counters["applied"] += 1
            elif record.kind == DUPLICATE:
                self._check_duplicate(json.loads(record.value))
                self.counters["duplicates"] += 1
                self.duplicate_positions.add(position)
            elif record.kind == INVALID:
                self.counters["invalid"] += 1
                self.invalid_positions.add(position)
                self.invalid_values[position] = record.value
            else:
                raise OracleError(f"unknown label {record.kind!r}")

    # -- applying one valid event ------------------------------------------------------

    def _check_duplicate(self, event: Mapping[str, Any]) -> None:
        case = self.cases.get(event["case_id"])
        if case is None or event["seq"] > case.last_seq:
            raise OracleError(f"record labelled duplicate is not: {event}")

    def _apply(self, event: Mapping[str, Any]) -> None:
        etype: str = event["type"]
        case_id: str = event["case_id"]
        seq: int = event["seq"]
        at = parse_time(event["occurred_at"])
        self.last_event_at = at if self.last_event_at is None else max(self.last_event_at, at)
        case = self.cases.get(case_id)
        if case is None:
            if etype != "case.opened" or seq != 1:
                raise OracleError(f"valid-labelled event of an unknown case: {event}")
            start = parse_time(event["received_at"]) if "received_at" in event else at
            self.cases[case_id] = OracleCase(
                case_id=case_id,
                status="open",
                stage="intake",
                team_id=event["team_id"],
                handler_id=event["handler_id"],
                last_seq=seq,
                clock_start=start,
                limit_days=BASE_LIMIT_DAYS,
            )
            self._enter("intake", at)
            return
        if seq <= case.last_seq:
            raise OracleError(f"valid-labelled event is a duplicate: {event}")
        self._check_state(case, event)
        if seq > case.last_seq + 1:
            self.counters["gaps"] += 1
        case.last_seq = seq
        self._transition(case, etype, event, at)

    @staticmethod
    def _check_state(case: OracleCase, event: Mapping[str, Any]) -> None:
        etype = event["type"]
        broken = (
            etype == "case.opened"
            or (case.status == "closed" and etype != "case.reopened")
            or (case.status == "open" and etype == "case.reopened")
            or (etype == "case.clock_paused" and case.paused_since is not None)
            or (etype == "case.clock_resumed" and case.paused_since is None)
            or (etype == "case.stage_changed" and event["to_stage"] == case.stage)
        )
        if broken:
            raise OracleError(f"valid-labelled event breaks a state rule: {event}")

    def _transition(
        self, case: OracleCase, etype: str, event: Mapping[str, Any], at: float
    ) -> None:
        if etype == "case.assigned":
            case.team_id = event["team_id"]
            case.handler_id = event["handler_id"]
        elif etype == "case.stage_changed":
            self._exit(case.stage, at)
            case.stage = event["to_stage"]
            self._enter(case.stage, at)
        elif etype == "case.clock_paused":
            case.paused_since = at
        elif etype == "case.clock_resumed":
            self._end_pause(case, at)
        elif etype == "case.deadline_extended":
            case.limit_days = max(case.limit_days, TIER_LIMIT_DAYS[event["tier"]])
        elif etype == "case.decision_made":
            if case.decided_at is None:
                self._end_pause(case, at)
                case.decided_at = at
        elif etype == "case.follow_up_scheduled":
            case.follow_up_due = parse_time(event["due_at"])
            case.follow_up_done = False
        elif etype == "case.follow_up_done":
            if case.follow_up_due is not None:
                case.follow_up_done = True
        elif etype == "case.closed":
            self._exit(case.stage, at)
            self._end_pause(case, at)
            case.status = "closed"
        elif etype == "case.reopened":
            case.status = "open"
            case.stage = "investigation"
            self._enter("investigation", at)
            # A reopened case awaits a decision again (scoring-v1.md scores the
            # first decision after each reopening); new facts restart the clock (R4).
            case.decided_at = None
            if event.get("new_facts") is True:
                case.clock_start = at
                case.limit_days = REOPEN_LIMIT_DAYS
                case.paused_seconds = 0.0
                case.paused_since = None
        # case.escalated changes nothing the oracle reports.

    @staticmethod
    def _end_pause(case: OracleCase, at: float) -> None:
        """A pause's time is not counted (R3) while the decision is pending."""
        if case.paused_since is not None and case.decided_at is None:
            case.paused_seconds += max(0.0, at - case.paused_since)
        case.paused_since = None

    def _enter(self, stage: str, at: float) -> None:
        self._flows.entered[(hour_of(at, self.tz), stage)] += 1

    def _exit(self, stage: str, at: float) -> None:
        self._flows.exited[(hour_of(at, self.tz), stage)] += 1

    # -- answers ----------------------------------------------------------------------

    def open_cases(self) -> list[OracleCase]:
        return [case for case in self.cases.values() if case.is_open]

    def wip(self) -> dict[str, int]:
        counts = zero_stages()
        for case in self.open_cases():
            counts[case.stage] += 1
        return counts

    def clock_counts(self, now: float) -> dict[str, int]:
        """follow_ups_overdue, decision_at_risk and decision_breached at ``now``."""
        overdue = at_risk = breached = 0
        for case in self.open_cases():
            due = case.follow_up_due
            if due is not None and not case.follow_up_done and due < now:
                overdue += 1
            if case.decided_at is not None:
                continue
            deadline = decision_deadline(case, self.tz, now)
            if deadline < now:
                breached += 1
            elif deadline - now < self.warning_seconds:
                at_risk += 1
        return {
            "follow_ups_overdue": overdue,
            "decision_at_risk": at_risk,
            "decision_breached": breached,
        }

    def overview(self, now: float) -> dict[str, Any]:
        """The required fields of /api/v1/overview except ``as_of``."""
        return {
            "open_cases": len(self.open_cases()),
            "wip": self.wip(),
            **self.clock_counts(now),
            "events": dict(self.counters),
        }

    def workload(
        self, configured: Mapping[str, Sequence[tuple[str, int | None]]]
    ) -> dict[str, Any]:
        """/api/v1/workload: teams and handlers with an open case or configured, by id."""
        capacity = {h: cap for handlers in configured.values() for h, cap in handlers}
        team_wip: dict[str, dict[str, int]] = {team: zero_stages() for team in configured}
        handler_open: dict[str, Counter[str]] = {
            team: Counter({h: 0 for h, _ in handlers}) for team, handlers in configured.items()
        }
        for case in self.open_cases():
            team_wip.setdefault(case.team_id, zero_stages())[case.stage] += 1
            handler_open.setdefault(case.team_id, Counter())[case.handler_id] += 1
        return {
            "teams": [
                {
                    "team_id": team,
                    "open_cases": sum(team_wip[team].values()),
                    "wip": team_wip[team],
                    "handlers": [
                        {
                            "handler_id": handler,
                            "open_cases": handler_open[team][handler],
                            "capacity": capacity.get(handler),
                        }
                        for handler in sorted(handler_open[team])
                    ],
                }
                for team in sorted(team_wip)
            ]
        }

    def throughput(self, now: float, hours: int) -> list[dict[str, Any]]:
        """Hourly buckets, oldest first, the last being the hour of ``now``."""
        current = hour_of(now, self.tz)
        buckets = []
        for back in range(hours - 1, -1, -1):
            start = current - back * HOUR
            buckets.append(
                {
                    "start": start,
                    "entered": {s: self._flows.entered[(start, s)] for s in STAGES},
                    "exited": {s: self._flows.exited[(start, s)] for s in STAGES},
                }
            )
        return buckets

    def case_rows(self) -> dict[str, CaseRow]:
        rows = {}
        for case in self.cases.values():
            # Without a current pause the moment does not matter (a decision ends a pause).
            deadline = decision_deadline(case, self.tz, 0.0) if case.paused_since is None else None
            rows[case.case_id] = CaseRow(
                status=case.status,
                stage=case.stage,
                team_id=case.team_id,
                handler_id=case.handler_id,
                last_seq=case.last_seq,
                follow_up_due=case.follow_up_due,
                follow_up_done=case.follow_up_done,
                decision_deadline=deadline,
            )
        return rows
