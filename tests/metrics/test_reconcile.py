"""Reconciliation of the Redis read model with the SQL store, against a real
Valkey and real SQLite and PostgreSQL databases.

Both sinks are fed the same records: a simulated complaint centre plus
scripted cases that use every event type (rework, reopening with and without
new facts, escalation to the regulator, reassignment, a seq gap, pauses),
duplicates and invalid records.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from functools import cache

import orjson
import pytest
import redis
from sqlalchemy import Engine, select, update

from events import contract as c
from events.batch import RawRecord
from events.simulator import SimulationConfig, simulate_to_list
from metrics import keys
from metrics.reconcile import Difference, Status, reconcile
from metrics.sink import RedisSink
from store.models import PointsEntry
from store.sink import SqlSink
from tests.events.factory import SHANGHAI, CaseScript, encode, instant

TOPIC = "complaints.case-events"
METRICS_GROUP = "complaintops-metrics"
PARTITIONS = 3
BATCH_SIZE = 40
NOW = instant("2026-11-26T12:00:00+08:00")
TEAMS = (("claims-east", ("h-001", "h-002", "h-003")), ("claims-north", ("h-010", "h-011")))


# -- the records ---------------------------------------------------------------------


def _at(text: str) -> str:
    return f"2026-{text}+08:00"


def scripted_values() -> list[tuple[str, bytes]]:
    """(case_id, value) of the scripted cases, their duplicates and invalid records."""
    a, b, d = CaseScript("T-A"), CaseScript("T-B"), CaseScript("T-C")
    team_a = {"team_id": "claims-east", "handler_id": "h-001"}
    events = [
        a.opened(
            _at("11-18T09:00:00"),
            **team_a,
            priority="urgent",
            group_size=25,
            received_at=_at("11-17T17:00:00"),
        ),
        a.next(c.STAGE_CHANGED, _at("11-18T11:00:00"), to_stage="investigation"),
        a.next(c.CLOCK_PAUSED, _at("11-19T10:00:00"), reason="external_appraisal"),
        a.next(c.CLOCK_RESUMED, _at("11-20T10:00:00")),
        a.next(c.DEADLINE_EXTENDED, _at("11-20T11:00:00"), tier=1, approved_by="m-001"),
        a.next(c.DECISION_MADE, _at("11-21T10:00:00"), outcome="upheld"),
        a.next(c.STAGE_CHANGED, _at("11-21T11:00:00"), to_stage="resolution"),
        a.next(c.FOLLOW_UP_SCHEDULED, _at("11-21T12:00:00"), due_at=_at("11-23T18:00:00")),
        a.next(c.FOLLOW_UP_DONE, _at("11-22T09:00:00"), satisfaction=4),
        a.next(c.CLOSED, _at("11-22T10:00:00"), resolution="resolved", satisfaction=5),
        a.next(c.REOPENED, _at("11-23T09:00:00"), new_facts=True),
        a.next(c.ESCALATED, _at("11-23T10:00:00"), to="regulator"),
        a.next(c.ASSIGNED, _at("11-23T11:00:00"), team_id="claims-north", handler_id="h-010"),
    ]
    a.seq += 1  # seq 14 never arrives: a gap
    events += [
        a.next(c.STAGE_CHANGED, _at("11-24T09:00:00"), to_stage="intake"),
        a.next(c.FOLLOW_UP_SCHEDULED, _at("11-24T10:00:00"), due_at=_at("11-25T09:00:00")),
        b.opened(
            _at("09-01T10:00:00"), team_id="claims-north", handler_id="h-011", category="sales"
        ),
        b.next(c.STAGE_CHANGED, _at("09-02T10:00:00"), to_stage="investigation"),
        b.next(c.DECISION_MADE, _at("11-20T10:00:00")),
        b.next(c.CLOSED, _at("11-21T10:00:00"), resolution="unresolved", satisfaction=1),
        b.next(c.REOPENED, _at("11-24T10:00:00")),
        b.next(c.CLOCK_PAUSED, _at("11-25T09:00:00"), reason="mediation"),
        d.opened(
            _at("11-25T08:00:00"), team_id="claims-east", handler_id="h-002", priority="major"
        ),
        d.next(c.ESCALATED, _at("11-25T09:00:00"), to="senior_management"),
    ]
    values = [(str(e["case_id"]), encode(e)) for e in events]
    same_stage = d.next(c.STAGE_CHANGED, _at("11-25T10:00:00"), to_stage="intake")
    values += [
        ("T-A", values[1][1]),  # a duplicate (the same event again)
        ("T-C", encode(same_stage)),  # breaks the case's state rules
        ("T-Z", b"not json"),
    ]
    return values


@cache
def stream() -> tuple[RawRecord, ...]:
    """Every record in arrival order, partitioned by case id like a producer."""
    config = SimulationConfig(
        teams=TEAMS, seed=11, arrivals_per_hour=2.0, invalid_share=0.03, duplicate_share=0.04
    )
    values = [(e.case_id, e.value) for e in simulate_to_list(config, days=8, now=NOW - 86400)]
    values += scripted_values()
    next_offset = [0] * PARTITIONS
    records = []
    for case_id, value in values:
        partition = zlib.crc32(case_id.encode()) % PARTITIONS
        records.append(RawRecord(TOPIC, partition, next_offset[partition], value))
        next_offset[partition] += 1
    return tuple(records)


def batches(records: Sequence[RawRecord]) -> Iterator[Sequence[RawRecord]]:
    for start in range(0, len(records), BATCH_SIZE):
        yield records[start : start + BATCH_SIZE]


def feed(records: Sequence[RawRecord], *sinks: RedisSink | SqlSink) -> None:
    """Apply the records in batches, as a consumer of each group would."""
    for batch in batches(records):
        for sink in sinks:
            sink.apply(batch)


def _event_type(value: bytes | None) -> object:
    try:
        body = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    return body.get("type") if isinstance(body, dict) else None


def last_offsets(records: Sequence[RawRecord]) -> dict[int, int]:
    out: dict[int, int] = {}
    for record in records:
        out[record.partition] = max(out.get(record.partition, -1), record.offset)
    return out


def check(redis_client: redis.Redis, engine: Engine, wait_seconds: float = 0.0) -> list[str]:
    report = reconcile(
        redis_client,
        engine,
        group=METRICS_GROUP,
        topic=TOPIC,
        tz=SHANGHAI,
        now=NOW,
        wait_seconds=wait_seconds,
    )
    assert report.status is not Status.STORE_BEHIND
    assert report.exit_code == (1 if report.differences else 0)
    return [str(d) for d in report.differences]


# -- agreement -------------------------------------------------------------------------


def test_the_stream_covers_every_event_type_duplicates_and_invalid_records(
    store_sink: SqlSink,
) -> None:
    applied = duplicates = invalid = gaps = 0
    for batch in batches(stream()):
        summary = store_sink.apply(batch)
        applied += summary.applied
        duplicates += summary.duplicates
        invalid += len(summary.invalid)
        gaps += summary.gaps
    types = {_event_type(r.value) for r in stream()}
    assert types >= set(c.EVENT_TYPES)
    assert applied > 1000 and duplicates > 10 and invalid > 10 and gaps >= 1


def test_sinks_fed_the_same_records_agree(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    feed(stream(), metrics_sink, store_sink)
    report = reconcile(redis_client, engine, group=METRICS_GROUP, topic=TOPIC, tz=SHANGHAI, now=NOW)
    assert [str(d) for d in report.differences] == []
    assert report.status is Status.AGREE and report.exit_code == 0
    assert report.offsets == last_offsets(stream())
    assert report.totals is not None and report.totals.applied > 1000
    assert report.keys_compared > 500
    assert report.lines()[-1] == "no drift: Redis agrees with the SQL store"


def test_store_ahead_of_redis_is_compared_at_redis_offsets(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    records = stream()
    feed(records, store_sink)
    feed(records[: len(records) // 2], metrics_sink)
    assert check(redis_client, engine) == []


# -- drift -------------------------------------------------------------------------------


@pytest.fixture
def agreeing(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    feed(stream(), metrics_sink, store_sink)


@pytest.mark.usefixtures("agreeing")
def test_a_changed_hash_field_is_the_one_difference(
    redis_client: redis.Redis, engine: Engine
) -> None:
    open_in_intake = int(redis_client.hget(keys.WIP, "intake") or 0)
    redis_client.hincrby(keys.WIP, "intake", 2)
    assert check(redis_client, engine) == [
        f"co:{{m}}:wip intake: expected {open_in_intake}, found {open_in_intake + 2}"
    ]


@pytest.mark.usefixtures("agreeing")
def test_a_deleted_case_is_the_one_difference(redis_client: redis.Redis, engine: Engine) -> None:
    state = redis_client.get(keys.case("T-C"))
    assert isinstance(state, bytes)
    redis_client.delete(keys.case("T-C"))
    assert check(redis_client, engine) == [
        f"co:{{m}}:case:T-C: missing (expected {state.decode()})"
    ]


@pytest.mark.usefixtures("agreeing")
def test_a_stray_index_member_is_the_one_difference(
    redis_client: redis.Redis, engine: Engine
) -> None:
    redis_client.zadd(keys.DEADLINES, {"T-STRAY": 1_800_000_000})
    assert check(redis_client, engine) == [
        "co:{m}:idx:deadline T-STRAY: expected nothing, found 1800000000"
    ]


@pytest.mark.usefixtures("agreeing")
def test_wrong_points_are_the_one_difference(redis_client: redis.Redis, engine: Engine) -> None:
    board = keys.leaderboard("week", "2026-W48", "handler")
    points = redis_client.zscore(board, "h-010")
    assert points is not None
    redis_client.zincrby(board, 3, "h-010")
    assert check(redis_client, engine) == [
        f"{board} h-010: expected {int(points)}, found {int(points) + 3}"
    ]


@pytest.mark.usefixtures("agreeing")
def test_an_unexpected_key_and_a_zero_counter(redis_client: redis.Redis, engine: Engine) -> None:
    redis_client.rpush("co:{m}:team:ghost:wip", "x")
    redis_client.set("co:alerts:leader", "not part of the read model")
    # Counters at zero are no difference, nor is a hash of only such counters.
    redis_client.hset(keys.HANDLER_LOAD.format("h-999"), "open", 0)
    assert check(redis_client, engine) == ["co:{m}:team:ghost:wip: unexpected key (found a list)"]


@pytest.mark.usefixtures("agreeing")
def test_the_points_ledger_is_checked_against_the_event_log(
    redis_client: redis.Redis, engine: Engine
) -> None:
    with engine.begin() as connection:
        row = connection.execute(
            select(PointsEntry.id, PointsEntry.points, PointsEntry.occurred_at)
            .where(PointsEntry.case_id == "T-A", PointsEntry.rule == "escalated_to_regulator")
            .order_by(PointsEntry.id)
        ).first()
        assert row is not None
        connection.execute(update(PointsEntry).where(PointsEntry.id == row.id).values(points=0))
    day = row.occurred_at.astimezone(SHANGHAI).date().isoformat()
    lines = check(redis_client, engine)
    assert f"co:{{m}}:lb:day:{day}:handler h-001: the points ledger gives " in lines[0]
    assert all("the points ledger gives" in line for line in lines)
    assert len(lines) == 8  # handler and team, for the day, week, month and quarter


# -- a store that is behind ---------------------------------------------------------------


def test_a_store_behind_redis_cannot_be_compared(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    records = stream()
    feed(records, metrics_sink)
    feed(records[:-5], store_sink)
    seconds = [0.0]

    def sleep(duration: float) -> None:
        seconds[0] += duration

    report = reconcile(
        redis_client,
        engine,
        group=METRICS_GROUP,
        topic=TOPIC,
        tz=SHANGHAI,
        now=NOW,
        wait_seconds=30,
        poll_seconds=1,
        monotonic=lambda: seconds[0],
        sleep=sleep,
    )
    assert report.status is Status.STORE_BEHIND and report.exit_code == 3
    assert report.store_behind_by == 5
    assert seconds[0] == 30  # it polled until the wait was over
    assert report.lines()[-1] == ("the store is behind the metrics by 5 events; cannot compare yet")


def test_reconcile_waits_for_the_store_to_catch_up(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    records = stream()
    feed(records, metrics_sink)
    feed(records[:-50], store_sink)
    polls: list[float] = []

    def sleep(duration: float) -> None:
        polls.append(duration)
        store_sink.apply(records[-50:])  # the store consumer catches up meanwhile

    report = reconcile(
        redis_client,
        engine,
        group=METRICS_GROUP,
        topic=TOPIC,
        tz=SHANGHAI,
        now=NOW,
        sleep=sleep,
        monotonic=lambda: 0.0,
    )
    assert polls == [0.5]
    assert report.status is Status.AGREE, report.lines()


def test_difference_texts() -> None:
    assert str(Difference("k", "f", "1", None)) == "k f: expected 1, found nothing"
    assert str(Difference("k", None, "a hash of 2 fields", None)) == (
        "k: missing (expected a hash of 2 fields)"
    )
    assert str(Difference("k", "type", "a hash of 2 fields", "a sorted set of 1 members")) == (
        "k type: expected a hash of 2 fields, found a sorted set of 1 members"
    )
