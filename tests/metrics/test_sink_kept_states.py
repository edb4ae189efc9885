"""The states a metrics sink stored itself, kept instead of read back, against a real Valkey.

A kept state is used only while its partition's stored offset is the one
this sink stored, in the same build of the read model: another writer of
the partition, or a rebuild, sends the sink back to Redis for it, and for
every other case of that partition it kept.
"""

from __future__ import annotations

import pytest
import redis

from consumers.sink import SinkNotReady
from events import contract as c
from metrics import keys
from metrics.query import MetricsQuery
from metrics.sink import RedisSink
from tests.events.factory import SHANGHAI, CaseScript, encode
from tests.metrics.test_sink import NOW, records

GROUP = "complaintops-metrics"
CHUNKINGS = [None, 1]  # the default chunks; one record a chunk


def new_sink(client: redis.Redis, chunk_records: int | None) -> RedisSink:
    sink = RedisSink(client, GROUP, SHANGHAI, clock=lambda: NOW, chunk_records=chunk_records)
    sink.prepare(group_has_committed=False)
    return sink


def wip(client: redis.Redis) -> dict[str, int]:
    return MetricsQuery(client, SHANGHAI, clock=lambda: NOW).overview().wip


def test_a_sink_keeps_the_states_it_stored(redis_client: redis.Redis) -> None:
    sink = new_sink(redis_client, None)
    x = CaseScript("C-X")
    sink.apply(records([encode(x.opened("2026-11-24T09:00:00+08:00"))]))
    assert len(sink.stored_states) == 1
    # What Redis holds for the case is not read again while the sink's own
    # store is the last of its partition: a form no decoder takes goes unnoticed.
    redis_client.set(keys.case("C-X"), b"not a state")
    summary = sink.apply(
        records(
            [
                encode(
                    x.next(c.STAGE_CHANGED, "2026-11-24T10:00:00+08:00", to_stage="investigation")
                )
            ],
            start=1,
        )
    )
    assert (summary.applied, summary.gaps, len(summary.invalid)) == (1, 0, 0)
    assert wip(redis_client)["investigation"] == 1


@pytest.mark.parametrize("chunk_records", CHUNKINGS)
def test_another_writer_of_the_partition_sends_the_sink_back_to_redis(
    redis_client: redis.Redis, chunk_records: int | None
) -> None:
    a, b = new_sink(redis_client, chunk_records), new_sink(redis_client, chunk_records)
    x = CaseScript("C-X")
    opened = encode(x.opened("2026-11-24T09:00:00+08:00"))
    investigated = encode(
        x.next(c.STAGE_CHANGED, "2026-11-24T10:00:00+08:00", to_stage="investigation")
    )
    resolved = encode(x.next(c.STAGE_CHANGED, "2026-11-24T11:00:00+08:00", to_stage="resolution"))
    a.apply(records([opened]))
    # The partition moved to b, which stored the next record, and came back.
    assert b.apply(records([opened, investigated])).applied == 1
    summary = a.apply(records([resolved], start=2))
    # a's kept state (after the opening) would make seq 3 a gap.
    assert (summary.applied, summary.gaps) == (1, 0)
    assert wip(redis_client)["resolution"] == 1 and wip(redis_client)["investigation"] == 0


@pytest.mark.parametrize("chunk_records", CHUNKINGS)
def test_the_other_kept_cases_of_a_partition_another_wrote_are_read_again(
    redis_client: redis.Redis, chunk_records: int | None
) -> None:
    a, b = new_sink(redis_client, chunk_records), new_sink(redis_client, chunk_records)
    x, y = CaseScript("C-X"), CaseScript("C-Y")
    x1 = encode(x.opened("2026-11-24T09:00:00+08:00"))
    y1 = encode(y.opened("2026-11-24T09:05:00+08:00"))
    y2 = encode(y.next(c.STAGE_CHANGED, "2026-11-24T10:00:00+08:00", to_stage="investigation"))
    x2 = encode(x.next(c.STAGE_CHANGED, "2026-11-24T10:30:00+08:00", to_stage="investigation"))
    y3 = encode(y.next(c.STAGE_CHANGED, "2026-11-24T11:00:00+08:00", to_stage="resolution"))
    a.apply(records([x1, y1]))
    assert b.apply(records([x1, y1, y2])).applied == 1  # b wrote C-Y meanwhile
    # a's next batch has only C-X: a stores the partition again, so its offset
    # is a's once more; what a kept of C-Y must not count as stored.
    assert a.apply(records([x2], start=3)).applied == 1
    summary = a.apply(records([y3], start=4))
    assert (summary.applied, summary.gaps) == (1, 0)
    assert wip(redis_client)["resolution"] == 1 and wip(redis_client)["investigation"] == 1


def test_a_new_build_of_the_read_model_sends_the_sink_back_to_redis(
    redis_client: redis.Redis,
) -> None:
    a, b = new_sink(redis_client, None), new_sink(redis_client, None)
    x = CaseScript("C-X")
    opened = encode(x.opened("2026-11-24T09:00:00+08:00"))
    investigated = encode(
        x.next(c.STAGE_CHANGED, "2026-11-24T10:00:00+08:00", to_stage="investigation")
    )
    resolved = encode(x.next(c.STAGE_CHANGED, "2026-11-24T11:00:00+08:00", to_stage="resolution"))
    a.apply(records([opened]))
    b.apply(records([opened, investigated]))
    # As a rebuild may leave it: the same stored offset as a's, a new build.
    redis_client.set(keys.offset(GROUP, records([opened])[0].topic, 0), 0)
    redis_client.hset(keys.META, "built_at", "1800000000.5")
    summary = a.apply(records([resolved], start=2))
    assert (summary.applied, summary.gaps) == (1, 0)
    assert wip(redis_client)["resolution"] == 1


def test_a_refused_store_forgets_what_was_kept(redis_client: redis.Redis) -> None:
    sink = new_sink(redis_client, None)
    x = CaseScript("C-X")
    sink.apply(records([encode(x.opened("2026-11-24T09:00:00+08:00"))]))
    assert len(sink.stored_states) == 1
    redis_client.delete(keys.META)  # the read model lost: the next store is refused
    with pytest.raises(SinkNotReady):
        sink.apply(
            records(
                [
                    encode(
                        x.next(
                            c.STAGE_CHANGED, "2026-11-24T10:00:00+08:00", to_stage="investigation"
                        )
                    )
                ],
                start=1,
            )
        )
    assert len(sink.stored_states) == 0
