"""One way to connect to Redis: a single server or a Redis Cluster.

Every key the metrics batches write shares one hash tag (see metrics.keys),
so the same commands, pipelines and scripts run on both. The cluster client
is handed out under the single-server type: the code uses only the commands
both clients offer, and the cluster tests run that code against a real
cluster.

A cluster URL may name several seed nodes, ``redis://[user:password@]host:port,host:port``:
the client asks them in turn for the cluster's layout, so one node down at
start does not keep a process from starting.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote

import redis
from redis.cluster import ClusterNode
from redis.exceptions import RedisClusterException

DEFAULT_PORT = 6379


def connect(url: str, *, cluster: bool = False, **options: Any) -> redis.Redis:
    """A client for ``url``; with ``cluster``, a cluster client seeded by its nodes.

    Raises redis.ConnectionError when no seed node of a cluster answers (the
    cluster client connects at once, unlike the single-server one)."""
    if not cluster:
        return redis.Redis.from_url(url, **options)
    options.pop("health_check_interval", None)
    nodes, credentials = seed_nodes(url)
    try:
        client = redis.RedisCluster(startup_nodes=nodes, **credentials, **options)
    except RedisClusterException as exc:
        seeds = ", ".join(f"{n.host}:{n.port}" for n in nodes)
        raise redis.ConnectionError(f"no Redis Cluster node answered at {seeds}: {exc}") from exc
    return cast(redis.Redis, client)


def seed_nodes(url: str) -> tuple[list[ClusterNode], dict[str, Any]]:
    """The seed nodes of a cluster URL and the credentials and TLS flag it carries."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("redis", "rediss"):
        raise ValueError(f"a Redis Cluster URL starts with redis:// or rediss://, got {url!r}")
    netloc = rest.split("/", 1)[0]
    userinfo, _, hosts = netloc.rpartition("@")
    nodes = []
    for server in hosts.split(","):
        server = server.strip()
        host, _, port = server.rpartition(":") if ":" in server else (server, "", "")
        if not host or (port and not port.isdigit()):
            raise ValueError(f"a Redis Cluster URL names host:port nodes, got {server!r}")
        nodes.append(ClusterNode(host, int(port) if port else DEFAULT_PORT))
    credentials: dict[str, Any] = {"ssl": scheme == "rediss"}
    if userinfo:
        username, has_password, password = userinfo.partition(":")
        if username:
            credentials["username"] = unquote(username)
        if has_password:
            credentials["password"] = unquote(password)
    return nodes, credentials
