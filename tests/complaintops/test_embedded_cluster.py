"""The embedded Valkey Cluster, started for real, and what redis-py's
``RedisCluster`` (8.1) does on it: the facts the cluster code relies on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from redis.exceptions import (
    CrossSlotTransactionError,
    MovedError,
    RedisClusterException,
    ResponseError,
)

from complaintops.embedded_cluster import CLUSTER_SLOTS, EmbeddedCluster, slot_ranges

TAGS = ("s1", "s2", "s3")
"""Hash tags whose slots (15224, 2843, 6970) fall on three different nodes of a 3-node cluster."""

# KEYS[1] is declared; the second key is only named, in ARGV[2].
TWO_KEY_SCRIPT = """
local a = redis.call('INCRBY', KEYS[1], ARGV[1])
local b = redis.call('INCRBY', ARGV[2], ARGV[1])
return {a, b}
"""


def owner_port(cluster: EmbeddedCluster, slot: int) -> int:
    """The port of the node that was given ``slot`` when the cluster formed."""
    for (first, last), node in zip(slot_ranges(len(cluster.nodes)), cluster.nodes, strict=True):
        if first <= slot <= last:
            return node.port
    raise AssertionError(f"slot {slot} is not assigned")


@pytest.fixture
def node_clients(valkey_cluster: EmbeddedCluster) -> Iterator[dict[int, redis.Redis]]:
    """A plain (non-cluster) client per node, by port."""
    clients = {
        port: redis.Redis(host=host, port=port) for host, port in valkey_cluster.startup_nodes
    }
    try:
        yield clients
    finally:
        for client in clients.values():
            client.close()


# -- the cluster -----------------------------------------------------------------


def test_cluster_forms_with_every_slot_served(
    valkey_cluster: EmbeddedCluster, node_clients: dict[int, redis.Redis]
) -> None:
    assert len(valkey_cluster.nodes) == 3
    assert all(node.is_running for node in valkey_cluster.nodes)
    host, port = valkey_cluster.startup_nodes[0]
    assert valkey_cluster.url == f"redis://{host}:{port}"
    for client in node_clients.values():
        info = client.execute_command("CLUSTER INFO")
        assert info["cluster_state"] == "ok"
        assert info["cluster_known_nodes"] == "3"
        assert info["cluster_slots_assigned"] == str(CLUSTER_SLOTS)
    with valkey_cluster.client() as client:
        owners = {slots: primary["primary"][1] for slots, primary in client.cluster_slots().items()}
    expected = {
        slots: node.port for slots, node in zip(slot_ranges(3), valkey_cluster.nodes, strict=True)
    }
    assert owners == expected


def test_url_is_enough_to_discover_the_cluster(valkey_cluster: EmbeddedCluster) -> None:
    with redis.RedisCluster.from_url(valkey_cluster.url) as client:
        assert {node.port for node in client.get_primaries()} == {
            port for _, port in valkey_cluster.startup_nodes
        }


def test_hash_tags_put_keys_on_different_nodes(
    cluster_client: redis.RedisCluster,
    valkey_cluster: EmbeddedCluster,
    node_clients: dict[int, redis.Redis],
) -> None:
    any_node = next(iter(node_clients.values()))
    owners = set()
    for tag in TAGS:
        key_a, key_b = f"co:{{{tag}}}:a", f"co:{{{tag}}}:b"
        slot = cluster_client.keyslot(key_a)
        assert slot == cluster_client.keyslot(key_b)
        assert slot == any_node.execute_command("CLUSTER KEYSLOT", key_a)
        port = owner_port(valkey_cluster, slot)
        assert cluster_client.get_node_from_key(key_a).port == port
        owners.add(port)
        cluster_client.set(key_a, tag)
        assert node_clients[port].get(key_a) == tag.encode()
        other = next(client for p, client in node_clients.items() if p != port)
        with pytest.raises(MovedError) as moved:
            other.get(key_a)
        assert (moved.value.slot_id, moved.value.port) == (slot, port)
    assert len(owners) == 3


# -- pipelines -------------------------------------------------------------------


@pytest.mark.parametrize("transaction", [None, False], ids=["default", "transaction-False"])
def test_pipeline_spans_slots(cluster_client: redis.RedisCluster, transaction: bool | None) -> None:
    pipe = cluster_client.pipeline(transaction=transaction)
    for tag in TAGS:
        pipe.set(f"co:{{{tag}}}:a", tag)
        pipe.incrby(f"co:{{{tag}}}:n", 2)
        pipe.hset(f"co:{{{tag}}}:h", mapping={"f": tag})
    for tag in TAGS:
        pipe.get(f"co:{{{tag}}}:a")
    results = pipe.execute()
    assert results == [True, 2, 1] * 3 + [tag.encode() for tag in TAGS]


def test_transaction_pipeline_needs_one_slot(cluster_client: redis.RedisCluster) -> None:
    same_slot = cluster_client.pipeline(transaction=True)
    same_slot.set("co:{s1}:a", 1).incr("co:{s1}:b")
    # unlike the non-transactional pipeline, replies are not post-processed: SET gives b"OK"
    assert same_slot.execute() == [b"OK", 1]
    cross_slot = cluster_client.pipeline(transaction=True)
    cross_slot.set("co:{s1}:a", 1).set("co:{s2}:a", 1)
    with pytest.raises(CrossSlotTransactionError, match="same slot"):
        cross_slot.execute()


def test_pipeline_refuses_multi_key_mget(cluster_client: redis.RedisCluster) -> None:
    with pytest.raises(RedisClusterException, match="mget is blocked"):
        cluster_client.pipeline().mget("co:{s1}:a", "co:{s1}:b")


# -- scripts ---------------------------------------------------------------------


def test_script_touches_undeclared_key_with_the_same_tag(
    cluster_client: redis.RedisCluster,
) -> None:
    script = cluster_client.register_script(TWO_KEY_SCRIPT)
    assert script(keys=["co:{s3}:a"], args=[5, "co:{s3}:b"]) == [5, 5]
    assert script(keys=["co:{s3}:a"], args=[1, "co:{s3}:b"]) == [6, 6]
    assert cluster_client.get("co:{s3}:b") == b"6"


def test_script_fails_on_undeclared_key_of_another_node(
    cluster_client: redis.RedisCluster,
) -> None:
    script = cluster_client.register_script(TWO_KEY_SCRIPT)
    assert cluster_client.get_node_from_key("co:{s3}:a") != cluster_client.get_node_from_key(
        "co:{s1}:b"
    )
    with pytest.raises(ResponseError, match="non local key in a cluster node"):
        script(keys=["co:{s3}:a"], args=[5, "co:{s1}:b"])
    # the script stopped at the failing call; the first INCRBY stays done (no rollback)
    assert cluster_client.get("co:{s3}:a") == b"5"


def test_script_undeclared_key_of_another_slot_on_the_same_node_is_not_refused(
    cluster_client: redis.RedisCluster,
) -> None:
    """Valkey 8.1 only refuses keys another node serves: an undeclared key of
    another slot works while both slots share a node (and breaks after a reshard)."""
    script = cluster_client.register_script(TWO_KEY_SCRIPT)
    node = cluster_client.get_node_from_key("co:{s3}:a")
    tag = next(
        f"t{index}"
        for index in range(1000)
        if cluster_client.get_node_from_key(f"co:{{t{index}}}:b") == node
        and cluster_client.keyslot(f"co:{{t{index}}}:b") != cluster_client.keyslot("co:{s3}:a")
    )
    assert script(keys=["co:{s3}:a"], args=[5, f"co:{{{tag}}}:b"]) == [5, 5]


def test_declared_keys_of_two_slots_are_refused_by_the_client(
    cluster_client: redis.RedisCluster,
) -> None:
    with pytest.raises(RedisClusterException, match="all keys must map to the same key slot"):
        cluster_client.eval("return 1", 2, "co:{s1}:a", "co:{s2}:a")


def test_script_object_cannot_run_in_a_cluster_pipeline(
    cluster_client: redis.RedisCluster,
) -> None:
    script = cluster_client.register_script(TWO_KEY_SCRIPT)
    pipe = cluster_client.pipeline()
    with pytest.raises(RedisClusterException, match="evalsha is blocked"):
        script(keys=["co:{s1}:a"], args=[1, "co:{s1}:b"], client=pipe)


def test_raw_evalsha_runs_in_a_cluster_pipeline_across_tags(
    cluster_client: redis.RedisCluster,
) -> None:
    """The workaround: load the script on every primary, then queue EVALSHA by hand;
    each call goes to the node of its first key."""
    script = cluster_client.register_script(TWO_KEY_SCRIPT)
    assert cluster_client.script_load(TWO_KEY_SCRIPT) == script.sha  # loads on every primary
    assert cluster_client.script_exists(script.sha) == [True]
    pipe = cluster_client.pipeline()
    for increment, tag in enumerate(TAGS, start=1):
        pipe.execute_command(
            "EVALSHA", script.sha, 1, f"co:{{{tag}}}:a", increment, f"co:{{{tag}}}:b"
        )
    assert pipe.execute() == [[1, 1], [2, 2], [3, 3]]


# -- multi-key and node-wide commands ------------------------------------------------


def test_mget_needs_one_slot_and_mget_nonatomic_splits(
    cluster_client: redis.RedisCluster,
) -> None:
    cluster_client.mset_nonatomic({f"co:{{{tag}}}:a": tag for tag in TAGS})
    assert cluster_client.mget("co:{s1}:a", "co:{s1}:missing") == [b"s1", None]
    with pytest.raises(RedisClusterException, match="MGET - all keys must map to the same key"):
        cluster_client.mget("co:{s1}:a", "co:{s2}:a")
    keys = ["co:{s3}:a", "co:{s1}:missing", "co:{s1}:a", "co:{s2}:a"]
    assert cluster_client.mget_nonatomic(keys) == [b"s3", None, b"s1", b"s2"]


def test_exists_and_delete_count_over_slots(cluster_client: redis.RedisCluster) -> None:
    for tag in TAGS:
        cluster_client.set(f"co:{{{tag}}}:a", 1)
    keys = [f"co:{{{tag}}}:a" for tag in TAGS]
    assert cluster_client.exists(*keys, "co:{s1}:missing") == 3
    assert cluster_client.delete(*keys, "co:{s1}:missing") == 3
    assert cluster_client.exists(*keys) == 0


def test_scan_iter_covers_every_primary_but_keys_one_node(
    cluster_client: redis.RedisCluster,
) -> None:
    keys = {f"co:{{{tag}}}:{index}".encode() for tag in TAGS for index in range(50)}
    for key in keys:
        cluster_client.set(key, 1)
    cluster_client.set("other", 1)
    assert set(cluster_client.scan_iter(match="co:*", count=10)) == keys
    assert set(cluster_client.keys("co:*", target_nodes=redis.RedisCluster.PRIMARIES)) == keys
    # without target_nodes, KEYS (like DBSIZE and PING) asks the default node only
    assert set(cluster_client.keys("co:*")) < keys
    assert cluster_client.dbsize() < len(keys)


def test_hash_and_sorted_set_commands_are_plain(cluster_client: redis.RedisCluster) -> None:
    cluster_client.hset("co:{s1}:h", mapping={"a": 1, "b": 2})
    cluster_client.zadd("co:{s2}:z", {"m1": 1, "m2": 5, "m3": 9})
    assert cluster_client.hgetall("co:{s1}:h") == {b"a": b"1", b"b": b"2"}
    assert cluster_client.zrangebyscore("co:{s2}:z", 2, 10, withscores=True) == [
        (b"m2", 5.0),
        (b"m3", 9.0),
    ]
    pipe = cluster_client.pipeline()
    pipe.hgetall("co:{s1}:h").zrangebyscore("co:{s2}:z", 0, 5)
    assert pipe.execute() == [{b"a": b"1", b"b": b"2"}, [b"m1", b"m2"]]


def test_ping_returns_true(cluster_client: redis.RedisCluster) -> None:
    assert cluster_client.ping() is True
    assert cluster_client.ping(target_nodes=redis.RedisCluster.ALL_NODES) is True


def test_decode_responses(valkey_cluster: EmbeddedCluster) -> None:
    with valkey_cluster.client(decode_responses=True) as client:
        client.set("co:{s1}:text", "é")
        assert client.get("co:{s1}:text") == "é"


def test_cluster_client_fixture_starts_empty(cluster_client: redis.RedisCluster) -> None:
    assert sum(1 for _ in cluster_client.scan_iter()) == 0
