"""Scenario 6: 10,000 malformed records (quick: 1,000) into a running pipeline.

A small valid stream is consumed first by both consumers. Then the
overview and a snapshot of every read-model key are taken, and the records
of :mod:`bench.faults.malformed` (seeded; near-valid events, broken bytes and
state-rule breaches of the stream's own cases) are produced into the same
topic. Both consumers must take them all without dying; every one must be in
the dead-letter topic with a reason and in ``rejected_events``; the overview
must be the same but for ``events.invalid`` (up by exactly the number
produced); no other read-model key may change; the ``cases`` table must still
equal the oracle of the valid stream.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Final

import redis
from kafka import KafkaProducer

from bench.faults.malformed import Malformed, malformed_records
from bench.faults.stage import (
    Findings,
    Stage,
    compare_store,
    log_lines,
    new_stream,
    shown,
)
from dashboard.api import views
from metrics import keys
from store.models import REJECTED_INVALID
from tests.oracle import VALID
from tests.pipeline.helpers import (
    HEARTBEATS,
    OFFSETS,
    Offsets,
    Pipeline,
    read_dead_letters,
    redis_snapshot,
    rejected_positions,
    running_consumers,
    wait_until_stored,
)

NAME: Final = "malformed_events"
SEED: Final = 20_261_206
OUTBOX_PREFIX: Final = keys.template_prefix(keys.DEAD_LETTER_OUTBOX)
LEAVE_OUT: Final = (HEARTBEATS, OFFSETS, OUTBOX_PREFIX, keys.EVENT_COUNTERS)

Position = tuple[int, int]


def sizes(quick: bool) -> tuple[int, int]:
    """(valid stream records, malformed records)."""
    return (5_000, 1_000) if quick else (20_000, 10_000)


def produce_malformed(
    bootstrap: str, topic: str, records: list[Malformed]
) -> dict[Position, Malformed]:
    """Produce in order; each record by the position the broker gave it."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_in_flight_requests_per_connection=1,
        max_request_size=1024 * 1024,
    )
    try:
        sent = [
            (record, producer.send(topic, key=record.key, value=record.value)) for record in records
        ]
        producer.flush(timeout=120)
        placed: dict[Position, Malformed] = {}
        for record, future in sent:
            metadata = future.get(timeout=30)
            placed[(metadata.partition, metadata.offset)] = record
        return placed
    finally:
        producer.close(timeout=10)


def overview(pipeline: Pipeline, now: float) -> dict[str, Any]:
    runtime = pipeline.runtime(now)
    try:
        view = dict(views.overview(runtime, now=now))
    finally:
        runtime.redis.close()
    view.pop("as_of", None)
    return view


def counters(redis_url: str) -> dict[str, str]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return {str(k): str(v) for k, v in client.hgetall(keys.EVENT_COUNTERS).items()}
    finally:
        client.close()


def merged_last(before: Offsets, placed: dict[Position, Malformed]) -> Offsets:
    last = dict(before)
    for partition, offset in placed:
        last[partition] = max(last.get(partition, -1), offset)
    return last


def check_unchanged(
    findings: Findings,
    before: dict[str, Any],
    after: dict[str, Any],
    counted: int,
) -> None:
    """The overview is the same but for events.invalid, up by ``counted``."""
    invalid_before = before["events"]["invalid"]
    invalid_after = after["events"]["invalid"]
    findings.check(
        "events.invalid went up by exactly the number of malformed records",
        invalid_after - invalid_before == counted,
        before=invalid_before,
        after=invalid_after,
        produced=counted,
    )
    same_before = {**before, "events": {**before["events"], "invalid": None}}
    same_after = {**after, "events": {**after["events"], "invalid": None}}
    same = same_before == same_after
    evidence = {} if same else {"before": shown(same_before), "after": shown(same_after)}
    findings.check("every other figure of the overview is unchanged", same, **evidence)


def run(stage: Stage, malformed: int | None = None, valid: int | None = None) -> Findings:
    default_valid, default_malformed = sizes(stage.quick)
    malformed = malformed or default_malformed
    valid = valid or default_valid
    findings = Findings()
    stage.empty_redis()
    stream = new_stream(stage, "faults-malformed", valid, SEED)
    base_last = stream.produce_until(1.0)
    oracle = stream.oracle()
    database_url = stage.sqlite_url(NAME)
    pipeline = stage.pipeline(stream, database_url)
    templates = [json.loads(r.value) for r in stream.produced if r.kind == VALID]
    assert oracle.last_event_at is not None
    records = malformed_records(malformed, SEED, templates, oracle.cases, oracle.last_event_at)
    kinds = Counter(record.kind for record in records)
    findings.figure("valid_stream_records", stream.size)
    findings.figure("malformed_records", len(records))
    findings.figure(
        "generator",
        f"Hypothesis (st.sampled_from kinds, st.randoms), seed {SEED} (bench/faults/malformed.py)",
    )
    findings.figure("kinds", dict(sorted(kinds.items())))
    with running_consumers(pipeline, stage.folder(NAME)) as consumers:
        metrics = consumers.start("metrics")
        store = consumers.start("store")
        wait_until_stored(pipeline, "metrics", base_last, metrics)
        wait_until_stored(pipeline, "store", base_last, store)
        before = overview(pipeline, stream.now)
        snapshot_before = redis_snapshot(pipeline.redis_url, leave_out=LEAVE_OUT)
        counters_before = counters(pipeline.redis_url)
        placed = produce_malformed(stage.bootstrap, stream.topic, records)
        started = time.perf_counter()
        last = merged_last(base_last, placed)
        wait_until_stored(pipeline, "metrics", last, metrics, timeout=600.0)
        wait_until_stored(pipeline, "store", last, store, timeout=600.0)
        findings.figure("seconds_to_consume", round(time.perf_counter() - started, 1))
        findings.check(
            "zero consumer crashes (both processes up, never restarted)",
            metrics.alive and store.alive and len(consumers.started) == 2,
        )
        tracebacks = log_lines(metrics, "Traceback") + log_lines(store, "Traceback")
        findings.check(
            "no traceback in the consumers' logs", tracebacks == 0, tracebacks=tracebacks
        )
        after = overview(pipeline, stream.now)
        snapshot_after = redis_snapshot(pipeline.redis_url, leave_out=LEAVE_OUT)
        counters_after = counters(pipeline.redis_url)
    check_unchanged(findings, before, after, len(records))
    changed = sorted(
        name
        for name in snapshot_before.keys() | snapshot_after.keys()
        if snapshot_before.get(name) != snapshot_after.get(name)
    )
    findings.check(
        "no read-model key changed (but the invalid counter)",
        not changed,
        changed=changed[:20],
        keys_compared=len(snapshot_before),
    )
    counters_before.pop("invalid", None)
    counters_after.pop("invalid", None)
    findings.check(
        "the other event counters are unchanged",
        counters_before == counters_after,
        before=counters_before,
        after=counters_after,
    )
    expected_letters = len(oracle.invalid_positions) + len(placed)
    letters = read_dead_letters(
        stage.bootstrap, stream.dlq_topic, expected=expected_letters, timeout=60.0
    )
    reasons = {(letter.partition, letter.offset): letter.reason for letter in letters}
    missing = sorted(set(placed) - set(reasons))
    unreasoned = sorted(p for p in placed if p in reasons and not reasons[p].strip())
    findings.figure("dead_letters", {"records": len(letters), "distinct": len(reasons)})
    findings.check(
        "every malformed record is in the dead-letter topic",
        not missing,
        missing=len(missing),
        missing_kinds=dict(Counter(placed[p].kind for p in missing)),
    )
    findings.check(
        "every dead letter carries a reason", not unreasoned, without_reason=len(unreasoned)
    )
    findings.figure(
        "reason_by_kind",
        {
            kind: next(
                (reasons[p] for p, r in placed.items() if r.kind == kind and p in reasons), None
            )
            for kind in sorted(kinds)
        },
    )
    rejected = set(rejected_positions(database_url, REJECTED_INVALID))
    findings.check(
        "rejected_events holds every malformed record",
        set(placed) <= rejected,
        missing=len(set(placed) - rejected),
    )
    compare_store(findings, database_url, oracle)
    return findings
