"""Rebuilding the Redis read model from the SQL store, against a real Valkey
and real SQLite and PostgreSQL databases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from sqlalchemy import Engine

from complaintops import cli
from complaintops.embedded import find_free_port
from consumers.sink import SinkNotReady
from events import contract as c
from events.batch import RawRecord, decode_all, run_batch
from events.machine import Outcome
from events.scoring import DEFAULT_RULES
from metrics import keys
from metrics.delta import MetricsDelta
from metrics.rebuild import clear_read_model, rebuild, replay_log
from metrics.reconcile import Status, reconcile
from metrics.sink import RedisSink
from metrics.snapshot import Hash, read_snapshot
from store.sink import SqlSink
from tests.events.factory import SHANGHAI, CaseScript, encode
from tests.metrics.test_reconcile import (
    METRICS_GROUP,
    NOW,
    TOPIC,
    feed,
    last_offsets,
    scripted_values,
    stream,
)


def run_rebuild(redis_client: redis.Redis, engine: Engine, chunk: int = 5000) -> None:
    rebuild(
        redis_client, engine, group=METRICS_GROUP, topic=TOPIC, tz=SHANGHAI, now=NOW, chunk=chunk
    )


def drift(redis_client: redis.Redis, engine: Engine) -> list[str]:
    report = reconcile(
        redis_client, engine, group=METRICS_GROUP, topic=TOPIC, tz=SHANGHAI, now=NOW, wait_seconds=0
    )
    assert report.status is not Status.STORE_BEHIND
    return [str(d) for d in report.differences]


def test_a_flushed_read_model_is_rebuilt_exactly(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    feed(stream(), metrics_sink, store_sink)
    before = read_snapshot(redis_client, now=NOW)
    redis_client.flushall()
    report = rebuild(redis_client, engine, group=METRICS_GROUP, topic=TOPIC, tz=SHANGHAI, now=NOW)
    after = read_snapshot(redis_client, now=NOW)
    assert after.data == before.data
    assert after.offsets == before.offsets
    assert drift(redis_client, engine) == []
    assert report.offsets == last_offsets(stream())
    counters = before.data[keys.EVENT_COUNTERS]
    assert isinstance(counters, Hash) and report.totals.applied == int(counters["applied"])
    assert report.totals.not_applied == 0
    meta = redis_client.hgetall(keys.META)
    assert meta[b"source"] == b"rebuild" and float(meta[b"built_at"]) == NOW
    assert meta[b"events"] == str(report.totals.applied).encode()
    assert not redis_client.exists(keys.REBUILDING)  # released when done


def test_small_write_chunks_build_the_same_model(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    feed(stream(), metrics_sink, store_sink)
    before = read_snapshot(redis_client, now=NOW)
    run_rebuild(redis_client, engine, chunk=7)
    assert read_snapshot(redis_client, now=NOW).data == before.data


def test_rebuild_replaces_the_read_model_and_leaves_other_keys_alone(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    feed(stream(), metrics_sink, store_sink)
    heartbeat = keys.CONSUMER_HEARTBEAT.format(METRICS_GROUP)
    redis_client.hset(heartbeat, "ts", "1")
    redis_client.zadd(keys.DEADLINES, {"T-STRAY": 1})
    redis_client.set("co:{m}:idx:followup:handler:ghost", "x")
    redis_client.set("co:alerts:leader", "token")
    redis_client.hincrby(keys.WIP, "intake", 5)
    run_rebuild(redis_client, engine)
    assert drift(redis_client, engine) == []
    assert redis_client.hget(heartbeat, "ts") == b"1"
    assert not redis_client.exists("co:{m}:idx:followup:handler:ghost")
    assert redis_client.get("co:alerts:leader") == b"token"


def test_records_only_in_redis_are_dropped_and_the_consumer_resumes_after_the_store(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    records = stream()
    stored = records[: len(records) - 120]
    feed(records, metrics_sink)
    feed(stored, store_sink)
    run_rebuild(redis_client, engine)
    assert metrics_sink.stored_offsets(TOPIC) == store_sink.stored_offsets(TOPIC)
    assert metrics_sink.stored_offsets(TOPIC) == last_offsets(stored)
    assert drift(redis_client, engine) == []
    # The metrics consumer is redelivered everything; only the rest counts.
    summary = metrics_sink.apply(records)
    assert summary.skipped == len(stored)
    feed(records[len(stored) :], store_sink)
    assert drift(redis_client, engine) == []


def test_the_metrics_sink_waits_while_the_marker_is_missing(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink, store_sink: SqlSink
) -> None:
    records = stream()
    feed(records[:100], metrics_sink, store_sink)
    clear_read_model(redis_client)
    with pytest.raises(SinkNotReady):
        metrics_sink.apply(records[100:140])
    run_rebuild(redis_client, engine)
    feed(records[100:], metrics_sink, store_sink)
    assert drift(redis_client, engine) == []


def test_an_empty_store_builds_an_empty_model(
    redis_client: redis.Redis, engine: Engine, metrics_sink: RedisSink
) -> None:
    feed(stream()[:50], metrics_sink)
    report = rebuild(redis_client, engine, group=METRICS_GROUP, topic=TOPIC, tz=SHANGHAI, now=NOW)
    assert report.offsets == {} and report.totals.applied == 0
    assert read_snapshot(redis_client, now=NOW).data == {}
    assert redis_client.hget(keys.META, "source") == b"rebuild"
    assert metrics_sink.stored_offsets(TOPIC) == {}


def test_the_commands_rebuild_and_reconcile(
    redis_client: redis.Redis,
    engine: Engine,
    metrics_sink: RedisSink,
    store_sink: SqlSink,
    valkey_url: str,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COMPLAINTOPS_REDIS_URL", valkey_url)
    monkeypatch.setenv("COMPLAINTOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("COMPLAINTOPS_TOPIC", TOPIC)
    feed(stream(), metrics_sink, store_sink)
    redis_client.hincrby(keys.WIP, "intake", 1)
    assert cli.main(["reconcile", "--max-diffs", "5", "--wait", "0"]) == 1
    out = capsys.readouterr().out
    assert "co:{m}:wip intake: expected" in out and "drift: 1 differences" in out
    redis_client.flushall()
    monkeypatch.setenv("COMPLAINTOPS_KAFKA_BOOTSTRAP", f"127.0.0.1:{find_free_port()}")
    assert cli.main(["rebuild"]) == 0
    out, err = capsys.readouterr()
    assert "replayed" in out and "read model rebuilt" in out
    # No broker: the rebuild goes on and says which dead letters it cannot queue.
    assert "committed offsets are unknown" in err and "rejected_events" in err
    assert cli.main(["reconcile", "--wait", "0"]) == 0
    assert "no drift" in capsys.readouterr().out


# -- the replay alone ------------------------------------------------------------------


def test_replay_emits_a_delta_per_chunk_of_cases_and_skips_what_no_longer_applies() -> None:
    logged = []
    for case_id, value in scripted_values()[:-3]:
        logged.append((case_id, value.decode()))
    logged.sort(key=lambda item: (item[0], orjson.loads(item[1])["seq"]))
    logged.insert(1, ("T-A", '{"schema": "case-event/v0"}'))
    deltas: list[MetricsDelta] = []
    totals = replay_log(logged, SHANGHAI, DEFAULT_RULES, NOW, deltas.append, 1)
    assert totals.cases == 3
    assert totals.not_applied == 1
    assert totals.applied == len(logged) - 1
    assert totals.gaps == 1
    assert [len(d.states) for d in deltas] == [1, 1, 1]


def test_invalid_records_the_metrics_group_never_committed_are_queued_as_dead_letters(
    redis_client: redis.Redis, engine: Engine, store_sink: SqlSink
) -> None:
    records = stream()
    feed(records, store_sink)
    # The metrics group had committed up to here when Redis was lost (next offset).
    committed = {p: offset + 1 for p, offset in last_offsets(records[: len(records) // 3]).items()}
    expected = [
        (r.partition, r.offset, r.value, reason)
        for r, reason in invalid_records_by_the_core(records)
        if r.offset >= committed.get(r.partition, 0)
    ]
    assert 0 < len(expected) < sum(1 for _ in invalid_records_by_the_core(records))
    redis_client.flushall()
    partitions = sorted({r.partition for r in records})

    report = rebuild(
        redis_client,
        engine,
        group=METRICS_GROUP,
        topic=TOPIC,
        tz=SHANGHAI,
        now=NOW,
        committed=committed,
    )

    queued = RedisSink(
        redis_client, METRICS_GROUP, SHANGHAI, dead_letter_outbox=True
    ).pending_dead_letters(partitions)
    in_outboxes = sum(
        redis_client.llen(keys.dead_letter_outbox(METRICS_GROUP, p)) for p in partitions
    )
    assert report.dead_letters_queued == len(expected) == in_outboxes
    assert sorted((r.partition, r.offset, r.value, reason) for r, reason in queued) == sorted(
        expected
    )
    assert any("dead letters queued" in line for line in report.lines())


def test_without_committed_offsets_no_dead_letter_is_queued(
    redis_client: redis.Redis, engine: Engine, store_sink: SqlSink
) -> None:
    feed(stream(), store_sink)
    redis_client.flushall()
    report = rebuild(redis_client, engine, group=METRICS_GROUP, topic=TOPIC, tz=SHANGHAI, now=NOW)
    assert report.dead_letters_queued is None
    partitions = {r.partition for r in stream()}
    assert len(partitions) > 1
    for partition in partitions:
        assert redis_client.llen(keys.dead_letter_outbox(METRICS_GROUP, partition)) == 0


def invalid_records_by_the_core(
    records: tuple[RawRecord, ...],
) -> Iterator[tuple[RawRecord, str]]:
    """The records the pure core finds invalid (form or state), with the reason."""
    batch = run_batch(decode_all(records), {}, SHANGHAI)
    for result in batch.results:
        if result.outcome is Outcome.INVALID:
            yield result.record, result.reason or "invalid"


# -- a handler moved between teams within a period --------------------------------------


def reworked(case_id: str, handler: str, team: str, at: str) -> list[bytes]:
    """A case of ``handler`` in ``team`` whose rework at ``at`` (on 24 November)
    costs the handler points."""
    s = CaseScript(case_id)
    return [
        encode(e)
        for e in (
            s.opened("2026-11-24T08:00:00+08:00", team_id=team, handler_id=handler),
            s.next(c.STAGE_CHANGED, "2026-11-24T08:30:00+08:00", to_stage="investigation"),
            s.next(c.STAGE_CHANGED, f"2026-11-24T{at}+08:00", to_stage="intake"),
        )
    ]


MOVED = {
    "A-7": reworked("A-7", "h-7", "claims-east", "11:00:00"),  # h-7's latest
    "Z-7": reworked("Z-7", "h-7", "claims-north", "10:00:00"),
    "B-8": reworked("B-8", "h-8", "claims-east", "10:00:00"),
    "Y-8": reworked("Y-8", "h-8", "claims-north", "11:00:00"),  # h-8's latest
}


def teams_hashes(redis_client: redis.Redis) -> dict[bytes, dict[Any, Any]]:
    """Every period's handler -> team hash and its stamps."""
    names = sorted(redis_client.scan_iter(match=keys.MODEL + "lb:*:teams*"))
    return {name: redis_client.hgetall(name) for name in names}


# The rebuild replays case by case (A-7, B-8, Y-8, Z-7); in each arrival order
# one handler's cases arrive otherwise.
@pytest.mark.parametrize(
    "arrival", [("Z-7", "A-7", "B-8", "Y-8"), ("A-7", "Z-7", "Y-8", "B-8")], ids=["h-7", "h-8"]
)
def test_a_handler_moved_between_teams_has_one_team_live_and_rebuilt(
    arrival: tuple[str, ...],
    redis_client: redis.Redis,
    engine: Engine,
    metrics_sink: RedisSink,
    store_sink: SqlSink,
) -> None:
    values = [value for case_id in arrival for value in MOVED[case_id]]
    feed(
        [RawRecord(TOPIC, 0, i, value) for i, value in enumerate(values)], store_sink, metrics_sink
    )
    live = teams_hashes(redis_client)
    assert live[keys.leaderboard_teams("week", "2026-W48").encode()] == {
        b"h-7": b"claims-east",
        b"h-8": b"claims-north",
    }
    assert len(live) == 8  # teams and stamps of the day, week, month and quarter
    assert drift(redis_client, engine) == []
    for chunk in (5000, 1):  # each case in its own chunk of writes too
        run_rebuild(redis_client, engine, chunk=chunk)
        assert teams_hashes(redis_client) == live
        assert drift(redis_client, engine) == []
