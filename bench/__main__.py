"""``python -m bench``: every benchmark, results in bench/results.json and a table.

``python -m bench ingest memory`` runs only the named ones; ``--quick``
uses smaller sizes (for a smoke run, not for the README's figures).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import common, freshness, ingest, machine, memory, rebuild, store, wall

RESULTS = Path(__file__).parent / "results.json"
TARGETS = {
    ("ingest", "ratio"): (">=", 0.5),
    ("freshness_ms", "p95"): ("<=", 1000),
    ("wall_refresh_ms", "p95_200_displays"): ("<=", 150),
    ("redis_bytes", "per_open_case"): ("<=", 1024),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "names", nargs="*", help="ingest store rebuild freshness_ms wall_refresh_ms redis_bytes"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    quick = args.quick
    plan: dict[str, Any] = {
        "ingest": lambda s: ingest.run(
            s, records=20_000 if quick else 200_000, rounds=1 if quick else ingest.ROUNDS
        ),
        "store": lambda s: store.run(records=10_000 if quick else 60_000),
        "rebuild": lambda s: rebuild.run(s, events=50_000 if quick else 1_000_000),
        "freshness_ms": lambda s: freshness.run(s, probes=20 if quick else 150),
        "wall_refresh_ms": lambda s: wall.run(
            s, open_cases=10_000 if quick else 100_000, quick=quick
        ),
        "redis_bytes": lambda s: memory.run(
            s, open_cases=10_000 if quick else 100_000, closed_cases=50_000 if quick else 1_000_000
        ),
    }
    names = args.names or list(plan)
    unknown = [n for n in names if n not in plan]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    results: dict[str, Any] = (
        json.loads(args.out.read_text()) if args.out.exists() and args.names else {}
    )
    results["machine"] = machine.describe()
    results["machine"]["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"]["quick"] = quick
    failed = False
    with common.services() as services:
        for name in names:
            print(f"running {name} ...", flush=True)
            started = time.perf_counter()
            try:
                results[name] = plan[name](services)
                results[name]["seconds"] = round(time.perf_counter() - started, 1)
            except Exception as exc:
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                failed = True
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_table(results)
    return 1 if failed else 0


def print_table(results: dict[str, Any]) -> None:
    print()
    print(f"{'benchmark':<18} {'figure':<22} {'value':>14}  target")
    for name, figures in results.items():
        if name == "machine" or not isinstance(figures, dict):
            continue
        for key, value in figures.items():
            target = TARGETS.get((name, key))
            mark = ""
            if target is not None and isinstance(value, int | float):
                op, bound = target
                ok = value >= bound if op == ">=" else value <= bound
                mark = f"{op} {bound} {'met' if ok else 'NOT MET'}"
            print(f"{name:<18} {key:<22} {value!s:>14}  {mark}")


if __name__ == "__main__":
    sys.exit(main())
