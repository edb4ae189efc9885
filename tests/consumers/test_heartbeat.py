"""The consumers' heartbeat in a real Redis, as the consumer-lag alert reads it."""

from __future__ import annotations

import redis

from alerts.sources import read_heartbeat
from consumers.heartbeat import RedisHeartbeat
from consumers.sink import BatchSummary

GROUP = "complaintops-metrics"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_batch_reports_lag_and_clears_the_error(redis_client: redis.Redis) -> None:
    clock = Clock(1000.0)
    beat = RedisHeartbeat(redis_client, clock)
    beat.on_error(GROUP, RuntimeError("database down"), 5)
    clock.now = 1010.0
    beat.on_batch(GROUP, BatchSummary(applied=7), 0.02, {0: 3, 1: 4})

    seen = read_heartbeat(redis_client, GROUP)
    assert seen is not None
    assert (seen.ts, seen.batch_ts, seen.lag, seen.error, seen.error_since) == (
        1010.0,
        1010.0,
        7,
        "",
        None,
    )


def test_repeated_errors_keep_the_time_the_failure_began(redis_client: redis.Redis) -> None:
    clock = Clock(1000.0)
    beat = RedisHeartbeat(redis_client, clock)
    beat.on_batch(GROUP, BatchSummary(applied=1), 0.01, {0: 0})
    for now in (1100.0, 1105.0, 1400.0):
        clock.now = now
        beat.on_error(GROUP, RuntimeError("read model not built"), 5)

    seen = read_heartbeat(redis_client, GROUP)
    assert seen is not None
    assert (seen.ts, seen.error, seen.error_since, seen.batch_ts) == (
        1400.0,
        "read model not built",
        1100.0,
        1000.0,
    )


def test_an_empty_poll_after_a_failure_clears_it(redis_client: redis.Redis) -> None:
    clock = Clock(1000.0)
    beat = RedisHeartbeat(redis_client, clock, min_interval=0)
    beat.on_error(GROUP, RuntimeError("broker unreachable"), 5)
    clock.now = 1200.0
    beat.on_idle(GROUP, {0: 0})

    seen = read_heartbeat(redis_client, GROUP)
    assert seen is not None and (seen.error, seen.error_since, seen.ts) == ("", None, 1200.0)


def test_after_redis_lost_the_hash_a_failing_consumer_still_says_since_when(
    redis_client: redis.Redis,
) -> None:
    clock = Clock(1000.0)
    beat = RedisHeartbeat(redis_client, clock)
    beat.on_batch(GROUP, BatchSummary(applied=1), 0.01, {0: 5})
    redis_client.flushall()
    beat.on_error(GROUP, RuntimeError("read model not built"), 5)

    seen = read_heartbeat(redis_client, GROUP)
    assert seen is not None
    assert (seen.lag, seen.batch_ts, seen.error_since) == (0, None, 1000.0)
