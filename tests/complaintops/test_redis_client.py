"""Connecting to a single Redis server or to a Redis Cluster by its seed nodes."""

from __future__ import annotations

import pytest
import redis

from complaintops.embedded import find_free_port
from complaintops.embedded_cluster import EmbeddedCluster
from complaintops.redis_client import connect, seed_nodes
from metrics import keys


def test_a_cluster_url_names_its_seed_nodes_credentials_and_tls() -> None:
    nodes, credentials = seed_nodes("rediss://ops:s%40cret@r1:7000,r2:7001, r3/0")
    assert [(n.host, n.port) for n in nodes] == [("r1", 7000), ("r2", 7001), ("r3", 6379)]
    assert credentials == {"ssl": True, "username": "ops", "password": "s@cret"}
    assert seed_nodes("redis://:pw@r1:7000")[1] == {"ssl": False, "password": "pw"}
    assert seed_nodes("redis://r1:7000")[1] == {"ssl": False}


@pytest.mark.parametrize("url", ["unix:///tmp/redis.sock", "redis://r1:port", "redis://:7000"])
def test_a_bad_cluster_url_is_refused_with_its_value(url: str) -> None:
    with pytest.raises(ValueError, match="Redis Cluster URL"):
        seed_nodes(url)


def test_a_cluster_starts_while_its_first_seed_node_is_down(
    valkey_cluster: EmbeddedCluster,
) -> None:
    host, port = valkey_cluster.startup_nodes[1]
    url = f"redis://127.0.0.1:{find_free_port()},{host}:{port}"
    client = connect(url, cluster=True, socket_connect_timeout=1)
    try:
        client.set(keys.REBUILDING, "x", ex=5)
        assert client.get(keys.REBUILDING) == b"x"
    finally:
        client.delete(keys.REBUILDING)
        client.close()


def test_no_answering_seed_node_is_a_connection_error_naming_them() -> None:
    port = find_free_port()
    with pytest.raises(redis.ConnectionError, match=f"127.0.0.1:{port}"):
        connect(f"redis://127.0.0.1:{port}", cluster=True, socket_connect_timeout=1)
