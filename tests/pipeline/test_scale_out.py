"""Scale-out: two metrics consumers of one group, as two processes, on a Redis
Cluster (three Valkey primaries), with the store consumer beside them.

Partitions are the unit of parallelism: the second consumer joins while the
first is storing, the group rebalances, and each batch's compare-and-set on
the stored offsets keeps a consumer that lost its partitions from writing
them. The read model must still equal the oracle, every invalid record must
reach the dead-letter topic exactly once, and `reconcile` must find no drift.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from complaintops.embedded_cluster import EmbeddedCluster
from complaintops.simulate import load_teams
from config import load_settings
from store.migrate import upgrade
from tests.oracle import Oracle
from tests.pipeline.helpers import (
    PARTITIONS,
    ConsumerProcess,
    Pipeline,
    last_offsets,
    metrics_comparisons,
    new_topics,
    produce,
    read_dead_letters,
    recent_monday_morning,
    run_reconcile,
    running_consumers,
    simulate,
    wait_for,
    wait_until_stored,
)

SEED = 20261125
DAYS = 10


def assignment(process: ConsumerProcess) -> list[int]:
    """The partitions the process was last assigned (from its log)."""
    found: list[int] = []
    for line in process.log_tail(10_000).splitlines():
        if "partitions assigned: [" in line:
            inside = line.rsplit("[", 1)[1].rstrip("]")
            found = [int(p) for p in inside.split(",") if p.strip()]
    return found


def test_two_metrics_consumers_on_a_redis_cluster_equal_the_oracle(
    kafka_bootstrap: str,
    valkey_cluster: EmbeddedCluster,
    cluster_client: object,  # emptied before the test
    database_url: str,
    tmp_path: Path,
) -> None:
    end = recent_monday_morning(time.time())
    simulated = simulate(
        load_teams(load_settings()), seed=SEED, days=DAYS, end=end, arrivals_per_hour=6.0
    )
    half = len(simulated) // 2
    topic, dlq_topic = new_topics(kafka_bootstrap, "scale")
    upgrade(database_url)
    pipeline = Pipeline(
        bootstrap=kafka_bootstrap,
        redis_url=valkey_cluster.url,
        redis_cluster=True,
        database_url=database_url,
        topic=topic,
        dlq_topic=dlq_topic,
        metrics_group=f"{topic}.metrics",
        store_group=f"{topic}.store",
        batch_size=200,
    )

    with running_consumers(pipeline, tmp_path) as consumers:
        first = consumers.start("metrics")
        second = consumers.start("metrics")
        store = consumers.start("store")

        # Scaled out: the group shares the partitions between both processes.
        def shared() -> bool:
            a, b = assignment(first), assignment(second)
            return bool(a) and bool(b) and sorted(a + b) == list(range(PARTITIONS))

        wait_for(shared, "both metrics consumers to hold partitions")
        records = produce(kafka_bootstrap, topic, simulated[:half])
        wait_until_stored(pipeline, "metrics", last_offsets(records), first)

        # Scaled in: the second stops, the first takes its partitions over.
        second.stop()
        wait_for(lambda: len(assignment(first)) == PARTITIONS, "the first to hold every partition")
        records += produce(kafka_bootstrap, topic, simulated[half:])
        last = last_offsets(records)
        wait_until_stored(pipeline, "metrics", last, first)
        wait_until_stored(pipeline, "store", last, store)

        oracle = Oracle.of(records)
        for comparison in metrics_comparisons(pipeline, oracle, end + 1):
            assert comparison.found == comparison.expected, comparison.what

        letters = read_dead_letters(kafka_bootstrap, dlq_topic, len(oracle.invalid_positions))
        assert Counter((letter.partition, letter.offset) for letter in letters) == Counter(
            oracle.invalid_positions
        )

        result = run_reconcile(pipeline)
        assert result.returncode == 0, result.stdout + result.stderr
