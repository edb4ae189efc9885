"""One way to connect to Redis: a single server or a Redis Cluster.

Every key the metrics batches write shares one hash tag (see metrics.keys),
so the same commands, pipelines and scripts run on both. The cluster client
is handed out under the single-server type: the code uses only the commands
both clients offer, and the cluster tests run that code against a real
cluster.
"""

from __future__ import annotations

from typing import Any, cast

import redis


def connect(url: str, *, cluster: bool = False, **options: Any) -> redis.Redis:
    """A client for ``url``; with ``cluster``, a cluster client seeded by that node."""
    if cluster:
        options.pop("health_check_interval", None)
        return cast(redis.Redis, redis.RedisCluster.from_url(url, **options))
    return redis.Redis.from_url(url, **options)
