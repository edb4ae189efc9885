"""Contract-valid case events for the incentive tests, and feeding them through the real sinks."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Engine

from consumers.sink import Sink
from events import contract as c
from events.batch import RawRecord
from events.scoring import DEFAULT_RULES, ScoringRules
from events.timeutil import parse_rfc3339
from metrics.sink import RedisSink
from store.sink import SqlSink
from tests.events.factory import encode, make_event

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOPIC = "complaints.case-events"
METRICS_GROUP = "complaintops-metrics"
STORE_GROUP = "complaintops-store"
PARTITIONS = 3
TEAMS = {
    "claims-east": ["h-001", "h-002", "h-003"],
    "claims-north": ["h-007", "h-008"],
    "sales-service": ["h-014"],
}
CATEGORIES = ("claims", "sales", "surrender", "premium", "policy_service", "other")


def instant(text: str) -> float:
    return parse_rfc3339(text)


class Script:
    """The events of one case, numbered in the order written."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def add(self, event_type: str, at: str, **fields: Any) -> dict[str, Any]:
        self.seq += 1
        event = make_event(event_type, case_id=self.case_id, seq=self.seq, occurred_at=at, **fields)
        self.events.append(event)
        return event

    def opened(
        self,
        at: str,
        handler: str = "h-001",
        team: str = "claims-east",
        category: str = "claims",
        **fields: Any,
    ) -> dict[str, Any]:
        return self.add(
            c.OPENED,
            at,
            handler_id=handler,
            team_id=team,
            channel="phone",
            category=category,
            product_line="auto",
            **fields,
        )


def partition_of(case_id: str) -> int:
    return zlib.crc32(case_id.encode()) % PARTITIONS


class Log:
    """Records of one topic with increasing offsets per partition (a case keeps its partition)."""

    def __init__(self, topic: str = TOPIC) -> None:
        self.topic = topic
        self._next = [0] * PARTITIONS

    def record(self, value: dict[str, Any] | bytes, case_id: str | None = None) -> RawRecord:
        if case_id is None:
            assert isinstance(value, dict), "give the case id of a raw record"
            case_id = str(value["case_id"])
        cid = case_id
        partition = partition_of(cid)
        offset = self._next[partition]
        self._next[partition] += 1
        raw = value if isinstance(value, bytes) else encode(value)
        return RawRecord(self.topic, partition, offset, raw)

    def records(self, events: Iterable[dict[str, Any]]) -> list[RawRecord]:
        return [self.record(event) for event in events]


def by_time(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events of many cases in the order they happened (stable: a case's order is kept)."""
    return sorted(events, key=lambda e: instant(e["occurred_at"]))


def metrics_sink(client: redis.Redis, rules: ScoringRules = DEFAULT_RULES) -> RedisSink:
    sink = RedisSink(client, METRICS_GROUP, SHANGHAI, rules, clock=lambda: instant(NOW))
    sink.prepare(group_has_committed=False)
    return sink


def store_sink(engine: Engine, rules: ScoringRules = DEFAULT_RULES) -> SqlSink:
    return SqlSink(engine, STORE_GROUP, SHANGHAI, rules)


def feed(sinks: Sequence[Sink], records: Sequence[RawRecord], batch: int) -> None:
    """Apply the records to every sink in batches of ``batch``."""
    for sink in sinks:
        for start in range(0, len(records), batch):
            sink.apply(records[start : start + batch])


# -- a busy few weeks over the turn of the year ---------------------------------------

NOW = "2027-01-12T12:00:00+08:00"
WORLD_START = datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)


def _at(moment: datetime) -> str:
    return moment.isoformat()


def world(seed: int = 7, cases: int = 40) -> list[dict[str, Any]]:
    """Cases opened from 1 December 2026 to early January 2027 with every scoring rule,
    reassignments, reopenings and period edges (ISO week 2026-W53, the quarter and
    year end), in the order they happened."""
    rng = random.Random(seed)
    handlers = [(team, h) for team, members in TEAMS.items() for h in members]
    events: list[dict[str, Any]] = []
    for number in range(cases):
        team, handler = rng.choice(handlers)
        script = Script(f"C2026-{number:05d}")
        moment = WORLD_START + timedelta(days=rng.uniform(0, 35), minutes=rng.randint(0, 600))
        script.opened(_at(moment), handler, team, rng.choice(CATEGORIES))

        def later(hours: float) -> str:
            nonlocal moment
            moment += timedelta(hours=hours)
            return _at(moment)

        script.add(c.STAGE_CHANGED, later(rng.uniform(1, 30)), to_stage="investigation")
        if rng.random() < 0.3:
            new_team, new_handler = rng.choice(handlers)
            script.add(
                c.ASSIGNED, later(rng.uniform(1, 20)), team_id=new_team, handler_id=new_handler
            )
        script.add(c.STAGE_CHANGED, later(rng.uniform(1, 40)), to_stage="resolution")
        if rng.random() < 0.25:
            script.add(c.STAGE_CHANGED, later(rng.uniform(1, 10)), to_stage="investigation")
            script.add(c.STAGE_CHANGED, later(rng.uniform(1, 10)), to_stage="resolution")
        if rng.random() < 0.15:
            script.add(c.ESCALATED, later(rng.uniform(1, 10)), to="regulator")
        # mostly on time; some cases decide after their 15 days
        script.add(c.DECISION_MADE, later(rng.choice([20, 50, 100, 400])))
        script.add(c.STAGE_CHANGED, later(rng.uniform(1, 10)), to_stage="feedback")
        due = moment + timedelta(hours=48)
        script.add(c.FOLLOW_UP_SCHEDULED, later(1), due_at=_at(due))
        script.add(c.STAGE_CHANGED, later(1), to_stage="follow_up")
        visit = rng.choice([10.0, 47.0, 80.0])
        satisfaction = rng.choice([1, 2, 3, 4, 5])
        script.add(c.FOLLOW_UP_DONE, later(visit), satisfaction=satisfaction)
        script.add(c.STAGE_CHANGED, later(2), to_stage="review")
        script.add(c.CLOSED, later(5), satisfaction=rng.choice([1, 5]))
        if rng.random() < 0.2:
            script.add(c.REOPENED, later(rng.uniform(5, 50)))
            script.add(c.DECISION_MADE, later(rng.uniform(5, 50)))
            script.add(c.CLOSED, later(5))
        events += [e for e in script.events if instant(e["occurred_at"]) < instant(NOW)]
    events += edge_events()
    return by_time(events)


def edge_events() -> list[dict[str, Any]]:
    """Awards exactly around period boundaries in Shanghai."""
    edges = [
        ("C-EDGE-SUN", "h-002", "2026-12-27T23:59:59+08:00"),  # Sunday: 2026-W52
        ("C-EDGE-MON", "h-002", "2026-12-28T00:00:00+08:00"),  # Monday: 2026-W53
        ("C-EDGE-Q4", "h-003", "2026-12-31T23:59:59+08:00"),  # 2026-Q4, 2026-W53
        ("C-EDGE-Q1", "h-003", "2027-01-01T00:00:00+08:00"),  # 2027-Q1, still 2026-W53
    ]
    events = []
    for case_id, handler, at in edges:
        script = Script(case_id)
        script.opened("2026-12-20T10:00:00+08:00", handler, "claims-east")
        script.add(c.ESCALATED, at, to="regulator")
        events += script.events
    return events


def noise(log: Log, events: Sequence[dict[str, Any]], rng_seed: int = 3) -> list[RawRecord]:
    """The records of ``events`` with redelivered duplicates and invalid records mixed in."""
    rng = random.Random(rng_seed)
    records: list[RawRecord] = []
    for event in events:
        records.append(log.record(event))
        roll = rng.random()
        if roll < 0.05:
            records.append(log.record(event))  # the same event again: a duplicate
        elif roll < 0.08:
            records.append(log.record(b"{not json", case_id=str(event["case_id"])))
    return records
