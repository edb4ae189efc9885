"""An embedded Valkey Cluster for the tests: several ``valkey-server`` primaries.

Each node is the ``valkey-server`` of :func:`complaintops.embedded.valkey_binary`
started in cluster mode (no replicas) through
:func:`complaintops.embedded.start_service`, so it runs in its own process
group, logs to ``<work dir>/valkey.log`` and is stopped at interpreter exit if
nobody stopped it before.

The cluster is formed without ``valkey-cli``: the 16384 hash slots are split
evenly with ``CLUSTER ADDSLOTSRANGE``, every node is introduced to the first
with ``CLUSTER MEET``, and the start waits until every node reports
``cluster_state:ok`` and knows all the nodes.
"""

from __future__ import annotations

import contextlib
import functools
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode
from redis.retry import Retry

from complaintops.embedded import (
    LOCALHOST,
    NO_PERSISTENCE,
    START_TIMEOUT_S,
    EmbeddedService,
    EmbeddedStartError,
    PortInUseError,
    ensure_port_free,
    find_free_port,
    start_service,
    valkey_answers_ping,
    valkey_argv,
    valkey_env,
)

CLUSTER_SERVICE = "Redis Cluster node (Valkey)"
CLUSTER_SLOTS = 16384
CLUSTER_NODE_TIMEOUT_MS = 5000
FORM_TIMEOUT_S = 30.0
"""How long the nodes may take to agree on a healthy cluster after ``CLUSTER MEET``."""

_PORT_FLAG = "--port"
_BUS_PORT_FLAG = "--cluster-port"
_PORT_ATTEMPTS = 3
_FORM_POLL_INTERVAL_S = 0.1


@dataclass
class EmbeddedCluster:
    """A running embedded Valkey Cluster: one primary per node, no replicas."""

    nodes: list[EmbeddedService]
    startup_nodes: list[tuple[str, int]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT`` of the first node (enough for cluster discovery)."""
        host, port = self.startup_nodes[0]
        return f"redis://{host}:{port}"

    def client(self, decode_responses: bool = False) -> redis.RedisCluster:
        """A new cluster client on these nodes; the caller closes it."""
        return redis.RedisCluster(
            startup_nodes=[ClusterNode(host, port) for host, port in self.startup_nodes],
            decode_responses=decode_responses,
        )

    def stop(self) -> None:
        """Stop every node. Safe to call twice."""
        for node in self.nodes:
            node.stop()


def slot_ranges(masters: int) -> list[tuple[int, int]]:
    """The 16384 slots split into ``masters`` contiguous, inclusive, near-equal ranges."""
    if masters < 1:
        raise ValueError(f"a cluster needs at least one master, not {masters}")
    bounds = [CLUSTER_SLOTS * index // masters for index in range(masters + 1)]
    return [(bounds[index], bounds[index + 1] - 1) for index in range(masters)]


def _node_client(port: int) -> redis.Redis:
    return redis.Redis(
        host=LOCALHOST,
        port=port,
        socket_timeout=2.0,
        socket_connect_timeout=2.0,
        retry=Retry(NoBackoff(), retries=0),
        decode_responses=True,
    )


def _start_node(work_dir: Path, timeout: float) -> tuple[EmbeddedService, int]:
    """One cluster-mode valkey-server on free ports: (the service, its cluster-bus port)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(_PORT_ATTEMPTS):
        port = find_free_port()
        bus_port = find_free_port()
        argv = valkey_argv(
            port,
            work_dir,
            "--cluster-port",
            str(bus_port),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            "nodes.conf",
            "--cluster-node-timeout",
            str(CLUSTER_NODE_TIMEOUT_MS),
            *NO_PERSISTENCE,
        )
        try:
            ensure_port_free(bus_port, CLUSTER_SERVICE, _BUS_PORT_FLAG)
            service = start_service(
                CLUSTER_SERVICE,
                argv,
                port=port,
                address=f"redis://{LOCALHOST}:{port}",
                log_path=work_dir / "valkey.log",
                is_ready=functools.partial(valkey_answers_ping, port),
                port_flag=_PORT_FLAG,
                timeout=timeout,
                env=valkey_env(),
            )
        except PortInUseError:
            if attempt == _PORT_ATTEMPTS - 1:
                raise
            continue
        except EmbeddedStartError:
            # The node exits when another process took its cluster-bus port meanwhile.
            ensure_port_free(bus_port, CLUSTER_SERVICE, _BUS_PORT_FLAG)
            raise
        return service, bus_port
    raise EmbeddedStartError("unreachable")


def _node_state(client: redis.Redis) -> tuple[str, int]:
    """(cluster_state, cluster_known_nodes) as the node reports them."""
    reply: object = client.execute_command("CLUSTER INFO")
    info: dict[str, str] = {}
    if isinstance(reply, dict):  # redis-py parses the reply into a dict
        info = {str(key): str(value) for key, value in reply.items()}
    else:
        for line in str(reply).splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    return info.get("cluster_state", ""), int(info.get("cluster_known_nodes", "0"))


def _form_cluster(nodes: list[EmbeddedService], first_bus_port: int, timeout: float) -> None:
    """Assign the slots, introduce every node to the first and wait until all agree."""
    clients = [_node_client(node.port) for node in nodes]
    try:
        for client, (first, last) in zip(clients, slot_ranges(len(nodes)), strict=True):
            client.execute_command("CLUSTER ADDSLOTSRANGE", first, last)
        for client in clients[1:]:
            # The bus port must be given: the default, port + 10000, may not exist.
            client.execute_command("CLUSTER MEET", LOCALHOST, nodes[0].port, first_bus_port)
        deadline = time.monotonic() + timeout
        pending = list(zip(nodes, clients, strict=True))
        while pending:
            node, client = pending[0]
            try:
                state, known = _node_state(client)
            except redis.RedisError:
                state, known = "unreachable", 0
            if state == "ok" and known == len(nodes):
                pending.pop(0)
                continue
            if not node.is_running:
                raise EmbeddedStartError(
                    f"{node.name} on port {node.port} exited while the cluster formed; "
                    f"last lines of {node.log_path}:\n{node.log_tail()}"
                )
            if time.monotonic() > deadline:
                raise EmbeddedStartError(
                    f"{node.name} on port {node.port} did not reach cluster_state:ok "
                    f"knowing {len(nodes)} nodes within {timeout:g} s (state {state}, "
                    f"knows {known}); last lines of {node.log_path}:\n{node.log_tail()}"
                )
            time.sleep(_FORM_POLL_INTERVAL_S)
    finally:
        for client in clients:
            with contextlib.suppress(redis.RedisError):
                client.close()


def start_valkey_cluster(
    data_dir: Path,
    masters: int = 3,
    *,
    timeout: float = START_TIMEOUT_S,
    form_timeout: float = FORM_TIMEOUT_S,
) -> EmbeddedCluster:
    """Start ``masters`` cluster-mode valkey-servers on 127.0.0.1 and form one cluster.

    Node ``i`` works in ``<data_dir>/node-<i>`` (its ``nodes.conf`` and
    ``valkey.log``) and keeps nothing else on disk. Raises
    :class:`EmbeddedStartError`, quoting the node's log, when a node does not
    start within ``timeout`` seconds or the cluster is not healthy within
    ``form_timeout`` seconds; the nodes already started are stopped then.
    """
    ranges = slot_ranges(masters)
    nodes: list[EmbeddedService] = []
    bus_ports: list[int] = []
    try:
        for index in range(len(ranges)):
            node, bus_port = _start_node(data_dir / f"node-{index}", timeout)
            nodes.append(node)
            bus_ports.append(bus_port)
        _form_cluster(nodes, bus_ports[0], form_timeout)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return EmbeddedCluster(nodes, [(LOCALHOST, node.port) for node in nodes])
