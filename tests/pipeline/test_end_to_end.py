"""The whole pipeline against the independent oracle (tests/oracle.py).

Three weeks of a simulated complaint centre (over 20,000 records, duplicates
and invalid events of every kind included) go into a fresh topic on the
embedded broker. Both consumers run as ``complaintops consume`` processes;
once their sinks stored every offset, the API, the SQL ``cases`` table and
the dead-letter topic must say exactly what the oracle computes from the
simulator's labels.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from complaintops.simulate import load_teams
from config import load_settings
from store.migrate import upgrade
from store.models import REJECTED_DUPLICATE, REJECTED_INVALID
from tests.oracle import LabelledRecord, Oracle
from tests.pipeline.helpers import (
    Consumers,
    Offsets,
    Pipeline,
    case_comparison,
    last_offsets,
    metrics_comparisons,
    new_topics,
    produce,
    read_dead_letters,
    recent_monday_morning,
    rejected_positions,
    running_consumers,
    simulate,
    sql_table_counts,
    wait_until_stored,
)

SEED = 20261124
DAYS = 22
ARRIVALS_PER_HOUR = 6.0


@dataclass(frozen=True, slots=True)
class Stream:
    bootstrap: str
    topic: str
    dlq_topic: str
    records: list[LabelledRecord]
    oracle: Oracle
    last: Offsets
    now: float  # just after the last event


@pytest.fixture(scope="module")
def stream(kafka_bootstrap: str) -> Stream:
    end = recent_monday_morning(time.time())
    teams = load_teams(load_settings())
    simulated = simulate(teams, seed=SEED, days=DAYS, end=end, arrivals_per_hour=ARRIVALS_PER_HOUR)
    topic, dlq_topic = new_topics(kafka_bootstrap, "e2e")
    records = produce(kafka_bootstrap, topic, simulated)
    oracle = Oracle.of(records)
    assert oracle.last_event_at is not None and oracle.last_event_at <= end
    return Stream(
        kafka_bootstrap, topic, dlq_topic, records, oracle, last_offsets(records), end + 1
    )


def pipeline_for(stream: Stream, redis_url: str, database_url: str) -> Pipeline:
    return Pipeline(
        bootstrap=stream.bootstrap,
        redis_url=redis_url,
        database_url=database_url,
        topic=stream.topic,
        dlq_topic=stream.dlq_topic,
        metrics_group=f"{stream.topic}.metrics",
        store_group=f"{stream.topic}.store",
    )


@pytest.fixture(scope="module")
def metrics_consumer(
    stream: Stream, valkey_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Pipeline, Consumers]]:
    """The metrics consumer, started once for the module (it runs while the store tests run)."""
    client = redis.Redis.from_url(valkey_url)
    client.flushall()
    client.close()
    logs = tmp_path_factory.mktemp("e2e-metrics")
    pipeline = pipeline_for(stream, valkey_url, f"sqlite:///{logs / 'unused.db'}")
    with running_consumers(pipeline, logs) as consumers:
        consumers.start("metrics")
        yield pipeline, consumers


@pytest.fixture(scope="module")
def metrics_stored(stream: Stream, metrics_consumer: tuple[Pipeline, Consumers]) -> Pipeline:
    pipeline, consumers = metrics_consumer
    wait_until_stored(pipeline, "metrics", stream.last, consumers.started[0])
    return pipeline


def test_the_stream_exercises_every_path(stream: Stream) -> None:
    """The oracle's figures are not trivially zero, so the comparisons can fail."""
    oracle = stream.oracle
    assert len(stream.records) >= 20_000
    assert set(stream.last) == {0, 1, 2}
    counts = oracle.counters
    assert counts["duplicates"] > 100 and counts["invalid"] > 100
    figures = oracle.clock_counts(stream.now)
    assert all(n > 0 for n in figures.values()), figures
    open_cases = oracle.open_cases()
    assert any(case.paused_since is not None for case in open_cases)
    assert all(n > 0 for n in oracle.wip().values())


def test_store_equals_the_oracle(
    stream: Stream,
    metrics_consumer: tuple[Pipeline, Consumers],
    database_url: str,
    tmp_path: Path,
) -> None:
    """The store consumer (while the metrics one runs too): every case row, the
    event log and the rejected records as the oracle says."""
    upgrade(database_url)
    metrics_pipeline, _ = metrics_consumer
    pipeline = pipeline_for(stream, metrics_pipeline.redis_url, database_url)
    with running_consumers(pipeline, tmp_path) as consumers:
        process = consumers.start("store")
        wait_until_stored(pipeline, "store", stream.last, process)
    oracle = stream.oracle
    cases = case_comparison(database_url, oracle)
    assert cases.found == cases.expected, cases.what
    counts = sql_table_counts(database_url)
    assert counts["cases"] == len(oracle.cases)
    assert counts["case_events"] == oracle.counters["applied"]
    assert rejected_positions(database_url, REJECTED_INVALID) == sorted(oracle.invalid_positions)
    assert rejected_positions(database_url, REJECTED_DUPLICATE) == sorted(
        oracle.duplicate_positions
    )


def test_metrics_equal_the_oracle(stream: Stream, metrics_stored: Pipeline) -> None:
    """/overview, /workload and /throughput?hours=168 at NOW (and the clock
    figures at later moments) equal the oracle."""
    for comparison in metrics_comparisons(metrics_stored, stream.oracle, stream.now):
        assert comparison.found == comparison.expected, comparison.what


def test_dead_letter_topic_holds_exactly_the_invalid_records(
    stream: Stream, metrics_stored: Pipeline
) -> None:
    oracle = stream.oracle
    letters = read_dead_letters(stream.bootstrap, stream.dlq_topic, len(oracle.invalid_positions))
    positions = Counter((letter.partition, letter.offset) for letter in letters)
    assert positions == Counter(oracle.invalid_positions)
    for letter in letters:
        assert letter.reason.strip(), letter
        assert letter.value == oracle.invalid_values[(letter.partition, letter.offset)]
