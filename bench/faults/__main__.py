"""``python -m bench.faults [--quick] [scenario ...]``: run the fault scenarios.

Results go to bench/faults.json (``{"<scenario>": {"passed", "details",
"seconds"}, "machine": ...}``) and a table is printed. Exit 1 when any
scenario failed (a skipped one, such as the database outage without a
reachable PostgreSQL, does not fail the run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from bench import machine
from bench.faults import (
    broker_pause,
    consumer_kills,
    database_outage,
    malformed_events,
    redis_loss,
    smtp_outage,
)
from bench.faults.stage import Findings, Stage, open_stage

RESULTS: Final = Path(__file__).resolve().parent.parent / "faults.json"

SCENARIOS: Final[dict[str, Callable[[Stage], Findings]]] = {
    consumer_kills.NAME: consumer_kills.run,
    redis_loss.NAME: redis_loss.run,
    broker_pause.NAME: broker_pause.run,
    database_outage.NAME: database_outage.run,
    smtp_outage.NAME: smtp_outage.run,
    malformed_events.NAME: malformed_events.run,
}


def run_scenario(stage: Stage, name: str) -> dict[str, Any]:
    """One scenario's entry of faults.json; an exception fails it with its traceback."""
    print(f"running {name} ...", flush=True)
    started = time.perf_counter()
    try:
        findings = SCENARIOS[name](stage)
        passed = findings.passed
        details = findings.details()
    except Exception as exc:
        traceback.print_exc()
        passed = False
        details = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    return {
        "passed": passed,
        "details": details,
        "seconds": round(time.perf_counter() - started, 1),
    }


def verdict(entry: dict[str, Any]) -> str:
    passed = entry.get("passed")
    return "SKIPPED" if passed is None else "passed" if passed else "FAILED"


def print_table(results: dict[str, Any]) -> None:
    print()
    print(f"{'scenario':<18} {'result':<8} {'seconds':>8}  checks")
    for name, entry in results.items():
        if name == "machine":
            continue
        checks = entry["details"].get("checks", [])
        held = sum(1 for check in checks if check["ok"])
        note = f"{held}/{len(checks)} held"
        if "error" in entry["details"]:
            note = entry["details"]["error"][:80]
        elif "skipped" in entry["details"]:
            note = entry["details"]["skipped"][:80]
        print(f"{name:<18} {verdict(entry):<8} {entry['seconds']:>8}  {note}")
        for check in checks:
            if not check["ok"]:
                print(f"{'':<37}  not held: {check['check']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults")
    parser.add_argument("names", nargs="*", help=" ".join(SCENARIOS))
    parser.add_argument("--quick", action="store_true", help="smaller streams, shorter outages")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = args.names or list(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    results: dict[str, Any] = {"machine": machine.describe()}
    results["machine"]["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results["machine"]["quick"] = args.quick
    with open_stage(args.quick) as stage:
        for name in names:
            results[name] = run_scenario(stage, name)
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_table(results)
    failed = [
        name for name, entry in results.items() if name != "machine" and entry["passed"] is False
    ]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
