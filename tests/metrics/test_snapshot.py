"""The normalised snapshot of the read model: pure rules, the fold of
MetricsDeltas, and reading it from a real Valkey."""

from __future__ import annotations

from typing import Any

import redis

from events.batch import RawRecord, decode_all, run_batch
from events.state import CaseState
from events.timeutil import DAY_SECONDS
from metrics import keys
from metrics.delta import MetricsDelta
from metrics.snapshot import (
    Hash,
    OtherType,
    SnapshotBuilder,
    ZSet,
    is_compared,
    normalise,
    read_snapshot,
)
from metrics.writer import write_delta
from tests.events.factory import SHANGHAI
from tests.metrics.test_reconcile import NOW, TOPIC, scripted_values

HOUR = 3600


# -- pure rules ------------------------------------------------------------------------


def test_zero_counters_are_dropped_but_not_other_hash_values() -> None:
    assert normalise(keys.WIP, Hash({"intake": "0", "review": "2"})) == Hash({"review": "2"})
    assert normalise(keys.HANDLER_LOAD.format("h-1"), Hash({"open": "0"})) is None
    teams = keys.leaderboard_teams("day", "2026-11-24")
    assert normalise(teams, Hash({"h-1": "0"})) == Hash({"h-1": "0"})


def test_scores_are_rounded_and_empty_sets_are_absent() -> None:
    board = keys.leaderboard("day", "2026-11-24", "handler")
    assert normalise(board, ZSet({"h-1": 0.1 + 0.2, "h-2": -0.0})) == ZSet({"h-1": 0.3, "h-2": 0.0})
    assert normalise(board, ZSet()) is None
    assert normalise(keys.case("C-1"), b"[1]") == b"[1]"


def test_throughput_hours_are_compared_until_a_day_before_they_expire() -> None:
    now = 1_800_000_000.0
    recent = int(now - 44 * DAY_SECONDS) + HOUR
    old = int(now - 44 * DAY_SECONDS)
    assert is_compared(keys.throughput_hour(recent), now)
    assert not is_compared(keys.throughput_hour(old), now)
    assert is_compared(keys.WIP, now)


# -- the fold equals the writer ----------------------------------------------------------


def batch_deltas() -> list[MetricsDelta]:
    """The deltas of the scripted records in batches of 4: cases move between
    stages, teams, indexes and the paused hash, so removals happen too."""
    values = [value for _, value in scripted_values()]
    records = [RawRecord(TOPIC, 0, i, v) for i, v in enumerate(values)]
    states: dict[str, CaseState | None] = {}
    deltas = []
    for start in range(0, len(records), 4):
        decoded = decode_all(records[start : start + 4])
        ids = {event.case_id for _, event, _ in decoded if event is not None}
        batch = run_batch(decoded, {cid: states.get(cid) for cid in ids}, SHANGHAI)
        delta = MetricsDelta()
        delta.add_batch(batch, SHANGHAI, NOW)
        states.update(batch.states)
        deltas.append(delta)
    return deltas


def test_folding_deltas_gives_what_the_writer_writes(redis_client: redis.Redis) -> None:
    builder = SnapshotBuilder()
    removals = 0
    for delta in batch_deltas():
        removals += sum(len(m) for m in delta.zrem.values()) + sum(
            len(f) for f in delta.hdel.values()
        )
        builder.add(delta)
        with redis_client.pipeline(transaction=True) as pipe:
            write_delta(pipe, delta)
            pipe.execute()
    assert removals > 0
    expected = builder.build(NOW)
    actual = read_snapshot(redis_client, now=NOW)
    assert actual.data == expected.data
    assert keys.PAUSED in actual.data and keys.DEADLINES in actual.data
    assert any(key.startswith("co:{m}:tp:") for key in actual.data)


# -- reading Redis -------------------------------------------------------------------------


def test_offsets_marker_and_other_keys_are_not_data(redis_client: redis.Redis) -> None:
    redis_client.set(keys.offset("complaintops-metrics", TOPIC, 0), 41)
    redis_client.set(keys.offset("complaintops-metrics", TOPIC, 2), 7)
    redis_client.set(keys.offset("other", TOPIC, 1), 3)
    redis_client.hset(keys.META, "source", "fresh")
    redis_client.hset(keys.CONSUMER_HEARTBEAT.format("complaintops-metrics"), "ts", "1")
    redis_client.hset(keys.WIP, mapping={"intake": 2, "review": 0})
    redis_client.zadd(keys.DEADLINES, {"C-1": 1_800_000_000.5})
    redis_client.set(keys.case("C-1"), b"[1,2]")
    redis_client.sadd("co:{m}:lb:odd", "x")
    redis_client.set("co:auth:fail:0a1b", 3)
    snapshot = read_snapshot(redis_client, now=NOW)
    assert snapshot.data == {
        keys.WIP: Hash({"intake": "2"}),
        keys.DEADLINES: ZSet({"C-1": 1_800_000_000.5}),
        keys.case("C-1"): b"[1,2]",
        "co:{m}:lb:odd": OtherType("set"),
    }
    assert snapshot.offsets_of("complaintops-metrics", TOPIC) == {0: 41, 2: 7}
    assert snapshot.offsets_of("other", TOPIC) == {1: 3}


def test_throughput_hours_near_expiry_are_left_out(redis_client: redis.Redis) -> None:
    recent = int(NOW) - int(NOW) % HOUR - HOUR
    redis_client.hset(keys.throughput_hour(recent), "in:intake", 1)
    redis_client.hset(keys.throughput_hour(recent - 44 * DAY_SECONDS), "in:intake", 1)
    assert list(read_snapshot(redis_client, now=NOW).data) == [keys.throughput_hour(recent)]


class OffsetsMoveBetweenChunks(redis.Redis):
    """A client on which a batch lands between the first two chunk reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chunk_reads = 0

    def register_script(self, script: Any) -> Any:
        read = super().register_script(script)

        def run(**kwargs: Any) -> Any:
            self.chunk_reads += 1
            if self.chunk_reads == 2:
                self.set(keys.offset("g", TOPIC, 0), 11)
                self.hincrby(keys.WIP, "intake", 1)
                self.hincrby("co:{m}:team:t-9:wip", "intake", 1)
            return read(**kwargs)

        return run


def test_a_batch_landing_during_the_read_makes_it_start_again(valkey_url: str) -> None:
    client = OffsetsMoveBetweenChunks(connection_pool=redis.ConnectionPool.from_url(valkey_url))
    client.flushall()
    client.set(keys.offset("g", TOPIC, 0), 10)
    client.hset(keys.WIP, "intake", 1)
    client.hset("co:{m}:team:t-9:wip", "intake", 1)
    snapshot = read_snapshot(client, now=NOW, chunk=1)
    assert client.chunk_reads > 2
    assert snapshot.offsets_of("g", TOPIC) == {0: 11}
    assert snapshot.data == {
        keys.WIP: Hash({"intake": "2"}),
        "co:{m}:team:t-9:wip": Hash({"intake": "2"}),
    }
    client.flushall()
    client.close()
