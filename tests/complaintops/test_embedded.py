"""The embedded broker and Valkey, started for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer

from complaintops.embedded import (
    EMBEDDED_CONSUMER_TIMEOUTS,
    EmbeddedService,
    EmbeddedStartError,
    PortInUseError,
    broker_answers_metadata,
    create_topics,
    ensure_port_free,
    find_free_port,
    jemalloc_library,
    server_allocator,
    start_broker,
    start_service,
    start_valkey,
    valkey_answers_ping,
    valkey_env,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WAIT_LIMIT_S = 30.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll ``condition`` until it holds; fail after a generous limit."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def process_is_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


@pytest.fixture
def occupied_port() -> Iterator[int]:
    """A port with a listening socket on it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# -- ports ---------------------------------------------------------------------


def test_port_in_use_error_names_port_service_and_flag(occupied_port: int) -> None:
    with pytest.raises(PortInUseError) as caught:
        ensure_port_free(occupied_port, "Kafka broker", "--kafka-port")

    assert str(caught.value) == (
        f"port {occupied_port} (Kafka broker) is already in use; choose another with --kafka-port"
    )


def test_free_port_passes_the_check() -> None:
    ensure_port_free(find_free_port(), "Kafka broker", "--kafka-port")


def test_start_valkey_on_taken_port_names_the_service(occupied_port: int, tmp_path: Path) -> None:
    with pytest.raises(PortInUseError, match=rf"port {occupied_port} \(Redis \(Valkey\)\)"):
        start_valkey(occupied_port, tmp_path)


def test_start_broker_on_taken_port_uses_the_given_flag(occupied_port: int, tmp_path: Path) -> None:
    with pytest.raises(PortInUseError, match=r"\(Kafka broker\).*--broker-port$"):
        start_broker(occupied_port, tmp_path, port_flag="--broker-port")


# -- generic start -------------------------------------------------------------


def test_process_dying_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    failing = [sys.executable, "-c", "print('invalid configuration line 3'); raise SystemExit(2)"]

    with pytest.raises(EmbeddedStartError) as caught:
        start_service(
            "Thing",
            failing,
            port=find_free_port(),
            address="thing",
            log_path=tmp_path / "thing.log",
            is_ready=lambda: False,
            port_flag="--thing-port",
        )

    message = str(caught.value)
    assert message.startswith("Thing exited with code 2 while starting")
    assert message.endswith("invalid configuration line 3")


def test_process_never_ready_is_stopped_and_reported(tmp_path: Path) -> None:
    silent = [
        sys.executable,
        "-c",
        "print('still warming up', flush=True); import time; time.sleep(60)",
    ]

    def never_ready() -> bool:
        return False

    with pytest.raises(EmbeddedStartError, match=r"Thing did not answer on port \d+ within 0.5 s"):
        start_service(
            "Thing",
            silent,
            port=find_free_port(),
            address="thing",
            log_path=tmp_path / "thing.log",
            is_ready=never_ready,
            port_flag="--thing-port",
            timeout=0.5,
        )


# -- Valkey --------------------------------------------------------------------


@pytest.fixture
def own_valkey(tmp_path: Path) -> Iterator[EmbeddedService]:
    """A Valkey of this test's own (for stopping, pausing and killing it)."""
    service = start_valkey(find_free_port(), tmp_path)
    try:
        yield service
    finally:
        service.stop(timeout=2.0)


@pytest.mark.skipif(jemalloc_library() is None, reason="the machine has no jemalloc")
def test_valkey_runs_with_jemalloc_where_the_machine_has_it(
    own_valkey: EmbeddedService, tmp_path: Path
) -> None:
    assert server_allocator(own_valkey.process.pid) == "jemalloc"
    plain = start_valkey(find_free_port(), tmp_path / "plain", preload_jemalloc=False)
    try:
        assert server_allocator(plain.process.pid) == "libc"
        client = redis.Redis.from_url(plain.address)
        assert client.ping()
        client.close()
    finally:
        plain.stop(timeout=2.0)


def test_the_preloaded_allocator_keeps_what_was_preloaded_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LD_PRELOAD", "libother.so")
    env = valkey_env()
    library = jemalloc_library()
    if library is None:
        assert env is None
    else:
        assert env is not None and env["LD_PRELOAD"] == f"{library} libother.so"
    assert valkey_env(preload_jemalloc=False) is None


def test_valkey_starts_answers_and_stops(own_valkey: EmbeddedService, tmp_path: Path) -> None:
    assert own_valkey.address == f"redis://127.0.0.1:{own_valkey.port}/0"
    client = redis.Redis.from_url(own_valkey.address)
    assert client.set("k", "v") and client.get("k") == b"v"
    client.close()
    assert own_valkey.log_path == tmp_path / "valkey" / "valkey.log"
    assert "Ready to accept connections" in own_valkey.log_tail(50)

    own_valkey.stop()

    assert not own_valkey.is_running
    assert own_valkey.process.returncode == 0
    ensure_port_free(own_valkey.port, "Redis (Valkey)", "--redis-port")


def test_paused_valkey_answers_again_after_resume(own_valkey: EmbeddedService) -> None:
    own_valkey.pause()
    assert not valkey_answers_ping(own_valkey.port)

    own_valkey.resume()
    assert valkey_answers_ping(own_valkey.port)


def test_stop_ends_a_paused_service(own_valkey: EmbeddedService) -> None:
    own_valkey.pause()

    own_valkey.stop(timeout=5.0)

    assert own_valkey.process.returncode == 0


def test_killed_valkey_ends_with_sigkill(own_valkey: EmbeddedService) -> None:
    own_valkey.kill()

    assert own_valkey.process.returncode == -signal.SIGKILL
    assert not valkey_answers_ping(own_valkey.port)


def test_persistent_valkey_keeps_data_across_restarts(tmp_path: Path) -> None:
    port = find_free_port()
    first = start_valkey(port, tmp_path, persistent=True)
    redis.Redis.from_url(first.address).set("complaint", "kept")
    first.stop()

    second = start_valkey(port, tmp_path, persistent=True)
    try:
        assert redis.Redis.from_url(second.address).get("complaint") == b"kept"
    finally:
        second.stop()


def test_non_persistent_valkey_writes_nothing_to_disk(own_valkey: EmbeddedService) -> None:
    redis.Redis.from_url(own_valkey.address).set("complaint", "gone")
    own_valkey.stop()

    data_files = [p.name for p in own_valkey.log_path.parent.iterdir() if p.name != "valkey.log"]
    assert data_files == []


# -- broker --------------------------------------------------------------------


def test_broker_starts_answers_and_stops(tmp_path: Path) -> None:
    broker = start_broker(find_free_port(), tmp_path)
    try:
        assert broker.address == f"127.0.0.1:{broker.port}"
        assert broker.log_path == tmp_path / "kafka-broker.log"
        assert broker_answers_metadata(broker.address)
    finally:
        broker.stop()

    assert not broker.is_running
    assert not broker_answers_metadata(broker.address)


def test_create_topics_twice_is_fine(kafka_bootstrap: str, new_group_id: str) -> None:
    topics = {f"{new_group_id}.a": 3, f"{new_group_id}.b": 1}

    create_topics(kafka_bootstrap, topics)
    create_topics(kafka_bootstrap, topics)

    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        partitions = {topic: len(consumer.partitions_for_topic(topic) or ()) for topic in topics}
    finally:
        consumer.close()
    assert partitions == topics


def test_new_topic_and_its_dlq_exist_with_three_partitions(
    kafka_bootstrap: str, new_topic: str
) -> None:
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap)
    try:
        assert consumer.partitions_for_topic(new_topic) == {0, 1, 2}
        assert consumer.partitions_for_topic(f"{new_topic}.dlq") == {0, 1, 2}
    finally:
        consumer.close()


def test_message_goes_through_new_topic(
    kafka_bootstrap: str, new_topic: str, new_group_id: str
) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    sent = {f"case-{n}".encode(): f"event-{n}".encode() for n in range(6)}
    for key, value in sent.items():
        producer.send(new_topic, key=key, value=value)
    producer.flush()
    producer.close()

    consumer = KafkaConsumer(
        new_topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=new_group_id,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **EMBEDDED_CONSUMER_TIMEOUTS,
    )
    received: dict[bytes, bytes] = {}
    try:
        deadline = time.monotonic() + WAIT_LIMIT_S
        while len(received) < len(sent) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                received.update((record.key, record.value) for record in records)
    finally:
        consumer.close()

    assert received == sent


# -- children do not outlive the parent ---------------------------------------

ABANDONING_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from complaintops.embedded import find_free_port, start_valkey

    service = start_valkey(find_free_port(), Path(sys.argv[1]))
    print(service.process.pid, flush=True)
    if sys.argv[2] == "hang":
        time.sleep(60)
    """
)


def start_abandoning_parent(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], int]:
    """A parent process that starts Valkey and never stops it; returns it and Valkey's pid."""
    parent = subprocess.Popen(
        [sys.executable, "-c", ABANDONING_SCRIPT, str(tmp_path), mode],
        stdout=subprocess.PIPE,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    assert parent.stdout is not None
    return parent, int(parent.stdout.readline())


def test_service_is_stopped_gracefully_when_parent_exits(tmp_path: Path) -> None:
    parent, valkey_pid = start_abandoning_parent(tmp_path, "exit")

    assert parent.wait(timeout=WAIT_LIMIT_S) == 0
    wait_until(lambda: process_is_gone(valkey_pid), "Valkey to end with its parent")
    # A graceful stop (SIGTERM at exit), not the parent-death SIGKILL:
    assert "Received SIGTERM" in (tmp_path / "valkey" / "valkey.log").read_text()


def test_service_dies_with_a_killed_parent(tmp_path: Path) -> None:
    parent, valkey_pid = start_abandoning_parent(tmp_path, "hang")
    assert not process_is_gone(valkey_pid)

    parent.kill()
    parent.wait(timeout=WAIT_LIMIT_S)

    wait_until(lambda: process_is_gone(valkey_pid), "Valkey to die with its parent")
