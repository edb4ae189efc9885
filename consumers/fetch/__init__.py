"""Fetched Kafka records read by a compiled reader.

kafka-python reads each fetched record in Python: about 5 to 8 µs an event
on these machines, as much as the whole metrics kernel. ``install`` gives a
consumer's fetcher ``CompiledPartitionRecords``, which reads a partition's
fetched bytes at once with ``consumers.fetch._records`` (Cython) into the
very ConsumerRecords kafka-python gives, and hands them out as
kafka-python's PartitionRecords does: the same records, the same fetch
positions and leader epochs after each ``take``, the same errors after the
same records (``tests/consumers/fetch`` proves it against kafka-python on
the same bytes).

What it does not read itself it leaves to kafka-python: a fetch holding a
batch of the legacy formats, a consumer reading only committed
transactions, one with key or value deserializers. Without the extension
(``make venv`` builds it) nothing is installed and kafka-python reads
everything.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

from kafka import KafkaConsumer
from kafka.consumer.fetcher import Fetcher
from kafka.protocol.consumer.offsets import IsolationLevel
from kafka.record.memory_records import MemoryRecords

from events.batch import RawRecord

log = logging.getLogger(__name__)

COMPILED_MODULE = "consumers.fetch._records"


def _compiled() -> ModuleType | None:
    try:
        return importlib.import_module(COMPILED_MODULE)
    except ImportError:
        return None


def compiled_available() -> bool:
    return _compiled() is not None


class CompiledPartitionRecords(Fetcher.PartitionRecords):
    """kafka-python's PartitionRecords, with the records read at once in C."""

    def __init__(
        self,
        fetch_offset: int,
        tp: Any,
        records: Any,
        key_deserializer: Any = None,
        value_deserializer: Any = None,
        check_crcs: bool = True,
        isolation_level: int = IsolationLevel.READ_UNCOMMITTED,
        aborted_transactions: Any = None,
        metric_aggregator: Any = None,
        on_drain: Callable[[Any], None] = lambda x: None,
    ) -> None:
        super().__init__(
            fetch_offset,
            tp,
            records,
            key_deserializer=key_deserializer,
            value_deserializer=value_deserializer,
            check_crcs=check_crcs,
            isolation_level=isolation_level,
            aborted_transactions=aborted_transactions,
            metric_aggregator=metric_aggregator,
            on_drain=on_drain,
        )
        self._read: tuple[list[Any], list[int], Any, Exception | None] | None = None
        self._at = 0  # records read so far (skipped ones included)
        self._skipped = 0
        self._over = False
        module = _compiled()
        if (
            module is None
            or key_deserializer is not None
            or value_deserializer is not None
            or isolation_level != IsolationLevel.READ_UNCOMMITTED
            or type(records) is not MemoryRecords
        ):
            return
        # MemoryRecords keeps the fetched bytes whole (its reading position
        # is its own; nothing was read from it yet).
        read = module.read(records._buffer, tp.topic, tp.partition, check_crcs)
        if read is None:
            return  # a legacy batch: kafka-python reads this fetch
        self._read = read
        records_, _, _, _ = read
        # Skip what comes before the fetch offset, as kafka-python's dropwhile does.
        at = 0
        while at < len(records_) and records_[at].offset < fetch_offset:
            at += 1
        self._skipped = at

    def take(self, n: int | None = None) -> list[Any]:
        if self._read is None:
            return list(super().take(n))
        self._maybe_raise_next_inline_exception()
        if self.record_iterator is None or self._over or n == 0:
            return []
        records, sizes, state, error = self._read
        consumed = self._at
        first = max(consumed, self._skipped)
        left = len(records) - first
        if n is not None and n <= left:
            # Stopped at a record, as islice does: the reading stays open.
            taken = records[first : first + n]
            self._consumed(consumed, first + n, sizes)
            self.next_fetch_offset = taken[-1].offset + 1
            self.leader_epoch = taken[-1].leader_epoch
            return taken
        # Every record read: the end of the fetch, or its error.
        taken = records[first:]
        self._consumed(consumed, len(records), sizes)
        self._over = True
        if state.next_offset is not None:
            self.next_fetch_offset = state.next_offset
        self.leader_epoch = state.leader_epoch
        if error is not None:
            # kafka-python's reading ends with the error, never drained.
            if not taken:
                raise error
            self._next_inline_exception = error
            return taken
        if state.last_next is not None:
            self.next_fetch_offset = state.last_next
        self.drain()
        return taken

    def _consumed(self, before: int, after: int, sizes: list[int]) -> None:
        self._at = after
        self.records_read += after - before
        self.bytes_read += sum(sizes[before:after])


def raw_records(messages: list[Any], topic: str, partition: int) -> list[RawRecord]:
    """The RawRecords of one partition's polled ConsumerRecords."""
    module = _compiled()
    if module is not None:
        records: list[RawRecord] = module.raw_records(messages, topic, partition, RawRecord)
        return records
    return [RawRecord(topic, partition, m.offset, m.value, m.key) for m in messages]


def install(consumer: KafkaConsumer) -> bool:
    """Give ``consumer`` the compiled reader (True), or leave kafka-python's
    (False: the extension is not built)."""
    if not compiled_available():
        log.warning(
            "the compiled Kafka record reader is not built: kafka-python reads the records; "
            "`make venv` builds it"
        )
        return False
    fetcher = consumer._fetcher
    fetcher.PartitionRecords = CompiledPartitionRecords
    return True
