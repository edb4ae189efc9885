"""Commands sent ahead of their replies (metrics.pipeline) against a real Valkey and cluster."""

from __future__ import annotations

from typing import cast

import pytest
import redis

from metrics import keys
from metrics.pipeline import SEND_AS_IS, Pipe, model_node


def test_replies_come_in_order_and_errors_stay_with_their_command(
    redis_client: redis.Redis,
) -> None:
    redis_client.set(keys.WIP, "a string")
    pipe = Pipe(redis_client)
    first = pipe.send("SET", keys.META, "1")
    wrong = pipe.send("HINCRBY", keys.WIP, "intake", 1)  # WRONGTYPE
    last = pipe.send("GET", keys.META)
    assert pipe.pending() == 3
    assert pipe.reply(last) == b"1"  # reads the earlier replies on the way
    assert pipe.pending() == 0
    assert pipe.reply(first) == b"OK"
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        pipe.reply(wrong)
    pipe.close()


def test_a_reply_is_ready_only_when_the_replies_before_it_are_read(
    redis_client: redis.Redis,
) -> None:
    with Pipe(redis_client) as pipe:
        slow = pipe.send("BLPOP", "co:nothing", 0.2)  # answers in 200 ms
        quick = pipe.send("PING")
        assert not pipe.ready(quick)  # its turn comes after the slow script's reply
        assert pipe.reply(slow) is None
        pipe.reply(quick)
        assert pipe.ready(quick) and pipe.ready(slow)


def test_a_pipe_closed_with_replies_unread_does_not_hand_them_to_the_next_caller(
    redis_client: redis.Redis,
) -> None:
    pipe = Pipe(redis_client)
    pipe.send("SET", "co:pipe", "x")
    pipe.send("GET", "co:pipe")
    pipe.close()
    # The connection went back disconnected: the next command reads its own reply.
    assert redis_client.incr("co:counter") == 1


def test_a_killed_connection_fails_the_replies_still_unread(redis_client: redis.Redis) -> None:
    pipe = Pipe(redis_client)
    ticket = pipe.send("PING")
    pipe.reply(ticket)
    redis_client.client_kill_filter(_type="normal", skipme=True)
    with pytest.raises(redis.ConnectionError):
        pipe.reply(pipe.send("PING"))
    # Broken for good: it does not reconnect and hand out replies out of turn.
    with pytest.raises(redis.ConnectionError):
        pipe.send("PING")
    pipe.close()
    assert redis_client.ping()


def test_on_a_cluster_the_pipe_talks_to_the_primary_of_the_model(
    cluster_client: redis.RedisCluster,
) -> None:
    client = cast(redis.Redis, cluster_client)
    node = model_node(client)
    owner = cluster_client.get_node_from_key(keys.META)
    assert node.connection_pool.connection_kwargs["port"] == owner.port
    with Pipe(client) as pipe:
        ticket = pipe.send("SET", keys.META, "1")
        pipe.reply(ticket)
        assert pipe.reply(pipe.send("GET", keys.META)) == b"1"
    assert cluster_client.get(keys.META) == b"1"


def test_a_large_last_argument_arrives_whole(redis_client: redis.Redis) -> None:
    value = bytes(range(256)) * 1000  # over SEND_AS_IS, every byte value, CR LF among them
    assert len(value) > SEND_AS_IS
    with Pipe(redis_client) as pipe:
        stored = pipe.send("SET", "co:large", value)
        echoed = pipe.send("EVAL", "return ARGV[2]", 0, b"first", value)
        assert pipe.reply(stored) == b"OK"
        assert pipe.reply(echoed) == value
    assert redis_client.get("co:large") == value


def test_a_reply_is_handed_out_once_and_a_discarded_one_is_dropped_in_its_turn(
    redis_client: redis.Redis,
) -> None:
    with Pipe(redis_client) as pipe:
        unwanted = pipe.send("SET", "co:pipe", "x")
        wanted = pipe.send("GET", "co:pipe")
        given_up_late = pipe.send("PING")
        pipe.discard(unwanted)  # not read yet: dropped when it arrives
        assert pipe.reply(wanted) == b"x"
        pipe.discard(given_up_late)
        assert pipe.pending() == 1
        assert pipe.reply(pipe.send("ECHO", "last")) == b"last"
        assert pipe.pending() == 0
        for ticket in (unwanted, wanted, given_up_late):
            with pytest.raises(ValueError, match="handed out or discarded"):
                pipe.reply(ticket)
        assert pipe._replies == {}  # nothing kept for nobody
