"""Freshness: from produce to visible in /api/v1/overview, under background load.

The metrics consumer and the web server run as their own processes, as in
production. A background producer sends simulated events at 1,000 per
second; a probe opens one case of its own team every 200 ms and polls
``/api/v1/overview?team=<probe team>`` until the case shows, recording the
delay from the send to the first answer that shows it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import orjson
from kafka import KafkaProducer

from bench.common import Services, new_topic, percentile, simulated
from complaintops.embedded import find_free_port

TOKEN = "bench-token"
PROBE_TEAM = "bench-probe"


def _env(services: Services, topic: str, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COMPLAINTOPS_KAFKA_BOOTSTRAP": services.bootstrap,
        "COMPLAINTOPS_REDIS_URL": services.redis_url,
        "COMPLAINTOPS_DATABASE_URL": f"sqlite:///{workdir / 'fresh.db'}",
        "COMPLAINTOPS_TOPIC": topic,
        "COMPLAINTOPS_DLQ_TOPIC": f"{topic}.dlq",
        "COMPLAINTOPS_METRICS_GROUP": f"fresh-{topic}",
        "COMPLAINTOPS_API_TOKENS": TOKEN,
        "COMPLAINTOPS_EMBEDDED": "true",
        "COMPLAINTOPS_POLL_TIMEOUT_MS": "100",
    }


def _overview_open(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/overview?team={PROBE_TEAM}",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(orjson.loads(response.read())["open_cases"])


def _probe_event(n: int) -> bytes:
    return orjson.dumps(
        {
            "schema": "case-event/v1",
            "event_id": f"probe-{n}-{time.time_ns()}",
            "case_id": f"PROBE-{time.time_ns()}-{n}",
            "seq": 1,
            "type": "case.opened",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime()),
            "team_id": PROBE_TEAM,
            "handler_id": "probe-handler",
            "channel": "online",
            "category": "other",
            "product_line": "other",
        }
    )


def run(
    services: Services, seconds: float = 40.0, load_per_s: float = 1000.0, probes: int = 150
) -> dict[str, float]:
    topic = new_topic(services.bootstrap, f"bench-fresh-{time.time_ns()}")
    background = simulated(int(load_per_s * (seconds + 30)), seed=21)
    with tempfile.TemporaryDirectory(prefix="complaintops-fresh-") as tmp:
        workdir = Path(tmp)
        env = _env(services, topic, workdir)
        subprocess.run(
            [sys.executable, "-m", "complaintops", "db", "upgrade"],
            env=env,
            check=True,
            capture_output=True,
        )
        port = find_free_port()
        consumer = subprocess.Popen(
            [sys.executable, "-m", "complaintops", "consume", "metrics", "--no-dead-letter"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "complaintops", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop = threading.Event()
        sent = [0]
        try:
            producer = KafkaProducer(bootstrap_servers=services.bootstrap, linger_ms=5, acks=1)
            # Wait for the consumer to join and the server to answer.
            warm = _probe_event(0)
            producer.send(topic, key=b"PROBE-0", value=warm)
            producer.flush()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if _overview_open(port) >= 1:
                        break
                except OSError:
                    pass
                time.sleep(0.1)
            else:
                raise RuntimeError("the consumer or the server did not come up within 60 s")

            def load() -> None:
                start = time.monotonic()
                for i, event in enumerate(background):
                    if stop.is_set():
                        return
                    target = start + i / load_per_s
                    delay = target - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    producer.send(topic, key=event.case_id.encode(), value=event.value)
                    sent[0] += 1

            loader = threading.Thread(target=load, daemon=True)
            loader.start()
            time.sleep(3)  # let the load settle
            latencies: list[float] = []
            expected = _overview_open(port)
            for n in range(1, probes + 1):
                key = f"PROBE-{n}".encode()
                started = time.perf_counter()
                producer.send(topic, key=key, value=_probe_event(n))
                producer.flush()
                expected += 1
                while _overview_open(port) < expected:
                    if time.perf_counter() - started > 30:
                        raise RuntimeError("a probe did not become visible within 30 s")
                    time.sleep(0.005)
                latencies.append((time.perf_counter() - started) * 1000)
                time.sleep(max(0.0, 0.2 - (time.perf_counter() - started)))
            elapsed_load = sent[0]
        finally:
            stop.set()
            for process in (consumer, server):
                process.terminate()
            for process in (consumer, server):
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
    return {
        "probes": len(latencies),
        "background_events_sent": elapsed_load,
        "p50": round(percentile(latencies, 50), 1),
        "p95": round(percentile(latencies, 95), 1),
        "p99": round(percentile(latencies, 99), 1),
    }
