"""Commands sent ahead of their replies on one connection (Redis pipelining).

The metrics sink computes a large batch in chunks and sends each chunk's
script call as soon as it is computed, then computes the next chunk while
Redis runs the script: the replies are read later, in order. Redis runs a
connection's commands in the order they arrive, one at a time, so the
chunks are stored in order, and the calling thread never waits for Redis
except for a reply it needs (the states of the cases) and the last chunk's.

Nothing here runs on another thread. (A background I/O thread was measured
first: each socket call releases the GIL and must win it back from the
computing thread, which costs up to the interpreter's switch interval, 5 ms,
every time, so the calls queued behind the computation and most of the wait
came back at the end of the batch.)

On Redis Cluster the connection goes to the primary that holds the read
model's slot (every model key shares the hash tag ``{m}``, see
metrics.keys), found through the cluster client's slot map; a reply that
redirects (MOVED, ASK, TRYAGAIN) is an error like any other; the caller
passes a MOVED on to the client's slot map (``learn_redirect``), so that the
next pipe goes to the slot's new primary.
"""

from __future__ import annotations

from typing import Any, cast

import hiredis
import redis
from redis.connection import ConnectionInterface, ConnectionPoolInterface
from redis.exceptions import MovedError

from metrics import keys

# A last argument longer than this is sent apart from the rest of its command.
SEND_AS_IS = 16 * 1024


def _pack(args: tuple[str | bytes | int, ...]) -> bytes:
    # (hiredis's stub types the argument as a 1-tuple; it takes any length.)
    packed: bytes = hiredis.pack_command(cast(Any, args))
    return packed


def model_node(client: redis.Redis) -> redis.Redis:
    """The client of the server that holds the read model: ``client`` itself,
    or on Redis Cluster the primary of the model's slot."""
    if isinstance(client, redis.RedisCluster):
        node = client.get_node_from_key(keys.META)
        return client.get_redis_connection(node)
    return client


def learn_redirect(client: redis.Redis, error: BaseException) -> None:
    """On Redis Cluster, move the slot of a MOVED reply in the client's slot
    map (a pipe does not follow redirections; this is what the cluster
    client does when it meets one itself)."""
    if isinstance(client, redis.RedisCluster) and isinstance(error, MovedError):
        client.nodes_manager.move_slot(error)


class Pipe:
    """Commands sent at once, replies read later in the order they were sent.

    ``send`` returns a ticket; ``reply(ticket)`` reads the replies up to it
    (keeping the earlier ones) and returns it, or raises the error Redis
    answered with. Each reply is handed out once; ``discard(ticket)``
    gives up one that is not wanted (read in its turn and dropped), so a
    pipe kept open from batch to batch keeps no reply it will not give. A
    broken connection (ConnectionError, TimeoutError) loses every reply
    still unread (the commands may or may not have run) and breaks the
    pipe: every later call raises that error again, rather than reconnect
    and take another command's reply for a lost one. ``close`` gives the
    connection back to its pool only when every reply was read and it did
    not break; otherwise it disconnects it, so that no other caller reads a
    reply that is not its own.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._pool: ConnectionPoolInterface = model_node(client).connection_pool
        self._connection: ConnectionInterface | None = self._pool.get_connection()
        self._sent = 0
        self._received = 0
        # The replies read and not handed out yet, by ticket (an error answered
        # is kept as its exception), and the tickets whose replies nobody wants.
        self._replies: dict[int, Any] = {}
        self._unwanted: set[int] = set()
        self._broken: Exception | None = None

    def send(self, *args: str | bytes | int) -> int:
        """Send one command now; its ticket.

        Packed by hiredis itself (redis-py's packer first looks at every
        argument in Python, a cost per key); a large last argument (a batch's
        writes) is sent as it is, not copied into the packed command.
        """
        connection = self._open()
        last = args[-1]
        if isinstance(last, bytes) and len(last) > SEND_AS_IS:
            head = _pack(args[:-1])
            # The count of arguments heads the command: one more than packed.
            start = head.index(b"\r\n") + 2
            parts = [b"*%d\r\n%b$%d\r\n" % (len(args), head[start:], len(last)), last, b"\r\n"]
        else:
            parts = [_pack(args)]
        try:
            connection.send_packed_command(parts, check_health=False)
        except Exception as exc:
            self._broken = exc
            raise
        self._sent += 1
        return self._sent - 1

    def reply(self, ticket: int) -> Any:
        """The reply to ``ticket`` (reading, in order, every reply before it);
        once only."""
        while self._received <= ticket:
            self._read_one()
        try:
            reply = self._replies.pop(ticket)
        except KeyError:
            raise ValueError(f"the reply to ticket {ticket} was handed out or discarded") from None
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply

    def discard(self, ticket: int) -> None:
        """Give up the reply to ``ticket``: it is dropped when it arrives."""
        if ticket < self._received:
            self._replies.pop(ticket, None)
        elif ticket < self._sent:
            self._unwanted.add(ticket)

    def pending(self) -> int:
        """Commands sent whose replies are not read yet."""
        return self._sent - self._received

    def ready(self, ticket: int) -> bool:
        """True when the reply to ``ticket`` can be had without waiting for
        Redis: it was read, or it is the next and has begun to arrive."""
        read = self._received
        if ticket < read:
            return True
        if ticket > read:
            return False
        connection = self._open()
        try:
            return bool(connection.can_read(0))
        except Exception as exc:
            self._broken = exc
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        if self.pending() or self._broken is not None:
            connection.disconnect()
        self._pool.release(connection)

    def _open(self) -> ConnectionInterface:
        if self._broken is not None:
            raise self._broken
        if self._connection is None:
            raise redis.ConnectionError("the pipe is closed")
        return self._connection

    def _read_one(self) -> None:
        connection = self._open()
        try:
            reply = connection.read_response()
        except redis.ResponseError as exc:
            reply = exc
        except Exception as exc:
            self._broken = exc
            raise
        ticket = self._received
        self._received += 1
        if ticket in self._unwanted:
            self._unwanted.remove(ticket)
        else:
            self._replies[ticket] = reply

    def __enter__(self) -> Pipe:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
