"""Ingest: the metrics consumer against a bare kafka-python loop on the same topic.

Both read the same records from the same broker in the same run with the
same poll size. The bare loop only polls and JSON-decodes; the metrics
consumer validates, checks duplicates, applies every metric and the points
and stores them in Redis. Timing starts at each side's first record (the
embedded broker's group join wait is excluded from both).

The metrics consumer reads the fetched records with its compiled reader
(``consumers.fetch``); the bare loop with kafka-python's own, as any
kafka-python loop does.

The machine is noisy (its bare loop ranges over 70,000 to 140,000 events/s
between runs): each round runs the bare loop, then the metrics consumer,
and the median round's ratio is reported with every round's.

``core_events_per_s`` is the batch kernel the sink runs (``kernel``:
compiled, or the reference on the pure core) alone on the same records, in
process, with no broker and no Redis: decoding and validation, the state
machine, the aggregated writes and their encoding, the case states kept in
their stored form between batches. ``reference_core_events_per_s`` is the
same for the reference kernel.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson
from kafka import KafkaConsumer

from bench.common import TZ, Services, new_topic, produce, simulated
from complaintops.embedded import server_allocator
from consumers.loop import ConsumerLoop, LoopConfig
from consumers.process import tune_for_throughput
from consumers.sink import BatchSummary
from events.batch import RawRecord
from events.simulator import SimEvent
from metrics import keys
from metrics.kernel import load_kernel
from metrics.kernel.api import BatchKernel, case_ids
from metrics.kernel.reference import ReferenceKernel
from metrics.sink import RedisSink, SinkTimings

POLL_RECORDS = 2000
# Rounds of the bare loop then the metrics consumer; the median round is reported.
ROUNDS = 5
CASE_PREFIX = keys.template_prefix(keys.CASE)


def bare_loop(bootstrap: str, topic: str, total: int) -> float:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-bare-{time.time_ns()}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=POLL_RECORDS,
        fetch_max_bytes=8 * 1024 * 1024,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=6000,
    )
    seen = 0
    started: float | None = None
    while seen < total:
        polled = consumer.poll(timeout_ms=500, max_records=POLL_RECORDS)
        for messages in polled.values():
            if started is None and messages:
                started = time.perf_counter()
            for message in messages:
                try:  # noqa: SIM105  (suppress() would slow the reference loop)
                    orjson.loads(message.value)
                except orjson.JSONDecodeError:
                    pass
                seen += 1
    elapsed = time.perf_counter() - (started or time.perf_counter())
    consumer.close()
    return elapsed


class _Counter:
    def __init__(self, total: int) -> None:
        self.total = total
        self.seen = 0
        self.first: float | None = None
        self.done = threading.Event()
        self.finished_at = 0.0

    def on_batch(
        self, group: str, summary: BatchSummary, seconds: float, lag: dict[int, int]
    ) -> None:
        if self.first is None:
            self.first = time.perf_counter() - seconds
        self.seen += summary.applied + summary.duplicates + len(summary.invalid) + summary.skipped
        if self.seen >= self.total and not self.done.is_set():
            self.finished_at = time.perf_counter()
            self.done.set()

    def on_idle(self, *args: Any) -> None: ...
    def on_error(self, *args: Any) -> None: ...
    def on_dead_letter(self, *args: Any) -> None: ...
    def on_commit(self, *args: Any) -> None: ...


def redis_cpu_seconds(client: Any) -> float:
    """CPU time the Redis server has used so far (user + system)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def metrics_loop(services: Services, topic: str, total: int) -> tuple[float, float, SinkTimings]:
    """(seconds the metrics consumer took, Redis CPU seconds it cost, the sink's timings)."""
    client = services.redis()
    client.flushall()
    # A new group each round: the last round's commits would say the
    # (emptied) read model was built.
    group = f"bench-metrics-{time.time_ns()}"
    sink = RedisSink(client, group, TZ)
    counter = _Counter(total)
    config = LoopConfig(
        bootstrap=services.bootstrap,
        topic=topic,
        group=group,
        batch_size=POLL_RECORDS,
        embedded=True,
    )
    loop = ConsumerLoop(config, sink, None, counter)
    tune_for_throughput()  # as `complaintops consume` does for its process
    cpu_before = redis_cpu_seconds(client)
    thread = threading.Thread(target=loop.run, daemon=True)
    thread.start()
    if not counter.done.wait(600):
        raise RuntimeError(f"metrics consumer stored {counter.seen} of {total} records in 600 s")
    redis_cpu = redis_cpu_seconds(client) - cpu_before
    loop.stop()
    thread.join(30)
    assert counter.first is not None
    return counter.finished_at - counter.first, redis_cpu, sink.timings


def core_only(kernel: BatchKernel, events: list[SimEvent], partitions: int) -> float:
    """Seconds ``kernel`` takes for ``events`` in batches of POLL_RECORDS (best of 3)."""
    records = [
        RawRecord("core", i % partitions, i // partitions, e.value) for i, e in enumerate(events)
    ]
    best = float("inf")
    now = time.time()
    for _ in range(3):
        stored: dict[str, bytes] = {}
        started = time.perf_counter()
        for first in range(0, len(records), POLL_RECORDS):
            decoded = kernel.decode_all(records[first : first + POLL_RECORDS])
            states = {
                cid: kernel.decode_state(cid, stored[cid]) if cid in stored else None
                for cid in case_ids(decoded)
            }
            out = kernel.run(decoded, states, now)
            out.payload({})
            out.written_keys({})
            for key, value in zip(*out.states_written(), strict=True):
                stored[key[len(CASE_PREFIX) :]] = value
        best = min(best, time.perf_counter() - started)
    return best


def run(services: Services, records: int = 200_000, rounds: int = ROUNDS) -> dict[str, Any]:
    events = simulated(records)
    topic = new_topic(services.bootstrap, f"bench-ingest-{time.time_ns()}")
    highwater = produce(services.bootstrap, topic, events)
    total = sum(highwater.values())
    # Each round runs the bare loop, then the metrics consumer, on the same
    # records: the ratio of a round compares two runs a few seconds apart.
    # The figures are the median round's.
    measured = []
    for _ in range(rounds):
        bare = bare_loop(services.bootstrap, topic, total)
        ours, redis_cpu, timings = metrics_loop(services, topic, total)
        measured.append((bare / ours, bare, ours, redis_cpu, timings))
    measured.sort(key=lambda m: m[0])
    ratio, bare, ours, redis_cpu, timings = measured[len(measured) // 2]
    kernel = load_kernel(TZ)
    core = core_only(kernel, events[:total], len(highwater))
    reference = core_only(ReferenceKernel(TZ), events[:total], len(highwater))
    return {
        "records": total,
        "rounds": [
            {
                "bare_events_per_s": round(total / b),
                "events_per_s": round(total / o),
                "ratio": round(r, 3),
            }
            for r, b, o, _, _ in measured
        ],
        "events_per_s": round(total / ours),
        "bare_events_per_s": round(total / bare),
        "ratio": round(ratio, 3),
        "kernel": kernel.name,
        "core_events_per_s": round(total / core),
        "reference_core_events_per_s": round(total / reference),
        # Redis's own CPU per event (reads and the batch script): the read
        # model keeps to one slot, so one primary's core bounds the events/s
        # the whole consumer group can store.
        "redis_cpu_us_per_event": round(redis_cpu / total * 1e6, 2),
        # What of it the consumer's thread still waited for: the states it
        # needed, and the chunks' stores not yet done when the batch was computed.
        "redis_read_wait_us_per_event": round(timings.read_wait / total * 1e6, 2),
        "redis_store_wait_us_per_event": round(timings.store_wait / total * 1e6, 2),
        "redis_primary_events_per_s": round(total / redis_cpu) if redis_cpu > 0 else None,
        "valkey_allocator": server_allocator(services.valkey.process.pid),
    }
