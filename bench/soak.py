"""``python -m bench.soak [--minutes 60] [--rate 200] [--displays 50]``: a long steady run.

The embedded broker and Valkey, a SQLite store, both consumers
(``complaintops consume``) and the server (``complaintops serve``) run as
they would in production. A producer sends simulated records at ``--rate``
per second, and ``--displays`` simulated wall displays poll
``/api/v1/overview`` every 2 s over HTTP. Every 10 s the resident memory
(RSS) of the consumer and server processes and the consumers' progress are
sampled. At the end bench/soak.json holds the memory growth of each process
(mean RSS of the first 5 minutes against the last 5; shorter windows for a
run under 15 minutes), the HTTP figures and the error count (HTTP errors,
plus ERROR lines and tracebacks in the processes' logs).

Exit 1 when a process died or any error was counted.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from kafka import KafkaProducer

from bench import machine
from bench.common import PARTITIONS, TZ, Services, new_topic, percentile, services, teams
from complaintops.embedded import find_free_port
from events.simulator import SimEvent, SimulationConfig, Simulator
from metrics.sink import RedisSink
from store.db import make_engine
from store.migrate import upgrade
from store.sink import SqlSink

RESULTS: Final = Path(__file__).resolve().parent / "soak.json"
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
TOKEN: Final = "soak-display-token"
POLL_SECONDS: Final = 2.0
SAMPLE_SECONDS: Final = 10.0
WINDOW_MINUTES: Final = 5.0
ARRIVALS_PER_HOUR: Final = 40.0
RECORDS_PER_CASE_DAY: Final = 7.0
PRODUCER_TICK: Final = 0.1
HTTP_TIMEOUT: Final = 10.0
READY_WITHIN: Final = 90.0
CATCH_UP_WITHIN: Final = 120.0
PROCESSES: Final = ("metrics", "store", "server")


# -- the processes ---------------------------------------------------------------------


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def rss_kib(self) -> int | None:
        try:
            with open(f"/proc/{self.process.pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)


def environ(svc: Services, topic: str, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTOPS_")}
    env.update(
        COMPLAINTOPS_KAFKA_BOOTSTRAP=svc.bootstrap,
        COMPLAINTOPS_REDIS_URL=svc.redis_url,
        COMPLAINTOPS_DATABASE_URL=database_url,
        COMPLAINTOPS_TOPIC=topic,
        COMPLAINTOPS_DLQ_TOPIC=f"{topic}.dlq",
        COMPLAINTOPS_METRICS_GROUP=f"{topic}.metrics",
        COMPLAINTOPS_STORE_GROUP=f"{topic}.store",
        COMPLAINTOPS_EMBEDDED="true",
        COMPLAINTOPS_API_TOKENS=TOKEN,
        COMPLAINTOPS_LOG_FORMAT="json",
        COMPLAINTOPS_DATA_DIR=str(svc.workdir),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_child(name: str, args: list[str], env: dict[str, str], logs: Path) -> Child:
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "complaintops", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Child(name, process, log_path)


def log_errors(path: Path) -> dict[str, int]:
    """ERROR/CRITICAL records, tracebacks and warnings in a JSON (or text) log."""
    counts = {"errors": 0, "tracebacks": 0, "warnings": 0}
    for line in path.read_text(errors="replace").splitlines():
        level = ""
        if line.startswith("{"):
            try:
                level = str(json.loads(line).get("level", ""))
            except ValueError:
                level = ""
        elif " ERROR " in line or " CRITICAL " in line:
            level = "ERROR"
        if level in ("ERROR", "CRITICAL"):
            counts["errors"] += 1
        elif level == "WARNING":
            counts["warnings"] += 1
        if line.startswith("Traceback") or '"Traceback' in line or "\\nTraceback" in line:
            counts["tracebacks"] += 1
    return counts


# -- load --------------------------------------------------------------------------------


@dataclass
class Produced:
    records: int = 0
    failures: int = 0


def simulated_records(days: float) -> Iterator[SimEvent]:
    """Simulated records without end: histories of ``days`` one after another, each
    numbering its cases after the last one's (so no case id comes back)."""
    first_case_number = 1
    for seed in itertools.count(60):
        config = SimulationConfig(
            teams=teams(),
            seed=seed,
            arrivals_per_hour=ARRIVALS_PER_HOUR,
            tz=TZ,
            first_case_number=first_case_number,
        )
        simulator = Simulator(config)
        yield from simulator.backfill(days, time.time())
        first_case_number += simulator.cases_opened


def produce_steadily(
    bootstrap: str, topic: str, rate: float, seconds: float, stop: threading.Event, out: Produced
) -> None:
    """Send simulated records at ``rate`` per second for ``seconds`` (or until ``stop``)."""
    needed = rate * seconds
    days = max(1.0, needed / (ARRIVALS_PER_HOUR * 24 * RECORDS_PER_CASE_DAY))
    records = simulated_records(days)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)

    def failed(_: BaseException) -> None:
        out.failures += 1

    started = time.monotonic()
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - started
            if elapsed >= seconds:
                break
            while out.records < int(rate * elapsed):
                record = next(records)
                future = producer.send(topic, key=record.case_id.encode(), value=record.value)
                future.add_errback(failed)
                out.records += 1
            stop.wait(PRODUCER_TICK)
    finally:
        producer.flush(timeout=60)
        producer.close(timeout=10)


@dataclass
class Polls:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, latency_ms: float | None, error: str | None) -> None:
        with self.lock:
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)
            if error is not None:
                self.errors += 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(error)


def display(url: str, stop: threading.Event, polls: Polls, rng: random.Random) -> None:
    """One wall display: GET the overview every 2 s (first poll at a random phase)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    next_poll = time.monotonic() + rng.uniform(0.0, POLL_SECONDS)
    while not stop.wait(max(0.0, next_poll - time.monotonic())):
        next_poll += POLL_SECONDS
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
                response.read()
                status = response.status
        except (urllib.error.URLError, OSError) as exc:
            polls.record(None, f"{type(exc).__name__}: {exc}")
            continue
        latency = (time.perf_counter() - started) * 1000
        polls.record(latency, None if status == 200 else f"HTTP {status}")


def wait_until_serving(url: str, server: Child) -> None:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    deadline = time.monotonic() + READY_WITHIN
    while time.monotonic() < deadline:
        if not server.alive:
            raise RuntimeError(f"the server exited; see {server.log_path}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server did not answer {url} within {READY_WITHIN:g} s")


# -- sampling and the report ---------------------------------------------------------------


def stored_in_redis(svc: Services, topic: str) -> int:
    """Records the metrics consumer stored (its offsets in Redis)."""
    client = svc.redis()
    try:
        offsets = RedisSink(client, f"{topic}.metrics", TZ).stored_offsets(topic)
    finally:
        client.close()
    return sum(offset + 1 for offset in offsets.values())


def stored_in_sql(database_url: str, topic: str) -> int:
    """Records the store consumer stored (its offsets in the database)."""
    engine = make_engine(database_url)
    try:
        offsets = SqlSink(engine, f"{topic}.store", TZ).stored_offsets(topic)
    finally:
        engine.dispose()
    return sum(offset + 1 for offset in offsets.values())


def window_growth(samples: list[dict[str, Any]], name: str, window_s: float) -> dict[str, Any]:
    """Mean RSS (MiB) of the first and last ``window_s`` seconds, and the growth."""
    points = [(s["t"], s["rss_kib"][name]) for s in samples if s["rss_kib"].get(name)]
    if not points:
        return {"samples": 0}
    end = points[-1][0]
    first = [rss for t, rss in points if t <= window_s] or [points[0][1]]
    last = [rss for t, rss in points if t >= end - window_s] or [points[-1][1]]
    first_mib = statistics.fmean(first) / 1024
    last_mib = statistics.fmean(last) / 1024
    return {
        "first_window_mib": round(first_mib, 1),
        "last_window_mib": round(last_mib, 1),
        "growth_mib": round(last_mib - first_mib, 1),
        "growth_percent": round(100 * (last_mib - first_mib) / first_mib, 1),
        "peak_mib": round(max(rss for _, rss in points) / 1024, 1),
    }


def soak(minutes: float, rate: float, displays: int, out: TextIO) -> dict[str, Any]:
    seconds = minutes * 60
    window_s = min(WINDOW_MINUTES * 60, seconds / 3)
    with services() as svc:
        topic = new_topic(svc.bootstrap, "soak", PARTITIONS)
        database_url = f"sqlite:///{svc.workdir / 'soak.db'}"
        upgrade(database_url)
        env = environ(svc, topic, database_url)
        port = find_free_port()
        children = [
            start_child("metrics", ["consume", "metrics"], env, svc.workdir),
            start_child("store", ["consume", "store"], env, svc.workdir),
            start_child("server", ["serve", "--port", str(port)], env, svc.workdir),
        ]
        by_name = {child.name: child for child in children}
        url = f"http://127.0.0.1:{port}/api/v1/overview"
        stop = threading.Event()
        produced = Produced()
        polls = Polls()
        samples: list[dict[str, Any]] = []
        try:
            wait_until_serving(url, by_name["server"])
            threads = [
                threading.Thread(
                    target=produce_steadily,
                    args=(svc.bootstrap, topic, rate, seconds, stop, produced),
                    daemon=True,
                )
            ]
            threads += [
                threading.Thread(
                    target=display, args=(url, stop, polls, random.Random(n)), daemon=True
                )
                for n in range(displays)
            ]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            while (elapsed := time.monotonic() - started) < seconds:
                sample = {
                    "t": round(elapsed, 1),
                    "rss_kib": {c.name: c.rss_kib() for c in children},
                    "produced": produced.records,
                    "metrics_stored": stored_in_redis(svc, topic),
                    "store_stored": stored_in_sql(database_url, topic),
                }
                samples.append(sample)
                print(json.dumps(sample), file=out, flush=True)
                if not all(child.alive for child in children):
                    break
                stop.wait(min(SAMPLE_SECONDS, max(0.0, seconds - elapsed)))
            stop.set()
            for thread in threads:
                thread.join(timeout=HTTP_TIMEOUT + 5)
            ran = time.monotonic() - started
            caught_up = catch_up(svc, topic, database_url, produced.records)
            alive = {child.name: child.alive for child in children}
        finally:
            stop.set()
            for child in children:
                child.stop()
        logs = {child.name: log_errors(child.log_path) for child in children}
    log_error_count = sum(c["errors"] + c["tracebacks"] for c in logs.values())
    latencies = polls.latencies_ms
    return {
        "settings": {"minutes": minutes, "rate": rate, "displays": displays},
        "seconds": round(ran, 1),
        "produced": {
            "records": produced.records,
            "per_second": round(produced.records / ran, 1) if ran else 0.0,
            "send_failures": produced.failures,
        },
        "caught_up_at_end": caught_up,
        "processes_alive_at_end": alive,
        "memory": {name: window_growth(samples, name, window_s) for name in PROCESSES},
        "memory_window_seconds": round(window_s),
        "http": {
            "requests": len(latencies) + polls.errors,
            "errors": polls.errors,
            "error_samples": polls.error_samples,
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
        },
        "logs": logs,
        "errors": polls.errors + log_error_count + produced.failures,
        "samples": samples,
    }


def catch_up(svc: Services, topic: str, database_url: str, produced: int) -> dict[str, bool]:
    """Wait (bounded) until both consumers stored every produced record."""
    deadline = time.monotonic() + CATCH_UP_WITHIN
    while True:
        done = {
            "metrics": stored_in_redis(svc, topic) >= produced,
            "store": stored_in_sql(database_url, topic) >= produced,
        }
        if all(done.values()) or time.monotonic() > deadline:
            return done
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0, help="records per second")
    parser.add_argument("--displays", type=int, default=50, help="wall displays polling")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.rate <= 0 or args.displays < 0:
        parser.error("--minutes and --rate must be positive, --displays not negative")
    report = soak(args.minutes, args.rate, args.displays, sys.stdout)
    report["machine"] = machine.describe()
    report["machine"]["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print_summary(report)
    failed = report["errors"] > 0 or not all(report["processes_alive_at_end"].values())
    return 1 if failed else 0


def print_summary(report: dict[str, Any]) -> None:
    print()
    produced = report["produced"]
    print(f"ran {report['seconds']} s, {produced['records']} records ({produced['per_second']}/s)")
    for name, memory in report["memory"].items():
        if memory.get("samples") == 0:
            print(f"{name:<8} no memory samples")
            continue
        print(
            f"{name:<8} RSS {memory['first_window_mib']} MiB → {memory['last_window_mib']} MiB "
            f"({memory['growth_mib']:+} MiB, {memory['growth_percent']:+}%), peak {memory['peak_mib']} MiB"
        )
    http = report["http"]
    print(
        f"HTTP: {http['requests']} requests, {http['errors']} errors, "
        f"p50 {http['p50_ms']} ms, p95 {http['p95_ms']} ms, p99 {http['p99_ms']} ms"
    )
    print(
        f"errors counted: {report['errors']}; processes alive: {report['processes_alive_at_end']}"
    )


if __name__ == "__main__":
    sys.exit(main())
