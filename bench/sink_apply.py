"""The metrics sink's ``apply`` in process: how much Redis wait is left on the critical path.

``python -m bench.sink_apply [--records N] [--batch 2000] [--chunks 2000,0,500]
[--kernel reference|compiled|stand-in] [--kernel-us 6] [--rounds 3] [--out FILE]``
starts an embedded Valkey (no broker) and stores the same simulated records
through ``RedisSink.apply`` in batches, once per chunk size (records per
chunk; 0: the sink's default; the batch size or more: each batch one chunk,
nothing overlapped). The variants take turns round after round on an
emptied Redis, so that a noisy machine treats them alike. Per variant (best
round): microseconds per event in ``apply``, the part of it the calling
thread spent waiting on Redis for states and for stores
(``RedisSink.timings``), and Redis's own CPU per event.

``--kernel compiled`` needs the compiled kernel built (``make venv``).
``--kernel stand-in`` stands in for a kernel of a given speed: the reference
kernel's outputs, computed beforehand for the same chunks, handed back after
holding the GIL for ``--kernel-us`` microseconds per record (a C loop, as
compiled code holds it), so that what is left besides the kernel shows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from bench.common import TZ, simulated
from bench.ingest import redis_cpu_seconds
from complaintops.embedded import find_free_port, start_valkey
from events.batch import RawRecord
from metrics.kernel import compiled_kernel
from metrics.kernel.api import BatchKernel, Decoded, KernelOutput, State
from metrics.kernel.reference import ReferenceKernel
from metrics.sink import RedisSink

PARTITIONS = 6
GROUP = "bench-sink"
# Share of the stand-in kernel's time spent in decode_all (the rest in run).
DECODE_SHARE = 0.25


def _spin_per_us() -> int:
    """Iterations of a GIL-holding C loop (``sum(range(n))``) per microsecond."""
    n = 200_000
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(range(n))
        best = min(best, time.perf_counter() - started)
    return max(1, round(n / (best * 1e6)))


@dataclass(slots=True)
class _Recorded:
    """A kernel output as recorded: the same answers, payload and keys given again."""

    applied: int
    duplicates: int
    gaps: int
    invalid: list[tuple[RawRecord, str]]
    states: dict[str, State]
    _payload: bytes
    _keys: list[str]
    _states: tuple[list[str], list[bytes]]

    def payload(self, rpush: Mapping[str, Sequence[bytes]]) -> bytes:
        return self._payload

    def written_keys(self, rpush: Mapping[str, Sequence[bytes]]) -> list[str]:
        return self._keys

    def states_written(self) -> tuple[list[str], list[bytes]]:
        return self._states


def _key(records: Sequence[RawRecord]) -> tuple[int, int, int, int]:
    return (records[0].partition, records[0].offset, records[-1].offset, len(records))


@dataclass
class StandInKernel:
    """The reference kernel while recording; afterwards its recorded outputs,
    each handed back after holding the GIL as long as the compiled kernel
    would take (``us_per_record``)."""

    reference: ReferenceKernel
    us_per_record: float
    recording: bool = True
    name: str = "stand-in"
    _spin: int = field(default_factory=_spin_per_us)
    _decoded: dict[tuple[int, int, int, int], list[Decoded]] = field(default_factory=dict)
    _runs: dict[tuple[int, int, int, int], _Recorded] = field(default_factory=dict)

    def _hold(self, records: int, share: float) -> None:
        sum(range(int(records * self.us_per_record * share * self._spin)))

    def decode_all(self, records: Sequence[RawRecord]) -> list[Decoded]:
        key = _key(records)
        if self.recording:
            self._decoded[key] = self.reference.decode_all(records)
        else:
            self._hold(len(records), DECODE_SHARE)
        return self._decoded[key]

    def decode_state(self, case_id: str, raw: bytes) -> State:
        if self.recording:
            return self.reference.decode_state(case_id, raw)
        return None  # the recorded outputs do not read it

    def run(
        self, decoded: Sequence[Decoded], states: Mapping[str, State | None], now: float
    ) -> KernelOutput:
        key = _key([item[0] for item in decoded])
        if self.recording:
            out = self.reference.run(decoded, states, now)
            self._runs[key] = _Recorded(
                out.applied,
                out.duplicates,
                out.gaps,
                out.invalid,
                out.states,
                out.payload({}),
                out.written_keys({}),
                out.states_written(),
            )
        else:
            self._hold(len(decoded), 1 - DECODE_SHARE)
        return self._runs[key]


def records_of(count: int) -> list[RawRecord]:
    events = simulated(count)
    return [
        RawRecord("bench", i % PARTITIONS, i // PARTITIONS, e.value) for i, e in enumerate(events)
    ]


def batches_of(records: list[RawRecord], size: int) -> list[list[RawRecord]]:
    """Batches as the consumer loop polls them: sorted by partition."""
    out = []
    for first in range(0, len(records), size):
        batch = records[first : first + size]
        out.append(sorted(batch, key=lambda r: (r.partition, r.offset)))
    return out


def store_all(client: redis.Redis, sink: RedisSink, batches: list[list[RawRecord]]) -> float:
    client.flushall()
    sink.prepare(group_has_committed=False)
    started = time.perf_counter()
    for batch in batches:
        sink.apply(batch)
    return time.perf_counter() - started


def run(
    records: int = 40_000,
    batch: int = 2000,
    chunks: Sequence[int] = (2000, 0),
    kernel: str = "reference",
    kernel_us: float = 6.0,
    rounds: int = 3,
) -> dict[str, Any]:
    data = batches_of(records_of(records), batch)
    total = sum(len(b) for b in data)
    results: dict[str, Any] = {"records": total, "batch": batch, "kernel": kernel}
    best: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="complaintops-bench-") as tmp:
        valkey = start_valkey(find_free_port(), Path(tmp))
        try:
            client = redis.Redis.from_url(valkey.address)
            sinks: dict[int, RedisSink] = {}
            for size in chunks:
                reference = ReferenceKernel(TZ)
                used: BatchKernel = reference
                if kernel == "compiled":
                    used = compiled_kernel(TZ)
                elif kernel == "stand-in":
                    stand_in = StandInKernel(reference, kernel_us)
                    sink = RedisSink(client, GROUP, TZ, kernel=stand_in, chunk_records=size or None)
                    store_all(client, sink, data)  # records the outputs of these chunks
                    stand_in.recording = False
                    used = stand_in
                sinks[size] = RedisSink(client, GROUP, TZ, kernel=used, chunk_records=size or None)
            for _ in range(rounds):
                for size, sink in sinks.items():
                    timings = sink.timings
                    before = (timings.read_wait, timings.store_wait, redis_cpu_seconds(client))
                    seconds = store_all(client, sink, data)
                    read_wait = timings.read_wait - before[0]
                    store_wait = timings.store_wait - before[1]
                    cpu = redis_cpu_seconds(client) - before[2]
                    figures = {
                        "us_per_event": seconds / total * 1e6,
                        "read_wait_us_per_event": read_wait / total * 1e6,
                        "store_wait_us_per_event": store_wait / total * 1e6,
                        "redis_cpu_us_per_event": cpu / total * 1e6,
                    }
                    if size not in best or figures["us_per_event"] < best[size]["us_per_event"]:
                        best[size] = figures
            for sink in sinks.values():
                sink.close()
        finally:
            valkey.stop()
    for size, figures in best.items():
        name = "default" if size == 0 else "whole" if size >= batch else str(size)
        results[f"chunk_{name}"] = {k: round(v, 2) for k, v in figures.items()}
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sink_apply")
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument(
        "--chunks",
        default="2000,0",
        help="records per chunk to compare (0: the sink's default, 4 chunks a batch)",
    )
    parser.add_argument(
        "--kernel", choices=["reference", "compiled", "stand-in"], default="reference"
    )
    parser.add_argument("--kernel-us", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    results = run(
        records=args.records,
        batch=args.batch,
        chunks=[int(x) for x in args.chunks.split(",")],
        kernel=args.kernel,
        kernel_us=args.kernel_us,
        rounds=args.rounds,
    )
    text = json.dumps(results, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
