"""Scenario 2: Redis killed and started again empty while the metrics consumer runs.

70 % of the stream is produced and both consumers run. Once the metrics
consumer is part way through, Valkey gets SIGKILL and a new, empty one takes
its port. Without a build marker the consumer must write nothing and commit
nothing: for a while its group's committed offsets are watched (they must
not move) and Redis must hold no offsets and no read-model keys. Then, once
the store consumer has caught up, ``complaintops rebuild`` fills Redis from
SQL; the rest of the stream is produced, the metrics consumer (the same
process) resumes, and at the end the API equals the oracle and
``complaintops reconcile`` finds no drift.

Every invalid record must reach the dead-letter topic: those the metrics
consumer had not yet published when Redis was lost, and those it never saw
because the rebuild moved its position up to the store's, are queued again
by ``rebuild`` from the store's ``rejected_events``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Final

import redis

from bench.faults.stage import (
    Findings,
    Stage,
    check_reconcile,
    compare_metrics,
    new_stream,
    stored_count,
    wait_until_committed,
    wait_until_count,
)
from metrics import keys
from tests.pipeline.helpers import (
    HEARTBEATS,
    REPO_ROOT,
    ConsumerProcess,
    Pipeline,
    read_dead_letters,
    running_consumers,
    wait_until_stored,
)

NAME: Final = "redis_loss"
SEED: Final = 20_261_202
FIRST_PART: Final = 0.7
LOSS_AT_SHARE: Final = 0.3  # of the first part, stored by the metrics consumer
SETTLE_SECONDS: Final = 1.5  # a commit in flight at the loss may still land
WATCH_EVERY: Final = 0.5


def sizes(quick: bool) -> tuple[int, float]:
    """(records, seconds watched without a build marker)."""
    return (20_000, 5.0) if quick else (100_000, 15.0)


def redis_names(redis_url: str) -> list[str]:
    """Every product key in Redis but the consumers' heartbeats."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return sorted(
            name
            for name in client.scan_iter(match=keys.ALL_PATTERN, count=1000)
            if not name.startswith(HEARTBEATS)
        )
    finally:
        client.close()


def watch_while_unbuilt(
    findings: Findings, pipeline: Pipeline, seconds: float, processes: list[ConsumerProcess]
) -> None:
    """With no build marker: committed offsets still, no key written, for ``seconds``."""
    time.sleep(SETTLE_SECONDS)
    committed = pipeline.committed_offsets("metrics")
    moved: list[dict[int, int]] = []
    written: set[str] = set()
    samples = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        now_committed = pipeline.committed_offsets("metrics")
        if now_committed != committed:
            moved.append(now_committed)
        written.update(redis_names(pipeline.redis_url))
        samples += 1
        time.sleep(WATCH_EVERY)
    findings.figure("watched_without_marker", {"seconds": seconds, "samples": samples})
    findings.check(
        "no build marker: the group's committed offsets did not move",
        not moved and samples > 0,
        committed=committed,
        moved_to=moved[:3],
    )
    findings.check(
        "no build marker: nothing written to Redis (no offsets, no read model)",
        not written,
        written=sorted(written)[:20],
    )
    findings.check("the consumers stayed up while Redis was empty", all(p.alive for p in processes))


def rebuild(pipeline: Pipeline) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "complaintops", "rebuild"],
        env=pipeline.environ(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def run(stage: Stage, records: int | None = None) -> Findings:
    default_records, watch_seconds = sizes(stage.quick)
    records = records or default_records
    findings = Findings()
    stage.empty_redis()
    stream = new_stream(stage, "faults-redis", records, SEED)
    first = stream.produce_until(FIRST_PART)
    first_count = sum(o + 1 for o in first.values())
    findings.figure("records", stream.size)
    pipeline = stage.pipeline(stream, stage.sqlite_url(NAME))
    with running_consumers(pipeline, stage.folder(NAME)) as consumers:
        store = consumers.start("store")
        metrics = consumers.start("metrics")
        lost_at = wait_until_count(pipeline, metrics, round(first_count * LOSS_AT_SHARE))
        stage.restart_valkey_empty()
        findings.figure("metrics_stored_when_redis_was_lost", lost_at)
        findings.check(
            "Redis was lost while the metrics consumer was still consuming",
            lost_at < first_count,
            stored=lost_at,
            produced=first_count,
        )
        watch_while_unbuilt(findings, pipeline, watch_seconds, [metrics, store])
        wait_until_stored(pipeline, "store", first, store, timeout=600.0)
        rebuilt = rebuild(pipeline)
        findings.check(
            "complaintops rebuild succeeded",
            rebuilt.returncode == 0,
            exit_code=rebuilt.returncode,
            output=(rebuilt.stdout + rebuilt.stderr).strip().splitlines()[-8:],
        )
        last = stream.produce_until(1.0)
        wait_until_stored(pipeline, "metrics", last, metrics, timeout=600.0)
        wait_until_stored(pipeline, "store", last, store, timeout=600.0)
        findings.check(
            "the same metrics consumer process resumed after the rebuild",
            metrics.alive and len(consumers.started) == 2,
        )
        findings.check(
            "the metrics group commits again after the rebuild",
            wait_until_committed(pipeline, "metrics", last),
            committed=pipeline.committed_offsets("metrics"),
        )
        findings.figure("metrics_stored_at_end", stored_count(pipeline, "metrics"))
    oracle = stream.oracle()
    compare_metrics(findings, pipeline, oracle, stream.now)
    check_reconcile(findings, pipeline)
    letters = read_dead_letters(
        stage.bootstrap, stream.dlq_topic, expected=len(oracle.invalid_positions), timeout=20.0
    )
    positions = {(letter.partition, letter.offset) for letter in letters}
    missing = oracle.invalid_positions - positions
    findings.figure("dead_letters_not_published_after_the_loss", len(missing))
    findings.check(
        "every invalid record reached the dead-letter topic, those the metrics group had "
        "not committed when Redis was lost included",
        not missing,
        missing=sorted(missing)[:10],
    )
    return findings
