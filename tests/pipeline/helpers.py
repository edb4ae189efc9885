"""Running the real pipeline for the acceptance tests: produce a simulated
stream, run the consumers as ``complaintops consume`` subprocesses, wait
until their sinks stored everything, and read what they produced.

The broker's end offsets are not asked for (the embedded broker answers
ListOffsets wrongly): the producer's record metadata tells exactly which
offset every record got, so the last offset per partition is known.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import redis
from flask.testing import FlaskClient
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata
from sqlalchemy import func, select

from complaintops.embedded import create_topics
from complaintops.redis_client import connect as connect_redis
from complaintops.runtime import Runtime
from config import load_settings
from consumers.dead_letter import HEADER_OFFSET, HEADER_PARTITION, HEADER_REASON
from dashboard.api import views
from dashboard.server import create_server
from events.simulator import SimEvent, SimulationConfig, simulate_to_list
from metrics import keys
from metrics.query import MetricsQuery
from metrics.sink import RedisSink
from store.db import make_engine
from store.models import Base, Case, CaseEventRow, PointsEntry, RejectedEvent
from store.sink import SqlSink
from tests.oracle import CaseRow, LabelledRecord, Oracle

SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
PARTITIONS: Final = 3
API_TOKEN: Final = "pipeline-test-token"
WAIT_SECONDS: Final = 150.0
POLL_SECONDS: Final = 0.2
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
DAY: Final = 86_400.0
REQUIRED_OVERVIEW_FIELDS: Final = (
    "open_cases",
    "wip",
    "follow_ups_overdue",
    "decision_at_risk",
    "decision_breached",
    "events",
)
CLOCK_FIELDS: Final = ("follow_ups_overdue", "decision_at_risk", "decision_breached")

Offsets = dict[int, int]


# -- the stream ------------------------------------------------------------------


def recent_monday_morning(now: float, tz: ZoneInfo = SHANGHAI) -> float:
    """10:00 local on the latest Monday at or before ``now``.

    A simulation ending there is the same every day of a week (reproducible)
    and recent enough for the read model's retained hourly flows.
    """
    local = datetime.fromtimestamp(now, tz)
    monday = local.date() - timedelta(days=local.weekday())
    moment = datetime(monday.year, monday.month, monday.day, 10, tzinfo=tz)
    if moment > local:
        moment -= timedelta(days=7)
    return moment.timestamp()


def simulate(
    teams: Sequence[tuple[str, Sequence[str]]],
    *,
    seed: int,
    days: float,
    end: float,
    arrivals_per_hour: float,
    invalid_share: float = 0.02,
    duplicate_share: float = 0.03,
) -> list[SimEvent]:
    config = SimulationConfig(
        teams=teams,
        seed=seed,
        arrivals_per_hour=arrivals_per_hour,
        invalid_share=invalid_share,
        duplicate_share=duplicate_share,
        tz=SHANGHAI,
    )
    return simulate_to_list(config, days, end)


def new_topics(bootstrap: str, prefix: str) -> tuple[str, str]:
    """A fresh topic and its dead-letter topic (3 partitions each)."""
    topic = f"{prefix}.{uuid.uuid4().hex[:8]}"
    dlq = f"{topic}.dlq"
    create_topics(bootstrap, {topic: PARTITIONS, dlq: PARTITIONS})
    return topic, dlq


def produce(bootstrap: str, topic: str, records: Iterable[SimEvent]) -> list[LabelledRecord]:
    """Produce in order, keyed by case id; each record's label with the partition
    and offset the broker gave it."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_in_flight_requests_per_connection=1,  # keeps each partition's order on retries
    )
    try:
        sent = [
            (record, producer.send(topic, key=record.case_id.encode(), value=record.value))
            for record in records
        ]
        producer.flush(timeout=120)
        labelled = []
        for record, future in sent:
            metadata = future.get(timeout=30)
            labelled.append(
                LabelledRecord(
                    metadata.partition, metadata.offset, record.kind, record.value, record.case_id
                )
            )
        return labelled
    finally:
        producer.close(timeout=10)


def last_offsets(records: Iterable[LabelledRecord]) -> Offsets:
    """The last offset produced per partition."""
    last: Offsets = {}
    for record in records:
        last[record.partition] = max(last.get(record.partition, -1), record.offset)
    return last


# -- the pipeline's surroundings --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Where one test's pipeline runs: broker, Redis, database, topics, groups."""

    bootstrap: str
    redis_url: str
    database_url: str
    topic: str
    dlq_topic: str
    metrics_group: str
    store_group: str
    batch_size: int = 500
    # The Redis URL names a node of a Redis Cluster.
    redis_cluster: bool = False

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMPLAINTOPS_")}
        env.update(
            COMPLAINTOPS_KAFKA_BOOTSTRAP=self.bootstrap,
            COMPLAINTOPS_REDIS_URL=self.redis_url,
            COMPLAINTOPS_DATABASE_URL=self.database_url,
            COMPLAINTOPS_TOPIC=self.topic,
            COMPLAINTOPS_DLQ_TOPIC=self.dlq_topic,
            COMPLAINTOPS_METRICS_GROUP=self.metrics_group,
            COMPLAINTOPS_STORE_GROUP=self.store_group,
            COMPLAINTOPS_EMBEDDED="true",
            COMPLAINTOPS_BATCH_SIZE=str(self.batch_size),
            COMPLAINTOPS_REDIS_CLUSTER=str(self.redis_cluster).lower(),
            PYTHONUNBUFFERED="1",
        )
        return env

    def group(self, which: str) -> str:
        return self.metrics_group if which == "metrics" else self.store_group

    def runtime(self, now: float | None = None) -> Runtime:
        """The dashboard's runtime over this pipeline; ``now`` fixes its clock."""
        settings = load_settings(
            kafka_bootstrap=self.bootstrap,
            redis_url=self.redis_url,
            redis_cluster=self.redis_cluster,
            database_url=self.database_url,
            topic=self.topic,
            dlq_topic=self.dlq_topic,
            metrics_group=self.metrics_group,
            store_group=self.store_group,
            api_tokens=[API_TOKEN],
        )
        runtime = Runtime.from_settings(settings)
        if now is not None:
            runtime.query = MetricsQuery(
                runtime.redis,
                runtime.tz,
                warning_days=runtime.rules.clocks.decision.warning_days,
                clock=lambda: now,
            )
        return runtime

    # -- positions ------------------------------------------------------------------

    def stored_offsets(self, which: str) -> Offsets:
        """What the sink of ``which`` ('metrics' or 'store') has stored."""
        if which == "metrics":
            client = connect_redis(self.redis_url, cluster=self.redis_cluster)
            try:
                return RedisSink(client, self.metrics_group, SHANGHAI).stored_offsets(self.topic)
            finally:
                client.close()
        engine = make_engine(self.database_url)
        try:
            return SqlSink(engine, self.store_group, SHANGHAI).stored_offsets(self.topic)
        finally:
            engine.dispose()

    def committed_offsets(self, which: str) -> Offsets:
        """The group's committed Kafka offsets (the next offset to read) per partition."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group(which),
            enable_auto_commit=False,
        )
        try:
            found: Offsets = {}
            for partition in range(PARTITIONS):
                committed = consumer.committed(TopicPartition(self.topic, partition))
                if committed is not None:
                    found[partition] = committed
            return found
        finally:
            consumer.close(autocommit=False)

    def reset_group(self, which: str) -> None:
        """Commit offset 0 on every partition for the group (no member may be running)."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=self.group(which),
            enable_auto_commit=False,
        )
        try:
            partitions = [TopicPartition(self.topic, p) for p in range(PARTITIONS)]
            consumer.assign(partitions)
            consumer.commit({tp: OffsetAndMetadata(0, "", -1) for tp in partitions})
        finally:
            consumer.close(autocommit=False)


def reached(stored: Offsets, target: Offsets) -> bool:
    return all(stored.get(p, -1) >= offset for p, offset in target.items())


# -- consumer processes ---------------------------------------------------------------


@dataclass
class ConsumerProcess:
    """``complaintops consume <which>`` running as a child process."""

    which: str
    pipeline: Pipeline
    log_path: Path
    process: subprocess.Popen[bytes] = field(init=False)

    def __post_init__(self) -> None:
        self.start()

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "complaintops", "consume", self.which],
                env=self.pipeline.environ(),
                cwd=REPO_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, as an orderly shutdown; SIGKILL if it hangs."""
        if not self.alive:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


@dataclass
class Consumers:
    """Every consumer process a test started; all stopped at the end."""

    pipeline: Pipeline
    log_dir: Path
    started: list[ConsumerProcess] = field(default_factory=list)

    def start(self, which: str) -> ConsumerProcess:
        log = self.log_dir / f"consume-{which}-{len(self.started)}.log"
        process = ConsumerProcess(which, self.pipeline, log)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


@contextmanager
def running_consumers(pipeline: Pipeline, log_dir: Path) -> Iterator[Consumers]:
    consumers = Consumers(pipeline, log_dir)
    try:
        yield consumers
    finally:
        consumers.stop_all()


def wait_until_stored(
    pipeline: Pipeline,
    which: str,
    target: Offsets,
    process: ConsumerProcess | None = None,
    timeout: float = WAIT_SECONDS,
) -> Offsets:
    """Wait until the sink of ``which`` stored every offset up to ``target``."""
    deadline = time.monotonic() + timeout
    stored: Offsets = {}
    while time.monotonic() < deadline:
        stored = pipeline.stored_offsets(which)
        if reached(stored, target):
            return stored
        if process is not None and not process.alive:
            raise AssertionError(
                f"the {which} consumer exited ({process.process.returncode}):\n{process.log_tail()}"
            )
        time.sleep(POLL_SECONDS)
    tail = process.log_tail() if process is not None else ""
    raise AssertionError(
        f"the {which} sink stored {stored}, not {target}, within {timeout:.0f} s\n{tail}"
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"timed out waiting for {what}")


# -- reading results ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int  # of the original record
    offset: int
    reason: str
    value: bytes


def read_dead_letters(
    bootstrap: str, dlq_topic: str, expected: int, timeout: float = 60.0, linger: float = 2.0
) -> list[DeadLetter]:
    """Every record of the dead-letter topic: read until ``expected`` arrived,
    then ``linger`` seconds more to catch any extra."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(dlq_topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, 0)
        letters: list[DeadLetter] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(letters) < expected:
            letters.extend(_dead_letters(consumer.poll(timeout_ms=500)))
        linger_until = time.monotonic() + linger
        while time.monotonic() < linger_until:
            letters.extend(_dead_letters(consumer.poll(timeout_ms=200)))
        return letters
    finally:
        consumer.close(autocommit=False)


def _dead_letters(polled: dict[TopicPartition, list[ConsumerRecord]]) -> Iterator[DeadLetter]:
    for messages in polled.values():
        for message in messages:
            headers = {name: value.decode() for name, value in message.headers or []}
            yield DeadLetter(
                int(headers[HEADER_PARTITION]),
                int(headers[HEADER_OFFSET]),
                headers.get(HEADER_REASON, ""),
                message.value,
            )


def api_client(runtime: Runtime) -> FlaskClient:
    client = create_server(runtime).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {API_TOKEN}"
    return client


def api_get(client: FlaskClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code, response.get_data(True))
    body: dict[str, Any] = response.get_json()
    return body


# -- comparing with the oracle ----------------------------------------------------------


def epoch(text: str) -> float:
    """An API time (RFC 3339 with the business zone's offset) as epoch seconds."""
    moment = datetime.fromisoformat(text)
    assert moment.utcoffset() == timedelta(hours=8), text
    return moment.timestamp()


def api_figures(runtime: Runtime, now: float) -> dict[str, Any]:
    """overview, workload and throughput?hours=168 through the API at ``now``
    (the runtime's clock is fixed at ``now``)."""
    client = api_client(runtime)
    overview = api_get(client, "/api/v1/overview")
    assert epoch(overview.pop("as_of")) == now, "as_of is not the clock's now"
    throughput = api_get(client, "/api/v1/throughput?hours=168")
    for bucket in throughput["buckets"]:
        bucket["start"] = epoch(bucket["start"])
    return {
        "overview": {name: overview[name] for name in REQUIRED_OVERVIEW_FIELDS},
        "workload": api_get(client, "/api/v1/workload"),
        "throughput": throughput["buckets"],
    }


def oracle_figures(oracle: Oracle, runtime: Runtime, now: float) -> dict[str, Any]:
    return {
        "overview": oracle.overview(now),
        "workload": oracle.workload(runtime.configured_handlers()),
        "throughput": oracle.throughput(now, 168),
    }


@dataclass(frozen=True, slots=True)
class Comparison:
    """What the pipeline shows and what the oracle says it must show."""

    what: str
    found: Any
    expected: Any


def metrics_comparisons(pipeline: Pipeline, oracle: Oracle, now: float) -> list[Comparison]:
    """The API at ``now`` and the clock figures at later moments, beside the oracle's."""
    runtime = pipeline.runtime(now)
    try:
        found = api_figures(runtime, now)
        expected = oracle_figures(oracle, runtime, now)
        comparisons = [Comparison(f"/api/v1/{name}", found[name], expected[name]) for name in found]
        for later in (now, now + 0.6 * DAY, now + 2 * DAY, now + 5.3 * DAY):
            view = views.overview(runtime, now=later)
            comparisons.append(
                Comparison(
                    f"clock figures at now + {(later - now) / DAY:.1f} days",
                    {name: view[name] for name in CLOCK_FIELDS},
                    oracle.clock_counts(later),
                )
            )
        return comparisons
    finally:
        runtime.redis.close()


def stored_case_rows(database_url: str) -> dict[str, CaseRow]:
    """The SQL ``cases`` table in the oracle's terms."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(
                    Case.case_id,
                    Case.status,
                    Case.stage,
                    Case.team_id,
                    Case.handler_id,
                    Case.last_seq,
                    Case.follow_up_due,
                    Case.follow_up_done,
                    Case.decision_deadline,
                )
            ).all()
    finally:
        engine.dispose()
    return {
        row.case_id: CaseRow(
            status=row.status,
            stage=row.stage,
            team_id=row.team_id,
            handler_id=row.handler_id,
            last_seq=row.last_seq,
            follow_up_due=_epoch_or_none(row.follow_up_due),
            follow_up_done=row.follow_up_done,
            decision_deadline=_epoch_or_none(row.decision_deadline),
        )
        for row in rows
    }


def _epoch_or_none(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def case_comparison(database_url: str, oracle: Oracle) -> Comparison:
    """The SQL ``cases`` rows beside the oracle's, restricted to the cases that differ."""
    stored = stored_case_rows(database_url)
    expected = oracle.case_rows()
    differing = {
        cid for cid in stored.keys() | expected.keys() if stored.get(cid) != expected.get(cid)
    }
    return Comparison(
        f"cases table ({len(differing)} of {len(expected)} cases differ)",
        {cid: stored.get(cid) for cid in sorted(differing)},
        {cid: expected.get(cid) for cid in sorted(differing)},
    )


def sql_table_counts(database_url: str) -> dict[str, int]:
    """Rows of the tables the store consumer writes."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                table.__tablename__: connection.execute(
                    select(func.count()).select_from(table)
                ).scalar_one()
                for table in (Case, CaseEventRow, PointsEntry, RejectedEvent)
            }
    finally:
        engine.dispose()


def rejected_positions(database_url: str, kind: str) -> list[tuple[int, int]]:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(RejectedEvent.partition, RejectedEvent.offset).where(
                    RejectedEvent.kind == kind
                )
            ).all()
    finally:
        engine.dispose()
    return sorted((row.partition, row.offset) for row in rows)


def run_reconcile(pipeline: Pipeline) -> subprocess.CompletedProcess[str]:
    """``complaintops reconcile`` over the pipeline (exit 0: no drift)."""
    return subprocess.run(
        [sys.executable, "-m", "complaintops", "reconcile", "--wait", "60"],
        env=pipeline.environ(),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


# -- snapshots for "nothing changed" ------------------------------------------------------

HEARTBEATS: Final = keys.CONSUMER_HEARTBEAT.format("")
OFFSETS: Final = keys.template_prefix(keys.OFFSET)


def redis_snapshot(redis_url: str, leave_out: Sequence[str] = (HEARTBEATS,)) -> dict[str, Any]:
    """Every read-model key with its content, but those starting with ``leave_out``."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        snapshot: dict[str, Any] = {}
        for name in client.scan_iter(match=keys.ALL_PATTERN, count=1000):
            if name.startswith(tuple(leave_out)):
                continue
            kind = client.type(name)
            if kind == "hash":
                snapshot[name] = client.hgetall(name)
            elif kind == "zset":
                snapshot[name] = client.zrange(name, 0, -1, withscores=True)
            elif kind == "string":
                snapshot[name] = client.get(name)
            elif kind == "set":
                snapshot[name] = sorted(client.smembers(name))
            else:
                snapshot[name] = (kind, client.dump(name))
        return snapshot
    finally:
        client.close()


def sql_snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables the store consumer writes, in primary-key order."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            snapshot = {}
            for model in (Case, CaseEventRow, PointsEntry, RejectedEvent):
                table = Base.metadata.tables[model.__tablename__]
                rows = connection.execute(select(table).order_by(*table.primary_key))
                snapshot[table.name] = [tuple(row) for row in rows]
            return snapshot
    finally:
        engine.dispose()


def heartbeat_at(redis_url: str, group: str) -> float:
    """When the group's consumer last reported (0 when never)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        value = client.hget(keys.CONSUMER_HEARTBEAT.format(group), "ts")
        return float(value) if value is not None else 0.0
    finally:
        client.close()


def wait_until_idle(pipeline: Pipeline, process: ConsumerProcess, since: float) -> None:
    """Wait for the consumer's idle report after ``since``: it comes only once the
    consumer took its partitions, sought to its sink's position and found nothing new."""
    group = pipeline.group(process.which)
    wait_for(
        lambda: heartbeat_at(pipeline.redis_url, group) > since or not process.alive,
        f"the {process.which} consumer reporting idle",
    )
    if not process.alive:
        raise AssertionError(f"the {process.which} consumer exited:\n{process.log_tail()}")
