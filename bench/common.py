"""Shared set-up of the benchmarks: embedded services, simulated streams, producing."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
from kafka import KafkaProducer

from complaintops.embedded import (
    EmbeddedService,
    create_topics,
    find_free_port,
    start_broker,
    start_valkey,
)
from config import load_rules, load_settings
from events.simulator import SimEvent, SimulationConfig, Simulator

TZ = ZoneInfo("Asia/Shanghai")
PARTITIONS = 6


@dataclass
class Services:
    broker: EmbeddedService
    valkey: EmbeddedService
    workdir: Path

    @property
    def bootstrap(self) -> str:
        return self.broker.address

    @property
    def redis_url(self) -> str:
        return self.valkey.address

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


@contextlib.contextmanager
def services() -> Iterator[Services]:
    with tempfile.TemporaryDirectory(prefix="complaintops-bench-") as tmp:
        workdir = Path(tmp)
        broker = start_broker(find_free_port(), workdir)
        valkey = start_valkey(find_free_port(), workdir, log_dir=workdir)
        try:
            yield Services(broker, valkey, workdir)
        finally:
            broker.stop()
            valkey.stop()


def teams() -> list[tuple[str, list[str]]]:
    rules = load_rules(load_settings())
    return [(t.id, [h.id for h in t.handlers]) for t in rules.teams.teams]


def simulated(records: int, seed: int = 7, arrivals_per_hour: float = 60.0) -> list[SimEvent]:
    """At least ``records`` simulated records (valid, duplicates, invalid), history up to now."""
    config = SimulationConfig(teams=teams(), seed=seed, arrivals_per_hour=arrivals_per_hour, tz=TZ)
    now = time.time()
    # About 15 records per case: size the history to the records wanted.
    days = max(1.0, records / (arrivals_per_hour * 24 * 13))
    out: list[SimEvent] = []
    for event in Simulator(config).backfill(days, now):
        out.append(event)
    while len(out) < records:
        days *= 1.3
        out = list(Simulator(config).backfill(days, now))
    return out[:records] if len(out) > records else out


def new_topic(bootstrap: str, name: str, partitions: int = PARTITIONS) -> str:
    create_topics(bootstrap, {name: partitions, f"{name}.dlq": 1})
    return name


def produce(bootstrap: str, topic: str, events: list[SimEvent]) -> dict[int, int]:
    """Produce the records; return the exact high watermark of each partition."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024
    )
    futures = [producer.send(topic, key=e.case_id.encode(), value=e.value) for e in events]
    producer.flush()
    highwater: dict[int, int] = {}
    for future in futures:
        meta = future.get(timeout=60)
        highwater[meta.partition] = max(highwater.get(meta.partition, 0), meta.offset + 1)
    producer.close()
    return highwater


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
