"""The read model on a real Redis Cluster (three Valkey primaries).

The same sink, queries, leaderboards, snapshot, rebuild and reconciliation
run unchanged on a cluster client: every key a batch writes carries the read
model's hash tag, so each batch stays one atomic script in one slot. A
cluster and a single server fed the same records must hold and answer the
same.
"""

from __future__ import annotations

from datetime import date
from typing import cast

import orjson
import pytest
import redis
from sqlalchemy import Engine

from complaintops.embedded_cluster import EmbeddedCluster
from consumers.sink import SinkUnavailable
from events.batch import RawRecord
from metrics import keys
from metrics.leaderboard import leaderboard, trend
from metrics.query import MetricsQuery, Overview
from metrics.rebuild import rebuild
from metrics.sink import RedisSink
from metrics.snapshot import read_snapshot
from store.sink import SqlSink
from tests.events.factory import SHANGHAI
from tests.metrics.test_reconcile import METRICS_GROUP, NOW, TOPIC, batches, check, feed, stream
from tests.metrics.test_sink import reworked

TODAY = date(2026, 11, 26)


def on_cluster(client: redis.RedisCluster) -> redis.Redis:
    """The cluster client under the type the product's code takes (see
    complaintops.redis_client)."""
    return cast(redis.Redis, client)


def sink_on(client: redis.Redis, outbox: bool = False) -> RedisSink:
    sink = RedisSink(client, METRICS_GROUP, SHANGHAI, clock=lambda: NOW, dead_letter_outbox=outbox)
    sink.prepare(group_has_committed=False)
    return sink


def everything_read(client: redis.Redis) -> dict[str, object]:
    """Every answer the API, the pages and the alert jobs read from Redis."""
    query = MetricsQuery(client, SHANGHAI, clock=lambda: NOW)
    open_ids = [d.case_id for d in query.decisions_at_risk()] + ["T-A", "T-B", "T-C"]
    handlers = ["h-001", "h-002", "h-003", "h-010", "h-011"]
    return {
        "overview": query.overview(),
        "team overview": query.overview(team="claims-east"),
        "workload": query.workload(),
        "pressure": query.handler_pressure(handlers),
        "at risk": query.decisions_at_risk(),
        "breached": query.decisions_breached(team="claims-north"),
        "overdue": query.overdue_follow_ups(),
        "aging": query.aging(),
        "throughput": query.throughput(72),
        "stage time": query.stage_time(),
        "states": query.case_states(open_ids),
        "built": query.is_built(),
        "board": leaderboard(client, "month", TODAY, "handler", SHANGHAI),
        "team board": leaderboard(client, "week", TODAY, "team", SHANGHAI),
        "trend": trend(client, "day", TODAY, "handler"),
    }


def test_a_cluster_and_a_single_server_fed_the_same_records_answer_the_same(
    cluster_client: redis.RedisCluster, redis_client: redis.Redis
) -> None:
    cluster = on_cluster(cluster_client)
    feed(stream(), sink_on(cluster), sink_on(redis_client))

    on_one_server = everything_read(redis_client)
    assert everything_read(cluster) == on_one_server
    overview = on_one_server["overview"]
    assert isinstance(overview, Overview)
    assert overview.open_cases > 10 and overview.events["applied"] > 1000
    assert read_snapshot(cluster).data == read_snapshot(redis_client).data


def test_the_read_model_keeps_to_one_slot_and_other_keys_spread(
    cluster_client: redis.RedisCluster,
) -> None:
    feed(stream()[:400], sink_on(on_cluster(cluster_client)))
    cluster_client.hset(keys.CONSUMER_HEARTBEAT.format(METRICS_GROUP), "ts", "1")
    names = [n.decode() for n in cluster_client.scan_iter(match=keys.ALL_PATTERN)]
    model = [n for n in names if n.startswith(keys.MODEL)]
    assert len(model) > 50 and len(model) == len(names) - 1
    assert {cluster_client.keyslot(n) for n in model} == {cluster_client.keyslot(keys.WIP)}
    heartbeat = keys.CONSUMER_HEARTBEAT.format(METRICS_GROUP)
    assert cluster_client.keyslot(heartbeat) != cluster_client.keyslot(keys.WIP)


def test_two_consumers_of_one_group_build_the_model_together_on_a_cluster(
    cluster_client: redis.RedisCluster, engine: Engine, store_sink: SqlSink
) -> None:
    # Partitions are the unit of parallelism: one consumer owns partition 0,
    # the other the rest, and their batches interleave.
    cluster = on_cluster(cluster_client)
    first, second = sink_on(cluster), sink_on(cluster)
    feed(stream(), store_sink)
    for batch in batches(stream()):
        first.apply([r for r in batch if r.partition == 0])
        second.apply([r for r in batch if r.partition != 0])
    assert check(cluster, engine) == []


def test_rebuild_and_reconcile_on_a_cluster(
    cluster_client: redis.RedisCluster, engine: Engine, store_sink: SqlSink
) -> None:
    cluster = on_cluster(cluster_client)
    feed(stream(), store_sink)
    cluster_client.set(keys.case("T-STRAY"), b"left over")
    report = rebuild(cluster, engine, group=METRICS_GROUP, topic=TOPIC, tz=SHANGHAI, now=NOW)
    assert report.totals.applied > 1000
    assert not cluster_client.exists(keys.case("T-STRAY"))
    assert check(cluster, engine) == []

    cluster_client.hincrby(keys.WIP, "intake", 3)
    assert len(check(cluster, engine)) == 1


def test_dead_letters_wait_in_their_outbox_on_a_cluster(
    cluster_client: redis.RedisCluster,
) -> None:
    sink = sink_on(on_cluster(cluster_client), outbox=True)
    sink.apply([RawRecord(TOPIC, 0, 0, b"{broken"), RawRecord(TOPIC, 2, 0, b"[]")])
    pending = sink.pending_dead_letters([0, 1, 2])
    assert [(r.partition, r.value) for r, _ in pending] == [(0, b"{broken"), (2, b"[]")]
    assert pending[0][1].startswith("not JSON: ")
    assert pending[1][1] == "event is not a JSON object"
    sink.clear_dead_letters(pending)
    assert sink.pending_dead_letters([0, 1, 2]) == []


def case_of(record: RawRecord) -> object:
    try:
        body = orjson.loads(record.value or b"")
    except orjson.JSONDecodeError:
        return None
    return body.get("case_id") if isinstance(body, dict) else None


def _move_slot(
    nodes: list[redis.Redis], source: redis.Redis, target: redis.Redis, slot: int, only: list[bytes]
) -> None:
    """Start moving ``slot`` from ``source`` to ``target``, with only ``only`` moved yet."""
    source_id = source.execute_command("CLUSTER", "MYID")
    target_id = target.execute_command("CLUSTER", "MYID")
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    if only:
        port = target.connection_pool.connection_kwargs["port"]
        source.migrate("127.0.0.1", port, only, 0, 5000)


def _finish_move(
    nodes: list[redis.Redis], source: redis.Redis, target: redis.Redis, slot: int
) -> None:
    port = target.connection_pool.connection_kwargs["port"]
    rest = source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1_000_000)
    if rest:
        source.migrate("127.0.0.1", port, rest, 0, 5000)
    target_id = target.execute_command("CLUSTER", "MYID")
    for node in nodes:
        node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


def test_a_batch_during_a_slot_move_is_refused_whole_then_applied(
    valkey_cluster: EmbeddedCluster, cluster_client: redis.RedisCluster, redis_client: redis.Redis
) -> None:
    # Every key a batch writes is declared to its script, so while the read
    # model's slot moves between primaries a batch is refused before it
    # writes anything (TRYAGAIN), never applied half way; once the slot has
    # moved the batch goes through, on the new primary.
    cluster, reference = sink_on(on_cluster(cluster_client)), sink_on(redis_client)
    parts = list(batches(stream()))
    for batch in parts[:5]:
        cluster.apply(batch)
        reference.apply(batch)
    slot = cluster_client.keyslot(keys.WIP)
    nodes = {n.port: redis.Redis(host="127.0.0.1", port=n.port) for n in valkey_cluster.nodes}
    owner = cluster_client.get_node_from_key(keys.WIP).port
    source = nodes[owner]
    target = next(node for port, node in nodes.items() if port != owner)
    everyone = list(nodes.values())
    finished = False
    try:
        _move_slot(everyone, source, target, slot, only=[keys.WIP.encode()])
        left = source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1_000_000)
        before = {name: source.dump(name) for name in left}
        # Later events of cases already stored: the batch's reads all find
        # their keys on the old primary, and its writes touch the moved one.
        known = {case_of(r) for batch in parts[:5] for r in batch}
        later = [r for batch in parts[5:] for r in batch if case_of(r) in known][:20]
        with pytest.raises(SinkUnavailable):
            cluster.apply(later)
        assert {name: source.dump(name) for name in left} == before
        _finish_move(everyone, source, target, slot)
        finished = True
        for batch in parts[5:]:
            cluster.apply(batch)
            reference.apply(batch)
        assert everything_read(on_cluster(cluster_client)) == everything_read(redis_client)
    finally:
        # Give the slot back, so the session's cluster keeps its layout.
        if not finished:
            _finish_move(everyone, source, target, slot)
        _move_slot(everyone, target, source, slot, only=[])
        _finish_move(everyone, target, source, slot)
        for node in everyone:
            node.close()


def test_a_batch_whose_team_stamps_have_moved_is_refused_whole(
    valkey_cluster: EmbeddedCluster, cluster_client: redis.RedisCluster, redis_client: redis.Redis
) -> None:
    # The stamps beside a period's handler -> team hash are read and written by
    # the batch script: declared too, so a batch whose stamps hash alone has
    # moved to the new primary is refused, not applied against no stamps.
    cluster, reference = sink_on(on_cluster(cluster_client)), sink_on(redis_client)
    earlier = reworked("C-1", "claims-north", "12:00:00", "e-1")
    latest = reworked("C-2", "claims-east", "12:30:00", "e-2")
    # Both cases stored, and C-1's rework: every key the batch (C-2's rework,
    # in the same hour) reads or writes exists on the old primary but the
    # stamps hash, which alone has moved.
    stored = [*earlier, *latest[:2]]
    for sink in (cluster, reference):
        sink.apply([RawRecord(TOPIC, 0, i, value) for i, value in enumerate(stored)])
    batch = [RawRecord(TOPIC, 0, len(stored), latest[2])]
    stamps = keys.leaderboard_team_stamps("day", "2026-11-24")
    assert cluster_client.exists(stamps)
    slot = cluster_client.keyslot(stamps)
    nodes = {n.port: redis.Redis(host="127.0.0.1", port=n.port) for n in valkey_cluster.nodes}
    owner = cluster_client.get_node_from_key(stamps).port
    source = nodes[owner]
    target = next(node for port, node in nodes.items() if port != owner)
    everyone = list(nodes.values())
    finished = False
    try:
        _move_slot(everyone, source, target, slot, only=[stamps.encode()])
        left = source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1_000_000)
        before = {name: source.dump(name) for name in left}
        with pytest.raises(SinkUnavailable):
            cluster.apply(batch)
        assert {name: source.dump(name) for name in left} == before
        _finish_move(everyone, source, target, slot)
        finished = True
        cluster.apply(batch)
        reference.apply(batch)
        teams = keys.leaderboard_teams("day", "2026-11-24")
        assert cluster_client.hgetall(teams) == {b"h-1": b"claims-east"}
        for name in (teams, stamps):
            assert cluster_client.hgetall(name) == redis_client.hgetall(name)
    finally:
        if not finished:
            _finish_move(everyone, source, target, slot)
        _move_slot(everyone, target, source, slot, only=[])
        _finish_move(everyone, target, source, slot)
        for node in everyone:
            node.close()


def test_a_batch_stored_in_chunks_during_a_slot_move_stops_then_completes_on_the_new_primary(
    valkey_cluster: EmbeddedCluster, cluster_client: redis.RedisCluster, redis_client: redis.Redis
) -> None:
    # The chunks go to the primary of the model's slot on one connection; while
    # the slot moves, a chunk whose keys have moved is refused before it
    # writes anything (TRYAGAIN or ASK), and the batch fails there. Once the
    # slot has moved, the same batch stored again completes it on the new
    # primary, as if it had been stored in one step.
    cluster = RedisSink(
        on_cluster(cluster_client), METRICS_GROUP, SHANGHAI, clock=lambda: NOW, chunk_records=5
    )
    cluster.prepare(group_has_committed=False)
    reference = sink_on(redis_client)
    parts = list(batches(stream()))
    for batch in parts[:5]:
        cluster.apply(batch)
        reference.apply(batch)
    slot = cluster_client.keyslot(keys.WIP)
    nodes = {n.port: redis.Redis(host="127.0.0.1", port=n.port) for n in valkey_cluster.nodes}
    owner = cluster_client.get_node_from_key(keys.WIP).port
    source = nodes[owner]
    target = next(node for port, node in nodes.items() if port != owner)
    everyone = list(nodes.values())
    finished = False
    known = {case_of(r) for batch in parts[:5] for r in batch}
    later = [r for batch in parts[5:] for r in batch if case_of(r) in known][:40]
    try:
        _move_slot(everyone, source, target, slot, only=[keys.WIP.encode()])
        chunks = cluster.timings.chunks
        with pytest.raises(SinkUnavailable, match=r"Redis refused: .*(TRYAGAIN|ASK|rehashing)"):
            cluster.apply(later)
        assert cluster.timings.chunks > chunks  # its first read went through; a chunk failed
        _finish_move(everyone, source, target, slot)
        finished = True
        cluster.apply(later)
        reference.apply(later)
        assert (
            cluster_client.get_node_from_key(keys.WIP).port
            == target.connection_pool.connection_kwargs["port"]
        )
        assert everything_read(on_cluster(cluster_client)) == everything_read(redis_client)
        assert read_snapshot(on_cluster(cluster_client)).data == read_snapshot(redis_client).data
    finally:
        if not finished:
            _finish_move(everyone, source, target, slot)
        _move_slot(everyone, target, source, slot, only=[])
        _finish_move(everyone, target, source, slot)
        for node in everyone:
            node.close()
