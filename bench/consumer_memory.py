"""Where the metrics consumer's memory goes under the soak's load, in process.

``python -m bench.consumer_memory MINUTES [--part store] [--trim] [--trace MINUTE]
[--out FILE]`` starts the embedded broker and Valkey, builds the metrics (or
store) consumer exactly as ``complaintops consume`` does (sink, dead-letter producer, sensors,
``tune_for_throughput``) and runs it in a thread while a child process
produces the soak's 200 simulated events/s. Every minute it records the
process's RSS, the live pymalloc blocks at their lowest since the last
reading (the gen-0 collector makes them saw-tooth), and the fill of the
core's bounded caches. ``--trim`` returns freed heap to the system
(``malloc_trim``) every minute, to tell memory the allocator keeps from
memory still in use. ``--trace MINUTE`` starts tracemalloc at that minute
(once the caches are full); ``--baseline MINUTE`` (by default five minutes
later) takes the first snapshot, and the end the second, each after a full
collection and with the compiled kernel's cache of written states emptied.
Recorded: the allocation sites whose live memory grew most
between the two snapshots, and the traced memory at each. The snapshots
are apart from the start of tracing because tracemalloc sees only what was
allocated after it started: compared with that start, every bounded cache
whose entries were replaced meanwhile would look like growth.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from bench.common import PARTITIONS, new_topic, services
from bench.soak import environ

RATE = 200.0
SAMPLE_SECONDS = 5.0


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cache_fill(kernel: object) -> dict[str, int]:
    """The fill of the bounded caches of the running kernel (the compiled one
    reports its own) and of the pure core's."""
    from events import clock
    from metrics import delta

    own = getattr(kernel, "cache_fill", None)
    return {
        "fixed_deadline": clock._fixed_deadline.cache_info().currsize,
        "award_keys": delta._award_keys.cache_info().currsize,
        "handler_keys": delta._handler_keys.cache_info().currsize,
        **({f"kernel_{name}": n for name, n in own().items()} if own is not None else {}),
    }


def slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (minute, value) points."""
    if len(points) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return round(sum((x - mx) * (y - my) for x, y in points) / den, 3) if den else None


TRACE_FRAMES = 6
TOP_GROWTH = 15


def growth(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot) -> list[dict[str, Any]]:
    """The allocation sites whose live memory grew most between two snapshots."""
    rows = []
    for stat in after.compare_to(before, "traceback")[:TOP_GROWTH]:
        rows.append(
            {
                "kib": round(stat.size_diff / 1024, 1),
                "blocks": stat.count_diff,
                "traceback": [f"{frame.filename}:{frame.lineno}" for frame in stat.traceback],
            }
        )
    return rows


def forget_written(kernel: object) -> None:
    """Empty the kernel's cache of written states, where it has one: that cache
    holds 15,000 to 20,000 states, refilled within minutes, and its fill at
    the moment of a snapshot would otherwise decide the comparison."""
    forget = getattr(kernel, "forget_written", None)
    if forget is not None:
        forget()


def traced_snapshot(kernel: object) -> tracemalloc.Snapshot:
    """A snapshot after a full collection, with the kernel's cache of written
    states emptied first."""
    forget_written(kernel)
    gc.collect()
    return tracemalloc.take_snapshot()


TRACE_BASELINE_AFTER = 5.0


def run(
    minutes: float,
    trim: bool,
    trace_from: float | None = None,
    part: str = "metrics",
    baseline: float | None = None,
) -> dict[str, Any]:
    if baseline is not None and trace_from is None:
        raise ValueError("--baseline needs --trace")
    if trace_from is not None and baseline is None:
        baseline = trace_from + TRACE_BASELINE_AFTER
    if trace_from is not None and baseline is not None and not trace_from <= baseline < minutes:
        raise ValueError("the baseline minute must lie between --trace and the end")
    seconds = minutes * 60
    libc = ctypes.CDLL("libc.so.6")
    rows: list[dict[str, Any]] = []
    with services() as svc:
        from store.migrate import upgrade

        topic = new_topic(svc.bootstrap, "memory", PARTITIONS)
        database_url = f"sqlite:///{svc.workdir / 'memory.db'}"
        upgrade(database_url)
        os.environ.update(environ(svc, topic, database_url))

        from complaintops.commands.consume import build_loop
        from complaintops.runtime import Runtime
        from config import load_settings
        from consumers.process import tune_for_throughput

        loop = build_loop(Runtime.from_settings(load_settings()), part, None)
        kernel = getattr(loop.sink, "kernel", None)
        tune_for_throughput()
        consumer = threading.Thread(target=loop.run, name=part, daemon=True)
        consumer.start()
        producer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys, threading; from bench.soak import Produced, produce_steadily; "
                "produce_steadily(sys.argv[1], sys.argv[2], float(sys.argv[3]), "
                "float(sys.argv[4]), threading.Event(), Produced())",
                svc.bootstrap,
                topic,
                str(RATE),
                str(seconds),
            ],
            env=dict(os.environ),
        )
        started = time.monotonic()
        lowest_blocks = sys.getallocatedblocks()
        minute = 0
        first_trace: tracemalloc.Snapshot | None = None
        traced: list[dict[str, Any]] = []
        traced_kib: dict[str, float] = {}
        while minute < minutes:
            time.sleep(SAMPLE_SECONDS)
            lowest_blocks = min(lowest_blocks, sys.getallocatedblocks())
            if time.monotonic() - started < (minute + 1) * 60:
                continue
            minute += 1
            if trim:
                libc.malloc_trim(0)
            rows.append(
                {
                    "minute": minute,
                    "rss_mib": round(rss_mib(), 1),
                    "lowest_pymalloc_blocks": lowest_blocks,
                    **cache_fill(kernel),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            if trace_from is not None and minute == trace_from:
                tracemalloc.start(TRACE_FRAMES)
                forget_written(kernel)  # from here on, every state it keeps is traced
            if baseline is not None and minute == baseline:
                first_trace = traced_snapshot(kernel)
                traced_kib["baseline"] = round(tracemalloc.get_traced_memory()[0] / 1024, 1)
            lowest_blocks = sys.getallocatedblocks()
        if first_trace is not None:
            last_trace = traced_snapshot(kernel)
            traced_kib["end"] = round(tracemalloc.get_traced_memory()[0] / 1024, 1)
            traced = growth(first_trace, last_trace)
            tracemalloc.stop()
        loop.stop()
        consumer.join(timeout=30)
        producer.wait(timeout=120)
    after = [(r["minute"], r["rss_mib"]) for r in rows if r["minute"] >= minutes / 2]
    return {
        "part": part,
        "minutes": minutes,
        "rate": RATE,
        "malloc_trim_every_minute": trim,
        "traced_from_minute": trace_from,
        "trace_baseline_minute": baseline,
        # Live traced memory (allocated since tracing began) at the baseline
        # snapshot and at the end, after a full collection each.
        "traced_kib": traced_kib,
        "rss_slope_mib_per_min_second_half": slope(after),
        "rss_slope_mib_per_min_from_minute_3": slope(
            [(r["minute"], r["rss_mib"]) for r in rows if r["minute"] >= 3]
        ),
        "rows": rows,
        "growth_by_site": traced,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.consumer_memory")
    parser.add_argument("minutes", type=float)
    parser.add_argument("--part", choices=("metrics", "store"), default="metrics")
    parser.add_argument("--trim", action="store_true", help="malloc_trim(0) every minute")
    parser.add_argument(
        "--trace", type=float, metavar="MINUTE", help="trace allocations from this minute on"
    )
    parser.add_argument(
        "--baseline",
        type=float,
        metavar="MINUTE",
        help=f"first snapshot at this minute (default: --trace + {TRACE_BASELINE_AFTER:g})",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/consumer-memory.json"))
    args = parser.parse_args(argv)
    try:
        result = run(args.minutes, args.trim, args.trace, args.part, args.baseline)
    except ValueError as exc:
        parser.error(str(exc))
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
