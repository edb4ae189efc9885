"""The Kafka consumer loop shared by both consumer groups.

poll a batch → sink.apply (effects and offsets stored atomically) →
dead-letter the invalid records → commit the offsets to Kafka.

The sink's stored offsets are the truth about what has been applied: on
every assignment, and after every outage, the loop seeks each partition to
the sink's stored offset + 1. Kafka's committed offsets follow them (for
lag monitoring and tools) and are committed only after the effects are
stored. While Redis, the database or the broker is out, the loop pauses its
partitions, keeps polling (so it stays in the group), waits with back-off
and commits nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.dead_letter import DeadLetterPublisher
from consumers.fetch import install as install_record_reader
from consumers.fetch import raw_records
from consumers.sensor import LoggingSensor, Sensor
from consumers.sink import (
    BatchSummary,
    DeadLetterOutbox,
    PipelinedSink,
    Sink,
    SinkNotReady,
    SinkUnavailable,
)
from events.batch import RawRecord

log = logging.getLogger("complaintops.consumer")


@dataclass(frozen=True, slots=True)
class LoopConfig:
    bootstrap: str
    topic: str
    group: str
    batch_size: int = 500
    poll_timeout_ms: int = 500
    # Embedded broker: short group timeouts (its join waits for the rebalance timeout).
    embedded: bool = False
    retry_initial: float = 0.5
    retry_max: float = 10.0
    client_id: str = "complaintops"


def make_consumer(config: LoopConfig) -> KafkaConsumer:
    timeouts = (
        {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000, "max_poll_interval_ms": 6000}
        if config.embedded
        else {
            "session_timeout_ms": 30000,
            "heartbeat_interval_ms": 3000,
            "max_poll_interval_ms": 300000,
        }
    )
    consumer = KafkaConsumer(
        bootstrap_servers=config.bootstrap.split(","),
        group_id=config.group,
        client_id=f"{config.client_id}-{config.group}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=config.batch_size,
        fetch_max_bytes=8 * 1024 * 1024,
        # A broker may hold a fetch for this long before answering: the wall's
        # freshness depends on it (p95 232 -> 54 ms at 1,000 events/s with the
        # 500 ms default -> 100 ms), and throughput does not.
        fetch_max_wait_ms=100,
        **timeouts,
    )
    # Fetched records read by the compiled reader (kafka-python's without it).
    install_record_reader(consumer)
    return consumer


@dataclass(frozen=True, slots=True)
class _InFlight:
    """A batch submitted to a pipelined sink: its offsets to commit once settled."""

    ends: dict[TopicPartition, int]
    started: float


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, loop: ConsumerLoop) -> None:
        self.loop = loop

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Settle the batch in flight while its partitions are still ours.
        self.loop.settle_in_flight(in_callback=True)
        for tp in revoked:
            self.loop.last_commit.pop(tp, None)
        log.info(
            "%s: partitions revoked: %s",
            self.loop.config.group,
            sorted(tp.partition for tp in revoked),
        )

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info(
            "%s: partitions assigned: %s",
            self.loop.config.group,
            sorted(tp.partition for tp in assigned),
        )
        self.loop.needs_seek = True


class ConsumerLoop:
    """Runs one consumer of one group until ``stop`` is set."""

    def __init__(
        self,
        config: LoopConfig,
        sink: Sink,
        dead_letters: DeadLetterPublisher | None = None,
        sensor: Sensor | None = None,
        consumer_factory: Callable[[LoopConfig], KafkaConsumer] = make_consumer,
    ) -> None:
        self.config = config
        self.sink = sink
        self.dead_letters = dead_letters
        self.sensor: Sensor = sensor or LoggingSensor()
        self.consumer_factory = consumer_factory
        self.consumer: KafkaConsumer | None = None
        self.needs_seek = True
        self.stop_event = threading.Event()
        # The offsets last sent to Kafka per partition (committed on the way out).
        self.last_commit: dict[TopicPartition, OffsetAndMetadata] = {}
        # A batch submitted to a pipelined sink and not settled yet.
        self.in_flight: _InFlight | None = None

    # -- lifecycle -------------------------------------------------------------------

    def stop(self) -> None:
        self.stop_event.set()

    def run(self) -> None:
        consumer = self.consumer = self.consumer_factory(self.config)
        consumer.subscribe([self.config.topic], listener=_Rebalance(self))
        try:
            self._prepare(consumer)
            while not self.stop_event.is_set():
                self.step(consumer)
        finally:
            log.info("%s: stopping", self.config.group)
            self.settle_in_flight(in_callback=True)
            self._commit_last(consumer)
            try:
                consumer.close(autocommit=False)
            except Exception:
                log.exception("closing the consumer failed")
            if self.dead_letters is not None:
                self.dead_letters.close()
            self.sink.close()

    def _prepare(self, consumer: KafkaConsumer) -> None:
        prepare = getattr(self.sink, "prepare", None)
        if prepare is None:
            return
        delay = self.config.retry_initial
        while not self.stop_event.is_set():
            try:
                prepare(self._group_has_committed(consumer))
                return
            except (SinkUnavailable, KafkaError) as exc:
                self.sensor.on_error(self.config.group, exc, delay)
                self.stop_event.wait(delay)
                delay = min(delay * 2, self.config.retry_max)

    def _group_has_committed(self, consumer: KafkaConsumer) -> bool:
        partitions = consumer.partitions_for_topic(self.config.topic) or set()
        for partition in partitions:
            if consumer.committed(TopicPartition(self.config.topic, partition)) is not None:
                return True
        return False

    # -- one step ----------------------------------------------------------------------

    def step(self, consumer: KafkaConsumer) -> BatchSummary | None:
        """Poll once and store what came; return the summary of the batch
        stored in this step, if any.

        With a pipelined sink, a batch's last stores run while the next poll
        parses the next records and the sink stages them (decodes them and
        sends their reads): the batch is submitted in one step and settled in
        the next, right after that (its poll does not wait for records), and
        its offsets are committed only then.
        """
        if self.needs_seek and self.in_flight is not None:
            self.settle_in_flight()
        if self.needs_seek and consumer.assignment() and not self._resume_from_stored(consumer):
            return None
        pending = self.in_flight is not None
        polled = consumer.poll(
            timeout_ms=0 if pending else self.config.poll_timeout_ms,
            max_records=self.config.batch_size,
        )
        records: list[RawRecord] = []
        # The next offset to commit per partition (a partition's records come in offset order).
        ends: dict[TopicPartition, int] = {}
        for tp, messages in sorted(polled.items(), key=lambda item: item[0].partition):
            if not messages:
                continue
            topic, partition = tp.topic, tp.partition
            records += raw_records(messages, topic, partition)
            ends[tp] = messages[-1].offset + 1
        if pending and records and not self.needs_seek and isinstance(self.sink, PipelinedSink):
            self.sink.stage(records)
        settled = self.settle_in_flight() if pending else None
        if pending and settled is None:
            # Not stored (or settled inside a rebalance): these records were
            # polled past what is stored. Drop them; the next step seeks first.
            return None
        if self.needs_seek:
            # A rebalance happened inside poll: these records may start past
            # the stored position. Drop them; the next step seeks first.
            return None
        if not records:
            if not pending:
                self.sensor.on_idle(self.config.group, self.lag(consumer))
            return settled
        started = time.perf_counter()
        if isinstance(self.sink, PipelinedSink):
            if self._submit(consumer, records):
                self.in_flight = _InFlight(ends, started)
            return settled
        summary = self._store(consumer, records)
        if summary is None:
            return None
        self._stored(consumer, summary, ends, started)
        return summary

    def _stored(
        self,
        consumer: KafkaConsumer,
        summary: BatchSummary,
        ends: dict[TopicPartition, int],
        started: float,
    ) -> None:
        """A batch is stored: dead-letter its invalid records, commit its offsets.

        If the sink failed meanwhile, the batch's effects (its dead letters
        among them) may have been lost with it: its offsets are not
        committed, and the loop goes back to the sink's stored positions
        (after a Redis loss, once `rebuild` queued the letters again)."""
        if self._dead_letter(consumer, summary):
            self._commit(consumer, ends)
        else:
            self.needs_seek = True
        self.sensor.on_batch(
            self.config.group, summary, time.perf_counter() - started, self.lag(consumer)
        )

    def _submit(self, consumer: KafkaConsumer, records: list[RawRecord]) -> bool:
        """Submit a batch to the pipelined sink; False if the sink failed (the
        records are dropped and polled again from the stored positions)."""
        assert isinstance(self.sink, PipelinedSink)
        try:
            self.sink.submit(records)
            return True
        except (SinkUnavailable, SinkNotReady) as exc:
            self._sink_failed(consumer, exc)
            return False

    def settle_in_flight(self, in_callback: bool = False) -> BatchSummary | None:
        """Wait until the batch in flight is stored, then dead-letter and commit
        it; its summary. If the sink failed, what was not stored is polled
        again from the stored positions (inside a rebalance callback or on the
        way out, only noted: the loop must not poll there)."""
        in_flight, self.in_flight = self.in_flight, None
        consumer = self.consumer
        if in_flight is None or consumer is None:
            return None
        assert isinstance(self.sink, PipelinedSink)
        try:
            summary = self.sink.settle()
        except (SinkUnavailable, SinkNotReady) as exc:
            if in_callback:
                self.sensor.on_error(self.config.group, exc, 0.0)
                self.needs_seek = True
            else:
                self._sink_failed(consumer, exc)
            return None
        if summary is None:
            return None
        self._stored(consumer, summary, in_flight.ends, in_flight.started)
        return summary

    def _sink_failed(self, consumer: KafkaConsumer, exc: Exception) -> None:
        """The sink failed a batch: wait, then go back to its stored positions."""
        self.sensor.on_error(self.config.group, exc, self.config.retry_initial)
        self.needs_seek = True
        if self._wait_polling(consumer, self.config.retry_initial):
            self._resume_from_stored(consumer)

    def _store(self, consumer: KafkaConsumer, records: list[RawRecord]) -> BatchSummary | None:
        delay = self.config.retry_initial
        while True:
            try:
                return self.sink.apply(records)
            except (SinkUnavailable, SinkNotReady) as exc:
                self.sensor.on_error(self.config.group, exc, delay)
                if not self._wait_polling(consumer, delay):
                    return None
                delay = min(delay * 2, self.config.retry_max)
                # The store may have been rebuilt meanwhile: restart from its position.
                self.needs_seek = True
                if self._resume_from_stored(consumer):
                    return None

    def _wait_polling(self, consumer: KafkaConsumer, seconds: float) -> bool:
        """Wait with the partitions paused, polling to stay in the group. False when stopping."""
        assignment = consumer.assignment()
        consumer.pause(*assignment)
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                if self.stop_event.is_set():
                    return False
                consumer.poll(
                    timeout_ms=min(200, max(1, int((deadline - time.monotonic()) * 1000)))
                )
            return not self.stop_event.is_set()
        finally:
            consumer.resume(*consumer.assignment())

    def _resume_from_stored(self, consumer: KafkaConsumer) -> bool:
        """Seek to the sink's positions, then publish the dead letters a crash,
        a rebuild or the partitions' previous owner left stored but unpublished.
        False if the sink is out."""
        if not self._seek_to_stored(consumer):
            return False
        if not self._dead_letter(consumer, BatchSummary()):
            self.needs_seek = True
            self._wait_polling(consumer, self.config.retry_initial)
            return False
        return True

    def _seek_to_stored(self, consumer: KafkaConsumer) -> bool:
        """Seek every assigned partition to the sink's stored offset + 1. False if the sink is out."""
        try:
            stored = self.sink.stored_offsets(self.config.topic)
        except SinkUnavailable as exc:
            self.sensor.on_error(self.config.group, exc, self.config.retry_initial)
            self._wait_polling(consumer, self.config.retry_initial)
            return False
        for tp in consumer.assignment():
            if tp.topic != self.config.topic:
                continue
            if tp.partition in stored:
                consumer.seek(tp, stored[tp.partition] + 1)
            else:
                committed = consumer.committed(tp)
                if committed is None:
                    consumer.seek_to_beginning(tp)
                else:
                    # Nothing stored for this partition: replay from the start
                    # (stored offsets are the truth; skipped records are cheap).
                    consumer.seek_to_beginning(tp)
        self.needs_seek = False
        return True

    def _dead_letter(self, consumer: KafkaConsumer, summary: BatchSummary) -> bool:
        """Publish the batch's dead letters; False if the sink failed on the way."""
        for record, reason in summary.invalid:
            self.sensor.on_dead_letter(
                self.config.group, record.topic, record.partition, record.offset, reason
            )
        if self.dead_letters is None:
            return True
        outbox = isinstance(self.sink, DeadLetterOutbox)
        if not summary.invalid and not outbox:
            return True
        delay = self.config.retry_initial
        while True:
            try:
                if outbox:
                    # The sink stored the dead letters with the batch: publish
                    # every pending one (also those a crash left behind), then
                    # clear them. At least once, never lost.
                    assert isinstance(self.sink, DeadLetterOutbox)
                    owned = [
                        tp.partition
                        for tp in consumer.assignment()
                        if tp.topic == self.config.topic
                    ]
                    pending = self.sink.pending_dead_letters(owned)
                    if pending:
                        self.dead_letters.publish(pending)
                        self.sink.clear_dead_letters(pending)
                else:
                    self.dead_letters.publish(summary.invalid)
                return True
            except (SinkUnavailable, SinkNotReady) as exc:
                # Still pending in the sink, or lost with it (then `rebuild`
                # queues them again): the caller goes back to the stored
                # positions, waiting there until the sink is back.
                self.sensor.on_error(self.config.group, exc, self.config.retry_initial)
                return False
            except KafkaError as exc:
                self.sensor.on_error(self.config.group, exc, delay)
                if self.stop_event.wait(delay):
                    # Stopping: the effects are stored; the records will be
                    # skipped on redelivery, so publish once more and give up.
                    log.error("%s: dead letters not confirmed before shutdown", self.config.group)
                    return True
                delay = min(delay * 2, self.config.retry_max)

    def _commit(self, consumer: KafkaConsumer, ends: dict[TopicPartition, int]) -> None:
        """Commit the batch's offsets (``ends``: the next offset per partition)
        to Kafka without waiting for the answer.

        The sink already stored the effects with their offsets: those are the
        truth the loop seeks to, and the group's committed offsets only follow
        them (for lag monitoring and tools). So the commit need not hold up the
        next batch; the answer is handled inside a later poll.
        """
        offsets = {tp: OffsetAndMetadata(end, "", -1) for tp, end in ends.items()}
        self.last_commit.update(offsets)
        try:
            consumer.commit_async(offsets=offsets, callback=self._committed)
        except KafkaError as exc:
            self._commit_failed(exc)

    def _committed(
        self, offsets: dict[TopicPartition, OffsetAndMetadata], response: object
    ) -> None:
        if isinstance(response, Exception):
            self._commit_failed(response)
            return
        self.sensor.on_commit(
            self.config.group, {tp.partition: o.offset for tp, o in offsets.items()}
        )

    def _commit_failed(self, exc: Exception) -> None:
        # The effects and their offsets are stored in the sink; a failed
        # commit only delays the group's visible position.
        log.warning("%s: commit failed (%s); the sink holds the position", self.config.group, exc)

    def _commit_last(self, consumer: KafkaConsumer) -> None:
        """On the way out: wait for the last offsets to be committed (best effort)."""
        # Only partitions still assigned: another member may have moved past
        # the offsets we last sent for a partition we lost in a rebalance.
        try:
            assigned = consumer.assignment()
            offsets = {tp: o for tp, o in self.last_commit.items() if tp in assigned}
            if offsets:
                consumer.commit(offsets=offsets, timeout_ms=5000)
        except Exception as exc:
            self._commit_failed(exc)

    # -- lag ---------------------------------------------------------------------------

    def lag(self, consumer: KafkaConsumer) -> dict[int, int]:
        """Records behind the partition's high watermark, per assigned partition."""
        lag: dict[int, int] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = consumer.position(tp, timeout_ms=100)
            except KafkaError:
                continue
            if position is not None:
                lag[tp.partition] = max(0, highwater - position)
        return lag
