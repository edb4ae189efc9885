"""Scenario 1: the metrics consumer SIGKILLed again and again while it consumes.

The whole stream is produced first; both consumers run as ``complaintops
consume`` processes. The metrics consumer is killed at seeded random points
of its progress — the stretch from 3 % to 70 % of the stream is cut into one
slot per kill and a point is drawn in each; the kill comes a random 0–0.05 s
after the consumer stored a batch at or past its point — and started again
at once. After each kill the group's committed offsets must not be
ahead of what Redis stored (commit only after store). At the end the API
equals the oracle, every invalid record reached the dead-letter topic, and
``complaintops reconcile`` finds no drift.
"""

from __future__ import annotations

import random
import time
from typing import Any, Final

from bench.faults.stage import (
    Findings,
    Stage,
    check_dead_letters,
    check_reconcile,
    compare_metrics,
    new_stream,
    stored_count,
)
from tests.pipeline.helpers import (
    ConsumerProcess,
    Pipeline,
    running_consumers,
    wait_until_stored,
)

NAME: Final = "consumer_kills"
SEED: Final = 20_261_201
BATCH_SIZE: Final = 200
FIRST_KILL_SHARE: Final = 0.03
LAST_KILL_SHARE: Final = 0.70
LONGEST_DELAY: Final = 0.05
PROGRESS_POLL: Final = 0.005


def sizes(quick: bool) -> tuple[int, int]:
    """(records, kills)."""
    return (20_000, 5) if quick else (200_000, 20)


def kill_points(rng: random.Random, kills: int, total: int) -> list[int]:
    """The stored-record counts after which each kill may come, one drawn in each of
    ``kills`` equal slots (so a restart's catching up rarely swallows the next one)."""
    width = (LAST_KILL_SHARE - FIRST_KILL_SHARE) / kills
    return [
        round((FIRST_KILL_SHARE + width * (slot + rng.random())) * total) for slot in range(kills)
    ]


def wait_for_progress(
    pipeline: Pipeline, process: ConsumerProcess, at_least: int, timeout: float
) -> None:
    """Poll the stored count often (a batch takes milliseconds) until it reaches ``at_least``."""
    deadline = time.monotonic() + timeout
    while stored_count(pipeline, process.which) < at_least:
        if not process.alive:
            raise AssertionError(f"the {process.which} consumer exited:\n{process.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the {process.which} consumer did not store {at_least} records")
        time.sleep(PROGRESS_POLL)


def kill_once(
    pipeline: Pipeline, process: ConsumerProcess, point: int, rng: random.Random
) -> dict[str, Any]:
    """Kill after the consumer stored a batch at or past ``point``; restart it.

    Returns what the kill found: the stored count and any partition whose
    committed offset was ahead of the stored one + 1.
    """
    since_start = stored_count(pipeline, "metrics")
    wait_for_progress(pipeline, process, max(point, since_start + 1), timeout=300.0)
    delay = rng.uniform(0.0, LONGEST_DELAY)
    time.sleep(delay)
    process.kill()
    stored = pipeline.stored_offsets("metrics")
    committed = pipeline.committed_offsets("metrics")
    ahead = {p: c for p, c in committed.items() if c > stored.get(p, -1) + 1}
    process.start()
    return {
        "stored": sum(o + 1 for o in stored.values()),
        "delay_s": round(delay, 3),
        "committed_ahead": ahead,
    }


def run(stage: Stage, records: int | None = None, kills: int | None = None) -> Findings:
    default_records, default_kills = sizes(stage.quick)
    records = records or default_records
    kills = kills or default_kills
    findings = Findings()
    stage.empty_redis()
    started = time.perf_counter()
    stream = new_stream(stage, "faults-kills", records, SEED)
    last = stream.produce_until(1.0)
    oracle = stream.oracle()
    findings.figure("records", stream.size)
    findings.figure("prepare_seconds", round(time.perf_counter() - started, 1))
    database_url = stage.sqlite_url(NAME)
    pipeline = stage.pipeline(stream, database_url, BATCH_SIZE)
    rng = random.Random(SEED)
    points = kill_points(rng, kills, stream.size)
    outcomes: list[dict[str, Any]] = []
    consume_started = time.perf_counter()
    with running_consumers(pipeline, stage.folder(NAME)) as consumers:
        store = consumers.start("store")
        metrics = consumers.start("metrics")
        for point in points:
            outcomes.append(kill_once(pipeline, metrics, point, rng))
        wait_until_stored(pipeline, "metrics", last, metrics, timeout=600.0)
        wait_until_stored(pipeline, "store", last, store, timeout=900.0)
        findings.figure("consume_seconds", round(time.perf_counter() - consume_started, 1))
        findings.check("the store consumer never exited", store.alive)
    findings.figure("kills", len(outcomes))
    findings.figure("killed_at_stored_records", [o["stored"] for o in outcomes])
    findings.check(
        f"{kills} kills, each while the stream was still being consumed",
        len(outcomes) == kills and all(o["stored"] < stream.size for o in outcomes),
        stored_at_kills=[o["stored"] for o in outcomes],
    )
    findings.check(
        "after every kill, no committed offset was ahead of the stored ones",
        all(not o["committed_ahead"] for o in outcomes),
        ahead=[o["committed_ahead"] for o in outcomes if o["committed_ahead"]],
    )
    compare_metrics(findings, pipeline, oracle, stream.now)
    check_dead_letters(findings, stream, oracle)
    check_reconcile(findings, pipeline)
    return findings
