"""At-least-once delivery after everything is stored.

(a) New consumers in the same groups whose Kafka offsets were reset to the
beginning change no metric and no SQL row: the sinks' stored offsets decide
where reading starts. (b) The same events produced again, as a retrying
producer does (new offsets, same events), are counted as duplicates and
change nothing else.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis

from complaintops.simulate import load_teams
from config import load_settings
from events.simulator import SimEvent
from metrics import keys
from store.migrate import upgrade
from tests.oracle import VALID, Oracle
from tests.pipeline.helpers import (
    HEARTBEATS,
    OFFSETS,
    Pipeline,
    last_offsets,
    metrics_comparisons,
    new_topics,
    produce,
    recent_monday_morning,
    redis_snapshot,
    rejected_positions,
    running_consumers,
    simulate,
    sql_snapshot,
    wait_until_idle,
    wait_until_stored,
)

SEED = 4242
DAYS = 5
ARRIVALS_PER_HOUR = 6.0
SINKS = ("metrics", "store")


def test_reset_offsets_and_reproduced_events_change_nothing_but_duplicates(
    kafka_bootstrap: str, valkey_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    end = recent_monday_morning(time.time())
    teams = load_teams(load_settings())
    simulated = simulate(teams, seed=SEED, days=DAYS, end=end, arrivals_per_hour=ARRIVALS_PER_HOUR)
    topic, dlq_topic = new_topics(kafka_bootstrap, "redelivery")
    first = produce(kafka_bootstrap, topic, simulated)
    oracle = Oracle.of(first)
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
    )

    with running_consumers(pipeline, tmp_path) as consumers:
        for which in SINKS:
            wait_until_stored(pipeline, which, last_offsets(first), consumers.start(which))
        consumers.stop_all()
    stored_metrics = redis_snapshot(valkey_url)
    stored_rows = sql_snapshot(sqlite_url)

    # (a) offsets reset to the beginning, new consumers in the same groups
    for which in SINKS:
        pipeline.reset_group(which)
        assert pipeline.committed_offsets(which) == {0: 0, 1: 0, 2: 0}
    restarted_at = time.time()
    with running_consumers(pipeline, tmp_path) as consumers:
        processes = {which: consumers.start(which) for which in SINKS}
        for process in processes.values():
            wait_until_idle(pipeline, process, restarted_at)
        assert redis_snapshot(valkey_url) == stored_metrics
        assert sql_snapshot(sqlite_url) == stored_rows

        # (b) the same events again, at new offsets
        again = [
            SimEvent(record.key, record.value, 0.0, VALID, "")
            for record in first
            if record.kind == VALID
        ]
        second = produce(kafka_bootstrap, topic, again)
        for which, process in processes.items():
            wait_until_stored(pipeline, which, last_offsets(second), process)

    counters = dict(oracle.counters, duplicates=oracle.counters["duplicates"] + len(second))
    expected = {k: v for k, v in stored_metrics.items() if not k.startswith(OFFSETS)}
    expected[keys.EVENT_COUNTERS] = {name: str(n) for name, n in counters.items() if n}
    assert redis_snapshot(valkey_url, leave_out=(HEARTBEATS, OFFSETS)) == expected
    for comparison in metrics_comparisons(pipeline, oracle, end + 1):
        if comparison.what == "/api/v1/overview":
            assert comparison.found == dict(comparison.expected, events=counters)
        else:
            assert comparison.found == comparison.expected, comparison.what

    rows = sql_snapshot(sqlite_url)
    for table in ("cases", "case_events", "points_ledger"):
        assert rows[table] == stored_rows[table], table
    assert (
        rows["rejected_events"][: len(stored_rows["rejected_events"])]
        == (stored_rows["rejected_events"])
    )
    assert rejected_positions(sqlite_url, "duplicate") == sorted(
        oracle.duplicate_positions | {(r.partition, r.offset) for r in second}
    )
