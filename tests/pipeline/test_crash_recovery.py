"""Consumers killed with SIGKILL while the stream is consumed, then restarted.

The metrics consumer dies five times and the store consumer once, each time
just after its stored progress passes a seeded random point of the stream, so
every kill lands while a batch is being processed, however fast the machine. After every kill the
group's committed Kafka offsets must not be ahead of what the sink stored
(commit only after store). Once everything is stored, the read model and the
``cases`` table equal the oracle exactly (nothing lost, nothing counted
twice), and ``complaintops reconcile`` finds no drift between the two.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import redis

from complaintops.simulate import load_teams
from config import load_settings
from store.migrate import upgrade
from tests.oracle import Oracle
from tests.pipeline.helpers import (
    WAIT_SECONDS,
    ConsumerProcess,
    Offsets,
    Pipeline,
    case_comparison,
    last_offsets,
    metrics_comparisons,
    new_topics,
    produce,
    recent_monday_morning,
    run_reconcile,
    running_consumers,
    simulate,
    sql_table_counts,
    wait_until_stored,
)

SEED = 7_0411
DAYS = 16
ARRIVALS_PER_HOUR = 6.0
BATCH_SIZE = 200
METRICS_KILLS = 5
STORE_KILLS = 1
# Kills fall at random points in this leading share of the stream, leaving
# the rest as work still to do when the last kill lands.
KILLED_SHARE = 0.7
# Progress is watched this often, so a kill lands within a batch or two of its
# point even on a fast machine.
WATCH_SECONDS = 0.005


def progress(pipeline: Pipeline, which: str) -> int:
    return sum(offset + 1 for offset in pipeline.stored_offsets(which).values())


def kill_points(everything: int, kills: int, rng: random.Random) -> list[int]:
    """One seeded random progress point per kill, increasing, each in its own
    equal slice of the first ``KILLED_SHARE`` of the stream."""
    width = everything * KILLED_SHARE / kills
    return [int(width * number + rng.uniform(0.1, 0.9) * width) for number in range(kills)]


def kill_while_consuming(
    pipeline: Pipeline, process: ConsumerProcess, point: int, everything: int
) -> tuple[Offsets, Offsets]:
    """SIGKILL the consumer as soon as its stored progress passes ``point``;
    return the sink's stored offsets and the group's committed offsets just after."""
    which = process.which
    deadline = time.monotonic() + WAIT_SECONDS
    while progress(pipeline, which) <= point and process.alive:
        assert time.monotonic() < deadline, f"the {which} consumer never stored past event {point}"
        time.sleep(WATCH_SECONDS)
    assert process.alive, process.log_tail()
    process.kill()
    stored = pipeline.stored_offsets(which)
    assert sum(offset + 1 for offset in stored.values()) < everything, (
        f"the {which} consumer stored the whole stream before it was killed"
    )
    return stored, pipeline.committed_offsets(which)


def crash_repeatedly(
    pipeline: Pipeline, process: ConsumerProcess, kills: int, last: Offsets, rng: random.Random
) -> None:
    """Kill and restart the consumer ``kills`` times; after each kill the group's
    committed offsets (next to read) must not pass the stored ones + 1."""
    everything = sum(offset + 1 for offset in last.values())
    for number, point in enumerate(kill_points(everything, kills, rng), start=1):
        stored, committed = kill_while_consuming(pipeline, process, point, everything)
        ahead = {p: c for p, c in committed.items() if c > stored.get(p, -1) + 1}
        assert not ahead, (
            f"{process.which} kill {number}: committed offsets {committed} "
            f"ahead of the stored {stored}"
        )
        process.start()
    wait_until_stored(pipeline, process.which, last, process)


def test_killed_consumers_lose_nothing_and_count_nothing_twice(
    kafka_bootstrap: str, valkey_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    end = recent_monday_morning(time.time())
    teams = load_teams(load_settings())
    simulated = simulate(teams, seed=SEED, days=DAYS, end=end, arrivals_per_hour=ARRIVALS_PER_HOUR)
    topic, dlq_topic = new_topics(kafka_bootstrap, "crash")
    records = produce(kafka_bootstrap, topic, simulated)
    oracle = Oracle.of(records)
    last = last_offsets(records)

    client = redis.Redis.from_url(valkey_url)
    client.flushall()
    client.close()
    upgrade(sqlite_url)
    pipeline = Pipeline(
        bootstrap=kafka_bootstrap,
        redis_url=valkey_url,
        database_url=sqlite_url,
        topic=topic,
        dlq_topic=dlq_topic,
        metrics_group=f"{topic}.metrics",
        store_group=f"{topic}.store",
        batch_size=BATCH_SIZE,
    )
    rng = random.Random(SEED)
    with running_consumers(pipeline, tmp_path) as consumers:
        crash_repeatedly(pipeline, consumers.start("metrics"), METRICS_KILLS, last, rng)
        crash_repeatedly(pipeline, consumers.start("store"), STORE_KILLS, last, rng)

    for comparison in metrics_comparisons(pipeline, oracle, end + 1):
        assert comparison.found == comparison.expected, comparison.what
    cases = case_comparison(sqlite_url, oracle)
    assert cases.found == cases.expected, cases.what
    assert sql_table_counts(sqlite_url)["case_events"] == oracle.counters["applied"]

    reconciled = run_reconcile(pipeline)
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
