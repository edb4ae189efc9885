"""Large batches stored in chunks, on a real Valkey and a real Valkey Cluster.

A batch computed and stored chunk by chunk (each chunk its own atomic
compare-and-set, sent while the next is computed) must leave exactly what
one atomic step leaves, and when a chunk in the middle fails, the chunks
before it stay stored, none after it is, and storing the batch again
completes it as if nothing had happened.

Failures are caused for real, between two chunks: the kernel used is the
reference kernel, which first waits until the chunks before the one it is
asked to run are stored in Redis, and then does something to Redis (another
consumer stores records, the marker disappears, Redis refuses the
script, the connections are killed).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, cast

import pytest
import redis
from sqlalchemy import Engine

from consumers.sink import BatchSummary, SinkNotReady, SinkUnavailable
from events.batch import RawRecord
from metrics import keys
from metrics.kernel.api import Decoded, KernelOutput, State
from metrics.kernel.reference import ReferenceKernel
from metrics.pipeline import model_node
from metrics.sink import RedisSink
from metrics.snapshot import Snapshot, read_snapshot
from store.db import make_engine
from store.migrate import upgrade
from store.sink import STORE_GROUP, SqlSink
from tests.events.factory import SHANGHAI
from tests.metrics.test_reconcile import METRICS_GROUP, NOW, TOPIC, check, stream

WHOLE = 1_000_000  # chunk_records: every batch one chunk
BATCH = 300
CHUNK = 23  # chunks of 23 or 24 records that do not line up with anything

Action = Callable[[], object]


@pytest.fixture(params=["server", "cluster"])
def client(request: pytest.FixtureRequest, valkey_url: str) -> Iterator[redis.Redis]:
    """An emptied single server, then an emptied cluster (under the single-server type)."""
    if request.param == "server":
        yield request.getfixturevalue("redis_client")
    else:
        yield cast(redis.Redis, request.getfixturevalue("cluster_client"))


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    upgrade(sqlite_url, "heads")
    engine = make_engine(sqlite_url)
    try:
        yield engine
    finally:
        engine.dispose()


class Interrupting:
    """The reference kernel; before running the chunk that starts at record
    ``at`` of partition 0, it waits until the records before it are stored,
    then does ``action`` (once)."""

    name = "interrupting"

    def __init__(self, client: redis.Redis, at: int, action: Action) -> None:
        self.reference = ReferenceKernel(SHANGHAI)
        self.client = client
        self.at = at
        self.action: Action | None = action
        self.runs = 0

    def decode_all(self, records: Sequence[RawRecord]) -> list[Decoded]:
        return self.reference.decode_all(records)

    def decode_state(self, case_id: str, raw: bytes) -> State:
        return self.reference.decode_state(case_id, raw)

    def run(
        self, decoded: Sequence[Decoded], states: Mapping[str, State | None], now: float
    ) -> KernelOutput:
        self.runs += 1
        if self.action is not None and decoded and decoded[0][0].offset == self.at:
            action, self.action = self.action, None
            wait_stored(self.client, self.at - 1)
            action()
        return self.reference.run(decoded, states, now)


def wait_stored(client: redis.Redis, offset: int) -> None:
    """Wait until partition 0's stored offset is ``offset``."""
    deadline = time.monotonic() + 10
    while client.get(keys.offset(METRICS_GROUP, TOPIC, 0)) != str(offset).encode():
        if time.monotonic() > deadline:
            raise AssertionError(f"partition 0 never reached offset {offset}")
        time.sleep(0.005)


def sink_on(
    client: redis.Redis,
    chunk_records: int = CHUNK,
    kernel: Interrupting | None = None,
    outbox: bool = False,
) -> RedisSink:
    sink = RedisSink(
        client,
        METRICS_GROUP,
        SHANGHAI,
        clock=lambda: NOW,
        dead_letter_outbox=outbox,
        kernel=kernel,
        chunk_records=chunk_records,
    )
    sink.prepare(group_has_committed=False)
    return sink


def model(client: redis.Redis) -> tuple[Any, dict[str, int]]:
    snapshot: Snapshot = read_snapshot(client, now=NOW)
    return snapshot.data, snapshot.offsets


def counts(summaries: Sequence[BatchSummary]) -> dict[str, object]:
    return {
        "applied": sum(s.applied for s in summaries),
        "duplicates": sum(s.duplicates for s in summaries),
        "gaps": sum(s.gaps for s in summaries),
        "skipped": sum(s.skipped for s in summaries),
        "invalid": [(r.partition, r.offset, reason) for s in summaries for r, reason in s.invalid],
    }


def flush(client: redis.Redis) -> None:
    if isinstance(client, redis.RedisCluster):
        client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    else:
        client.flushall()


def partition_zero(count: int) -> list[RawRecord]:
    """The first ``count`` records of partition 0 (offsets 0 to count - 1), with
    duplicates and invalid records among them."""
    records = [r for r in stream() if r.partition == 0][:count]
    assert [r.offset for r in records] == list(range(count))
    return records


def stored_whole(client: redis.Redis, records: Sequence[RawRecord]) -> tuple[Any, dict[str, int]]:
    """The read model after ``records`` stored as one chunk into an emptied Redis
    (emptied again afterwards)."""
    flush(client)
    sink_on(client, WHOLE).apply(records)
    stored = model(client)
    flush(client)
    return stored


def pending(sink: RedisSink) -> list[int]:
    return [r.offset for r, _ in sink.pending_dead_letters([0])]


# -- the same result --------------------------------------------------------------------


def test_batches_stored_in_chunks_leave_what_whole_batches_leave(
    client: redis.Redis, sqlite_engine: Engine
) -> None:
    records = stream()
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]

    whole = sink_on(client, WHOLE)
    whole_summaries = [whole.apply(batch) for batch in batches]
    in_one = model(client)
    flush(client)
    chunked = sink_on(client)
    chunked_summaries = [chunked.apply(batch) for batch in batches]

    assert model(client) == in_one
    assert counts(chunked_summaries) == counts(whole_summaries)
    assert [s.offsets for s in chunked_summaries] == [s.offsets for s in whole_summaries]
    assert chunked.timings.chunks >= len(records) // CHUNK
    assert whole.timings.chunks == len(batches)
    # And the SQL system of record agrees with it.
    store = SqlSink(sqlite_engine, STORE_GROUP, SHANGHAI)
    for batch in batches:
        store.apply(batch)
    assert check(client, sqlite_engine) == []


def test_by_default_a_batch_is_four_chunks_of_at_least_a_hundred_records(
    client: redis.Redis,
) -> None:
    sink = RedisSink(client, METRICS_GROUP, SHANGHAI, clock=lambda: NOW)
    sink.prepare(group_has_committed=False)
    records = partition_zero(540)
    for first, last, chunks in ((0, 150, 1), (150, 450, 3), (450, 540, 1), (0, 540, 4)):
        before = sink.timings.chunks
        sink.apply(records[first:last])
        assert sink.timings.chunks - before == chunks, (first, last)


def test_a_redelivered_batch_is_skipped_chunk_by_chunk(client: redis.Redis) -> None:
    records = partition_zero(120)
    expected = stored_whole(client, records)
    sink = sink_on(client, 30)
    sink.apply(records[:70])
    summary = sink.apply(records)
    assert summary.skipped == 70
    assert summary.applied + summary.duplicates + len(summary.invalid) == 50
    assert sink.apply(records).skipped == 120
    assert model(client) == expected


# -- a chunk in the middle refused or failed ------------------------------------------------


def test_a_chunk_whose_records_another_consumer_stored_meanwhile_is_recomputed(
    client: redis.Redis,
) -> None:
    # After a rebalance another consumer stored the records of the third chunk
    # (and the first ten of the fourth) while this one was computing: the
    # third chunk finds the offsets moved; recomputed from them, its records
    # and those ten are skipped and the rest is stored once.
    records = partition_zero(200)
    expected = stored_whole(client, records)
    rival = sink_on(client, WHOLE)
    kernel = Interrupting(client, 100, lambda: rival.apply(records[100:160]))
    sink = sink_on(client, 50, kernel)

    summary = sink.apply(records)

    assert sink.timings.races == 1
    assert summary.skipped == 60
    assert summary.applied + summary.duplicates + len(summary.invalid) == 140
    assert summary.offsets == {0: 199}
    assert model(client) == expected


def test_a_chunk_whose_exact_records_another_consumer_stored_is_skipped(
    client: redis.Redis,
) -> None:
    # The rival stored exactly the third chunk's records: the fourth chunk
    # expects the offsets the rival left (whether it was sent before the third
    # was refused or is recomputed), the third is skipped. Nothing is stored
    # twice, nothing is lost.
    records = partition_zero(200)
    expected = stored_whole(client, records)
    rival = sink_on(client, WHOLE)
    kernel = Interrupting(client, 100, lambda: rival.apply(records[100:150]))
    sink = sink_on(client, 50, kernel)

    summary = sink.apply(records)

    assert summary.skipped == 50
    assert summary.applied + summary.duplicates + len(summary.invalid) == 150
    assert model(client) == expected


def test_a_lost_build_marker_stops_the_batch_at_the_chunk_that_finds_it_gone(
    client: redis.Redis,
) -> None:
    records = partition_zero(200)
    expected = stored_whole(client, records)
    meta: dict[bytes, bytes] = {}

    def lose_marker() -> None:
        meta.update(client.hgetall(keys.META))
        client.delete(keys.META)

    sink = sink_on(client, 50, Interrupting(client, 100, lose_marker), outbox=True)
    with pytest.raises(SinkNotReady, match="rebuild"):
        sink.apply(records)
    # The first two chunks are stored, with their dead letters; nothing after.
    assert sink.stored_offsets(TOPIC) == {0: 99}
    # Without the marker the outbox is not trusted (Redis may have lost it).
    with pytest.raises(SinkNotReady, match="rebuild"):
        pending(sink)

    client.hset(keys.META, mapping=meta)
    letters = pending(sink)
    assert letters and all(offset <= 99 for offset in letters)
    again = sink.apply(records)
    assert again.skipped == 100
    assert model(client) == expected
    assert pending(sink) == sorted({*letters, *(r.offset for r, _ in again.invalid)})


def test_a_chunk_redis_refuses_fails_the_batch_and_the_earlier_chunks_stay_stored(
    client: redis.Redis,
) -> None:
    # Redis refuses the third chunk's script before running it (here: the
    # connection's user lost the right to run scripts). Without the
    # dead-letter outbox the loop learns of invalid records only from the
    # summaries: those of the chunks stored before the failure come with the
    # next batch the sink stores, so none is lost or told twice.
    records = partition_zero(200)
    flush(client)
    expected_counts = counts([sink_on(client, WHOLE).apply(records)])
    expected = model(client)
    flush(client)
    node = model_node(client)
    sink = sink_on(
        client,
        50,
        Interrupting(
            client, 100, lambda: node.execute_command("ACL", "SETUSER", "default", "-eval")
        ),
    )
    try:
        with pytest.raises(SinkUnavailable, match="Redis refused"):
            sink.apply(records)
    finally:
        node.execute_command("ACL", "SETUSER", "default", "+@all")
    assert sink.stored_offsets(TOPIC) == {0: 99}

    again = sink.apply(records)
    assert model(client) == expected
    assert again.skipped == 100
    assert counts([again]) == {**expected_counts, "skipped": 100}


def test_connections_killed_between_chunks_fail_the_batch_and_the_next_try_completes_it(
    client: redis.Redis,
) -> None:
    records = partition_zero(200)
    expected = stored_whole(client, records)
    node = model_node(client)
    kill = Interrupting(client, 100, lambda: node.client_kill_filter(_type="normal", skipme=True))
    sink = sink_on(client, 50, kill)

    with pytest.raises(SinkUnavailable):
        sink.apply(records)
    assert sink.stored_offsets(TOPIC) == {0: 99}

    again = sink.apply(records)
    assert again.skipped == 100
    assert model(client) == expected


# -- submitted, then settled --------------------------------------------------------------


def test_a_submitted_batch_is_stored_only_once_settled_and_leaves_what_apply_leaves(
    client: redis.Redis,
) -> None:
    records = partition_zero(200)
    flush(client)
    applied = sink_on(client, 50).apply(records)
    expected = model(client)
    flush(client)
    sink = sink_on(client, 50)

    assert sink.settle() is None  # nothing submitted
    sink.submit(records)
    with pytest.raises(RuntimeError, match="not settled"):
        sink.submit(records)
    settled = sink.settle()

    assert settled is not None
    assert counts([settled]) == counts([applied])
    assert settled.offsets == applied.offsets == {0: 199}
    assert model(client) == expected
    assert sink.settle() is None


def test_connections_killed_between_submit_and_settle_lose_nothing(client: redis.Redis) -> None:
    # The last chunk's script may or may not have run when the connections
    # die: settle either reports the batch stored or fails, and the batch
    # submitted again completes what is missing, counting nothing twice.
    records = partition_zero(200)
    expected = stored_whole(client, records)
    node = model_node(client)
    sink = sink_on(client, 50)
    sink.submit(records)
    node.client_kill_filter(_type="normal", skipme=True)
    try:
        first = sink.settle()
    except SinkUnavailable:
        first = None
    sink.submit(records)
    again = sink.settle()

    assert again is not None
    assert model(client) == expected
    if first is not None:
        assert again.skipped == 200
    stored_before = again.skipped
    assert again.applied + again.duplicates + len(again.invalid) == 200 - stored_before


def test_a_batch_that_fails_to_submit_leaves_nothing_to_settle() -> None:
    sink = RedisSink(
        redis.Redis(port=1, socket_connect_timeout=0.2),
        METRICS_GROUP,
        SHANGHAI,
        clock=lambda: NOW,
    )
    with pytest.raises(SinkUnavailable):
        sink.submit(partition_zero(10))
    assert sink.settle() is None


# -- staged while the batch before is stored -------------------------------------------------


def test_a_batch_staged_while_the_one_before_is_stored_leaves_what_apply_leaves(
    client: redis.Redis,
) -> None:
    records = partition_zero(200)
    expected = stored_whole(client, records)
    first, second = records[:90], records[90:]
    sink = sink_on(client, 25)

    sink.submit(first)
    sink.stage(second)  # its reads run behind the first batch's stores
    assert sink.settle() is not None
    sink.submit(second)
    summary = sink.settle()

    assert sink.timings.staged == 1
    assert summary is not None and summary.offsets == {0: 199}
    assert summary.applied + summary.duplicates + len(summary.invalid) == 110
    assert model(client) == expected
    assert sink._pipe is None  # given back once nothing waits on it


def test_a_staged_batch_reads_again_when_the_batch_before_it_raced(client: redis.Redis) -> None:
    # The first batch's third chunk finds the offsets moved (another consumer
    # stored its records) and is recomputed while settling: the second batch's
    # staged reads ran before that, so they are given up and read again, and
    # the second batch does not race.
    records = partition_zero(200)
    expected = stored_whole(client, records)
    first, second = records[:120], records[120:]
    rival = sink_on(client, WHOLE)
    kernel = Interrupting(client, 60, lambda: rival.apply(records[60:100]))
    sink = sink_on(client, 30, kernel)

    sink.submit(first)
    sink.stage(second)
    settled = sink.settle()
    assert settled is not None and settled.skipped == 40
    sink.submit(second)
    assert sink.settle() is not None

    assert sink.timings.races == 1
    assert sink.timings.staged == 0
    assert model(client) == expected


def test_a_batch_submitted_with_other_records_than_those_staged_drops_the_staged_ones(
    client: redis.Redis,
) -> None:
    records = partition_zero(200)
    expected = stored_whole(client, records)
    sink = sink_on(client, 25)
    sink.submit(records[:100])
    sink.stage(records[100:150])  # dropped: the loop polled again from elsewhere
    sink.settle()
    sink.submit(records[100:])
    sink.settle()

    assert sink.timings.staged == 0
    assert model(client) == expected
    assert sink._pipe is None


def test_connections_killed_after_a_batch_is_staged_lose_nothing(client: redis.Redis) -> None:
    records = partition_zero(200)
    expected = stored_whole(client, records)
    node = model_node(client)
    sink = sink_on(client, 25)
    sink.submit(records[:100])
    sink.stage(records[100:])
    node.client_kill_filter(_type="normal", skipme=True)
    with contextlib.suppress(SinkUnavailable):
        sink.settle()
    sink.submit(records)  # polled again from the stored positions
    again = sink.settle()

    assert again is not None
    assert sink.timings.staged == 0
    assert model(client) == expected
