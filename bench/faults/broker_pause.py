"""Scenario 3: the broker frozen with SIGSTOP while both consumers consume.

60 % of the stream is produced; once the metrics consumer is a quarter of
the way through it, the broker is paused for 30 s (quick: 8 s) — it keeps its
port and answers nothing — then resumed, and the rest of the stream is
produced. Both consumers (the same processes, never restarted) must store
everything: the API and the ``cases`` table equal the oracle, every invalid
record is dead-lettered, and ``complaintops reconcile`` finds no drift.
"""

from __future__ import annotations

import time
from typing import Final

from bench.faults.stage import (
    Findings,
    Stage,
    check_dead_letters,
    check_reconcile,
    compare_metrics,
    compare_store,
    new_stream,
    stored_count,
    wait_until_committed,
    wait_until_count,
)
from tests.pipeline.helpers import running_consumers, wait_until_stored

NAME: Final = "broker_pause"
SEED: Final = 20_261_203
FIRST_PART: Final = 0.6
PAUSE_AT_SHARE: Final = 0.25  # of the first part, stored by the metrics consumer


def sizes(quick: bool) -> tuple[int, float]:
    """(records, seconds the broker stays frozen)."""
    return (20_000, 8.0) if quick else (100_000, 30.0)


def run(stage: Stage, records: int | None = None, pause: float | None = None) -> Findings:
    default_records, default_pause = sizes(stage.quick)
    records = records or default_records
    pause = pause or default_pause
    findings = Findings()
    stage.empty_redis()
    stream = new_stream(stage, "faults-pause", records, SEED)
    first = stream.produce_until(FIRST_PART)
    first_count = sum(o + 1 for o in first.values())
    findings.figure("records", stream.size)
    database_url = stage.sqlite_url(NAME)
    pipeline = stage.pipeline(stream, database_url)
    with running_consumers(pipeline, stage.folder(NAME)) as consumers:
        store = consumers.start("store")
        metrics = consumers.start("metrics")
        paused_at = wait_until_count(pipeline, metrics, round(first_count * PAUSE_AT_SHARE))
        stage.broker.pause()
        try:
            time.sleep(pause)
            frozen = stored_count(pipeline, "metrics")
        finally:
            stage.broker.resume()
        resumed = time.perf_counter()
        findings.figure(
            "paused",
            {
                "seconds": pause,
                "metrics_stored_at_pause": paused_at,
                "metrics_stored_at_resume": frozen,
                "store_stored_after_pause": stored_count(pipeline, "store"),
                "first_part": first_count,
            },
        )
        findings.check(
            "the broker was paused while the metrics consumer was still consuming",
            paused_at < first_count,
            stored=paused_at,
            produced=first_count,
        )
        last = stream.produce_until(1.0)
        wait_until_stored(pipeline, "metrics", last, metrics, timeout=600.0)
        wait_until_stored(pipeline, "store", last, store, timeout=900.0)
        findings.figure(
            "seconds_to_store_everything_after_resume", round(time.perf_counter() - resumed, 1)
        )
        findings.check(
            "both consumers survived the pause (same processes, never restarted)",
            metrics.alive and store.alive and len(consumers.started) == 2,
        )
        for which in ("metrics", "store"):
            findings.check(
                f"the {which} group commits again after the pause",
                wait_until_committed(pipeline, which, last),
                committed=pipeline.committed_offsets(which),
            )
    oracle = stream.oracle()
    compare_metrics(findings, pipeline, oracle, stream.now)
    compare_store(findings, database_url, oracle)
    check_dead_letters(findings, stream, oracle)
    check_reconcile(findings, pipeline)
    return findings
