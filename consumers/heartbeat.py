"""A sensor that publishes each consumer group's liveness and lag to Redis.

The wall's "updated N s ago" badge, the health check and the consumer-lag
alert read it from ``co:consumer:<group>``: ``ts`` (last report), ``lag``
(records behind the high watermarks), ``batch_ts`` (last stored batch),
``applied`` (applied in the last batch), ``error`` (last error) and
``error_since`` (when the errors without a success in between began), both
cleared by the next stored batch or empty poll. A consumer that keeps failing
still reports, so ``error_since`` tells a passing error from one it is stuck
on even when Redis lost the rest of the hash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from consumers.sink import BatchSummary
from metrics import keys

log = logging.getLogger(__name__)


class RedisHeartbeat:
    def __init__(
        self,
        client: redis.Redis,
        clock: Callable[[], float] = time.time,
        min_interval: float = 1.0,
    ) -> None:
        self.client = client
        self.clock = clock
        self.min_interval = min_interval
        self._last_idle: dict[str, float] = {}

    def _write(
        self, group: str, fields: Mapping[Any, Any], failing_since: float | None = None
    ) -> None:
        """Write ``fields``. With ``failing_since``, the consumer is failing: keep
        the ``error_since`` already there or set it; without, it is healthy:
        clear it."""
        key = keys.CONSUMER_HEARTBEAT.format(group)
        try:
            pipe = self.client.pipeline(transaction=False)
            # No TTL: a consumer that died long ago must still show as stale.
            pipe.hset(key, mapping=fields)
            if failing_since is not None:
                pipe.hsetnx(key, "error_since", failing_since)
            else:
                pipe.hdel(key, "error_since")
            pipe.execute()
        except redis.RedisError as exc:
            log.debug("heartbeat not written: %s", exc)

    def on_batch(
        self, group: str, summary: BatchSummary, seconds: float, lag: dict[int, int]
    ) -> None:
        now = self.clock()
        self._write(
            group,
            {
                "ts": now,
                "batch_ts": now,
                "lag": sum(lag.values()),
                "applied": summary.applied,
                "batch_ms": round(seconds * 1000, 1),
                "error": "",
            },
        )

    def on_idle(self, group: str, lag: dict[int, int]) -> None:
        now = self.clock()
        if now - self._last_idle.get(group, 0.0) < self.min_interval:
            return
        self._last_idle[group] = now
        # A poll that found nothing to store: whatever failed before works now.
        self._write(group, {"ts": now, "lag": sum(lag.values()), "error": ""})

    def on_error(self, group: str, error: BaseException, retry_in: float) -> None:
        now = self.clock()
        self._write(group, {"ts": now, "error": str(error)[:500]}, failing_since=now)

    def on_dead_letter(
        self, group: str, topic: str, partition: int, offset: int, reason: str
    ) -> None:
        return None

    def on_commit(self, group: str, offsets: dict[int, int]) -> None:
        return None
