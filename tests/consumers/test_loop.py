"""The consumer loop against the real broker and Valkey: dead letters, commits, restarts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence

import orjson
import pytest
import redis
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.dead_letter import (
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_REASON,
    HEADER_TOPIC,
    DeadLetterPublisher,
)
from consumers.loop import ConsumerLoop, LoopConfig
from consumers.sink import BatchSummary, PipelinedSink
from events import contract as c
from events.batch import RawRecord
from metrics import keys
from metrics.sink import RedisSink
from tests.events.factory import SHANGHAI, CaseScript, encode

WAIT_SECONDS = 60


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def produce(bootstrap: str, topic: str, values: list[tuple[str, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for key, value in values:
        producer.send(topic, key=key.encode(), value=value)
    producer.flush()
    producer.close()


def opened_then_moved(
    prefix: str, count: int, moves: Sequence[tuple[str, str]]
) -> list[tuple[str, bytes]]:
    """``count`` cases opened, then each moved at (hour, stage) of ``moves`` in turn."""
    scripts = [CaseScript(f"{prefix}{i}") for i in range(count)]
    values = [(s.case_id, encode(s.opened())) for s in scripts]
    values += [
        (
            s.case_id,
            encode(s.next(c.STAGE_CHANGED, f"2026-11-24T{hour}:00:00+08:00", to_stage=stage)),
        )
        for hour, stage in moves
        for s in scripts
    ]
    return values


def consumer_loop(
    bootstrap: str, topic: str, group: str, sink: RedisSink, **config: int
) -> ConsumerLoop:
    """A metrics consumer loop on ``sink``, dead-lettering to ``topic``.dlq."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    return ConsumerLoop(
        LoopConfig(bootstrap=bootstrap, topic=topic, group=group, embedded=True, **config),
        sink,
        DeadLetterPublisher(producer, f"{topic}.dlq", group),
    )


class RunningLoop:
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop
        self.thread = threading.Thread(target=loop.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.loop.stop()
        self.thread.join(30)
        assert not self.thread.is_alive()


@pytest.fixture
def start_loop(
    kafka_bootstrap: str, valkey_url: str
) -> Iterator[Callable[[str, str], RunningLoop]]:
    running: list[RunningLoop] = []

    def start(topic: str, group: str) -> RunningLoop:
        client = redis.Redis.from_url(valkey_url)
        sink = RedisSink(client, group, SHANGHAI, dead_letter_outbox=True)
        loop = RunningLoop(consumer_loop(kafka_bootstrap, topic, group, sink))
        running.append(loop)
        return loop

    yield start
    for loop in running:
        if loop.thread.is_alive():
            loop.stop()


def invalid_events() -> dict[str, bytes]:
    """One event for each kind of invalidity in the contract."""
    a = CaseScript("C-INV-A")
    a.seq = 1
    closed = CaseScript("C-INV-C")
    closed.seq = 2
    paused = CaseScript("C-INV-P")
    paused.seq = 2
    stage = CaseScript("C-INV-A")
    stage.seq = 1  # the invalid reopen did not use up seq 2
    return {
        "not JSON": b"{not json",
        "field 'channel'": encode({**CaseScript("C-INV-X").opened(), "channel": "fax"}),
        "unknown case": encode(
            CaseScript("C-NOPE").next(c.DECISION_MADE, "2026-11-24T10:00:00+08:00")
        ),
        "is closed": encode(
            closed.next(c.ASSIGNED, "2026-11-25T10:00:00+08:00", team_id="t", handler_id="h")
        ),
        "is open and cannot be reopened": encode(a.next(c.REOPENED, "2026-11-25T10:00:00+08:00")),
        "already paused": encode(
            paused.next(c.CLOCK_PAUSED, "2026-11-25T10:00:00+08:00", reason="mediation")
        ),
        "already in stage": encode(
            stage.next(c.STAGE_CHANGED, "2026-11-25T10:00:00+08:00", to_stage="intake")
        ),
    }


def case_key(value: bytes) -> str:
    try:
        return str(orjson.loads(value)["case_id"])
    except (orjson.JSONDecodeError, KeyError):
        return "unparseable"


def setup_events() -> list[tuple[str, bytes]]:
    closed = CaseScript("C-INV-C")
    paused = CaseScript("C-INV-P")
    return [
        ("C-INV-A", encode(CaseScript("C-INV-A").opened())),
        ("C-INV-C", encode(closed.opened())),
        (
            "C-INV-C",
            encode(closed.next(c.CLOSED, "2026-11-24T12:00:00+08:00", resolution="withdrawn")),
        ),
        ("C-INV-P", encode(paused.opened())),
        (
            "C-INV-P",
            encode(paused.next(c.CLOCK_PAUSED, "2026-11-24T12:00:00+08:00", reason="mediation")),
        ),
    ]


def read_dead_letters(
    bootstrap: str, topic: str, expected: int
) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: list[tuple[bytes, dict[str, bytes]]] = []
    deadline = time.monotonic() + WAIT_SECONDS
    while len(found) < expected and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=500).values():
            found.extend((m.value, dict(m.headers)) for m in messages)
    consumer.close()
    return found


def test_each_kind_of_invalid_event_is_dead_lettered_with_its_reason(
    kafka_bootstrap: str,
    new_topic: str,
    new_group_id: str,
    start_loop: Callable[[str, str], RunningLoop],
) -> None:
    produce(kafka_bootstrap, new_topic, setup_events())
    invalid = invalid_events()
    # Keyed by case id like every event, so each lands after its case's history.
    produce(kafka_bootstrap, new_topic, [(case_key(value), value) for value in invalid.values()])
    loop = start_loop(new_topic, new_group_id)
    letters = read_dead_letters(kafka_bootstrap, f"{new_topic}.dlq", len(invalid))
    loop.stop()
    assert len(letters) == len(invalid), sorted(h[HEADER_REASON].decode()[:40] for _, h in letters)
    by_value = {value: headers for value, headers in letters}
    for fragment, value in invalid.items():
        headers = by_value[value]
        assert fragment in headers[HEADER_REASON].decode(), (fragment, headers[HEADER_REASON])
        assert headers[HEADER_TOPIC].decode() == new_topic
        assert int(headers[HEADER_PARTITION]) in (0, 1, 2)
        assert int(headers[HEADER_OFFSET]) >= 0


def test_offsets_are_committed_after_storage_and_a_restart_resumes(
    kafka_bootstrap: str,
    valkey_url: str,
    new_topic: str,
    new_group_id: str,
    start_loop: Callable[[str, str], RunningLoop],
) -> None:
    client = redis.Redis.from_url(valkey_url)
    client.delete(*[k for k in client.scan_iter("co:*")] or ["co:none"])
    cases = [CaseScript(f"C-R{i}") for i in range(30)]
    produce(kafka_bootstrap, new_topic, [(s.case_id, encode(s.opened())) for s in cases])
    loop = start_loop(new_topic, new_group_id)
    wait_for(lambda: int(client.hget(keys.EVENT_COUNTERS, "applied") or 0) == 30, "30 applied")
    loop.stop()
    # After a clean stop Kafka's committed offsets equal the stored ones + 1.
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=new_group_id, enable_auto_commit=False
    )
    sink = RedisSink(client, new_group_id, SHANGHAI)
    stored = sink.stored_offsets(new_topic)
    for partition, offset in stored.items():
        assert consumer.committed(TopicPartition(new_topic, partition)) == offset + 1
    consumer.close()
    # Restart: new events only are applied; nothing counted twice.
    produce(
        kafka_bootstrap,
        new_topic,
        [
            (
                s.case_id,
                encode(
                    s.next(c.STAGE_CHANGED, "2026-11-24T11:00:00+08:00", to_stage="investigation")
                ),
            )
            for s in cases
        ],
    )
    loop = start_loop(new_topic, new_group_id)
    wait_for(lambda: int(client.hget(keys.EVENT_COUNTERS, "applied") or 0) >= 60, "60 applied")
    loop.stop()
    assert int(client.hget(keys.EVENT_COUNTERS, "applied") or 0) == 60
    assert int(client.hget(keys.EVENT_COUNTERS, "duplicates") or 0) == 0
    assert int(client.hget(keys.WIP, "investigation") or 0) == 30


def test_dead_letters_stored_before_a_crash_are_published_after_the_restart(
    kafka_bootstrap: str,
    valkey_url: str,
    new_topic: str,
    new_group_id: str,
    start_loop: Callable[[str, str], RunningLoop],
) -> None:
    client = redis.Redis.from_url(valkey_url)
    # A consumer stored this batch (effects, offsets and its dead letters in
    # one step) and died before the broker confirmed the dead letters.
    crashed = RedisSink(client, new_group_id, SHANGHAI, dead_letter_outbox=True)
    crashed.prepare(group_has_committed=False)
    bad = [RawRecord(new_topic, 0, 0, b"{broken"), RawRecord(new_topic, 0, 1, b"[]")]
    crashed.apply(bad)
    assert len(crashed.pending_dead_letters([0])) == 2
    loop = start_loop(new_topic, new_group_id)
    letters = read_dead_letters(kafka_bootstrap, f"{new_topic}.dlq", 2)
    wait_for(lambda: not crashed.pending_dead_letters([0]), "the outbox to be cleared")
    loop.stop()
    assert sorted(value for value, _ in letters) == [b"[]", b"{broken"]
    reasons = {value: headers[HEADER_REASON].decode() for value, headers in letters}
    assert reasons[b"[]"] == "event is not a JSON object"
    assert int(client.hget(keys.EVENT_COUNTERS, "invalid") or 0) == 2


def test_large_batches_stored_in_chunks_are_committed_and_dead_lettered_once(
    kafka_bootstrap: str,
    valkey_url: str,
    redis_client: redis.Redis,
    new_topic: str,
    new_group_id: str,
) -> None:
    # Batches of up to 500 records stored in chunks of 9: every record applied
    # or dead-lettered exactly once, Kafka's commits following the stored offsets.
    client = redis_client  # emptied
    values = opened_then_moved("C-CH", 60, [("11", "investigation"), ("12", "resolution")])
    invalid = [(f"C-CH{i}", b"{broken %d" % i) for i in range(0, 60, 7)]
    produce(kafka_bootstrap, new_topic, values + invalid)
    sink = RedisSink(
        redis.Redis.from_url(valkey_url),
        new_group_id,
        SHANGHAI,
        dead_letter_outbox=True,
        chunk_records=9,
    )
    loop = RunningLoop(consumer_loop(kafka_bootstrap, new_topic, new_group_id, sink))
    try:
        letters = read_dead_letters(kafka_bootstrap, f"{new_topic}.dlq", len(invalid))
        wait_for(
            lambda: (
                sink.stored_offsets(new_topic)
                and sum(o + 1 for o in sink.stored_offsets(new_topic).values())
                == len(values) + len(invalid)
            ),
            "every record stored",
        )
    finally:
        loop.stop()
    assert sink.timings.chunks > sink.timings.batches
    assert int(client.hget(keys.EVENT_COUNTERS, "applied") or 0) == len(values)
    assert int(client.hget(keys.EVENT_COUNTERS, "invalid") or 0) == len(invalid)
    assert int(client.hget(keys.WIP, "resolution") or 0) == 60
    assert sorted(value for value, _ in letters) == sorted(value for _, value in invalid)
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=new_group_id, enable_auto_commit=False
    )
    for partition, offset in sink.stored_offsets(new_topic).items():
        assert consumer.committed(TopicPartition(new_topic, partition)) == offset + 1
    consumer.close()


class WatchedSink(RedisSink):
    """The real metrics sink, checking at each submit and settle that the loop
    never committed an offset past what Redis stores."""

    loop: ConsumerLoop | None = None
    topic = ""
    checks = 0
    settled = 0
    violations: list[str]

    def _check(self, when: str) -> None:
        assert self.loop is not None
        stored = self.stored_offsets(self.topic)
        for tp, committed in list(self.loop.last_commit.items()):
            self.checks += 1
            if committed.offset > stored.get(tp.partition, -1) + 1:
                self.violations.append(f"{when}: {tp} committed {committed.offset}, {stored}")

    def submit(self, records: Sequence[RawRecord]) -> None:
        self._check("submit")
        super().submit(records)

    def settle(self) -> BatchSummary | None:
        self._check("settle")
        summary = super().settle()
        if summary is not None:
            self.settled += 1
        return summary


def test_a_pipelined_batch_is_committed_only_after_it_is_settled(
    kafka_bootstrap: str,
    valkey_url: str,
    redis_client: redis.Redis,
    new_topic: str,
    new_group_id: str,
) -> None:
    # Batches of 40 stored in chunks of 7 while the next batch is polled: Kafka's
    # commits never pass what Redis stores, and everything ends stored once.
    client = redis_client  # emptied
    values = opened_then_moved("C-PL", 150, [("11", "investigation")])
    produce(kafka_bootstrap, new_topic, values)
    sink = WatchedSink(redis.Redis.from_url(valkey_url), new_group_id, SHANGHAI, chunk_records=7)
    sink.topic, sink.violations = new_topic, []
    assert isinstance(sink, PipelinedSink)
    pipelined = consumer_loop(kafka_bootstrap, new_topic, new_group_id, sink, batch_size=40)
    sink.loop = pipelined
    loop = RunningLoop(pipelined)
    try:
        wait_for(
            lambda: int(client.hget(keys.EVENT_COUNTERS, "applied") or 0) == len(values),
            "every record applied",
        )
    finally:
        loop.stop()
    assert sink.violations == []
    assert sink.checks > 0
    assert sink.settled >= len(values) // 40
    # The loop staged batches while the one before was stored, and they were taken up.
    assert sink.timings.staged > 0
    assert pipelined.in_flight is None
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=new_group_id, enable_auto_commit=False
    )
    for partition, offset in sink.stored_offsets(new_topic).items():
        assert consumer.committed(TopicPartition(new_topic, partition)) == offset + 1
    consumer.close()
    assert int(client.hget(keys.WIP, "investigation") or 0) == 150
    assert int(client.hget(keys.EVENT_COUNTERS, "duplicates") or 0) == 0
