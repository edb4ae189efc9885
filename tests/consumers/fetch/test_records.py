"""The compiled record reader against kafka-python's, on the same bytes.

Record batches are written by kafka-python's own builders (any keys,
values and headers, gzip or none, control batches, log-append time,
leader epochs, offset gaps as compaction leaves them), then cut short,
damaged or read from the middle. Both readers hand the records out in the
same slices; after every ``take`` the records, the fetch position, the
leader epoch, whether the reading is over, the error and the counts must be
the same.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import TopicPartition
from kafka.consumer.fetcher import Fetcher
from kafka.record.default_records import DefaultRecordBatchBuilder
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords
from kafka.record.util import calc_crc32c

from consumers.fetch import CompiledPartitionRecords, compiled_available, raw_records
from events.batch import RawRecord

TP = TopicPartition("complaints.case-events", 3)
GZIP = 1
TIMESTAMP_TYPE = 0x08
CONTROL = 0x20


def test_the_compiled_reader_is_built() -> None:
    # `make venv` builds it; without it the consumers fall back to kafka-python.
    assert compiled_available()


# -- building fetched bytes -------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    records: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]]
    base_offset: int
    compression: int = 0
    control: bool = False
    log_append: bool = False
    leader_epoch: int = 0
    gaps: int = 0  # offset deltas grow by 1 + gaps (compaction)


def encode(batch: Batch) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=batch.compression,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 30,
    )
    for i, (key, value, headers) in enumerate(batch.records):
        builder.append(i * (1 + batch.gaps), 1_700_000_000_000 + i * 7, key, value, headers)
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, batch.base_offset)
    struct.pack_into(">i", data, 12, batch.leader_epoch)
    attributes = struct.unpack_from(">h", data, 21)[0]
    if batch.control:
        attributes |= CONTROL
    if batch.log_append:
        attributes |= TIMESTAMP_TYPE
    struct.pack_into(">h", data, 21, attributes)
    struct.pack_into(">I", data, 17, calc_crc32c(memoryview(data)[21:]))
    return bytes(data)


def legacy(base_offset: int) -> bytes:
    builder = LegacyRecordBatchBuilder(magic=1, compression_type=0, batch_size=1 << 20)
    builder.append(0, timestamp=1_700_000_000_000, key=b"k", value=b"v")
    data = bytearray(builder.build())
    struct.pack_into(">q", data, 0, base_offset)
    return bytes(data)


def layout(batches: list[Batch]) -> list[Batch]:
    """Batches at increasing offsets, each after the last one's last offset."""
    placed, offset = [], batches[0].base_offset if batches else 0
    for b in batches:
        span = max(0, len(b.records) - 1) * (1 + b.gaps)
        placed.append(replace(b, base_offset=offset))
        offset += span + 1
    return placed


# -- reading it ---------------------------------------------------------------------------------


def read_trace(
    cls: type, data: bytes, fetch_offset: int, takes: list[int | None], check_crcs: bool = True
) -> tuple[list[Any], Any]:
    part = cls(fetch_offset, TP, MemoryRecords(data), check_crcs=check_crcs)
    trace: list[Any] = []
    for n in [*takes, None, None, 5]:
        try:
            records = part.take(n)
            error = None
        except Exception as exc:  # compared between the readers
            records, error = [], describe(exc)
        trace.append(
            (
                records,
                part.next_fetch_offset,
                part.leader_epoch,
                bool(part),
                error,
                part.records_read,
                part.bytes_read,
            )
        )
        if not part:
            break
    return trace, part


def describe(exc: Exception) -> str:
    if isinstance(exc, struct.error):
        # kafka-python lets a batch shorter than its header fail in struct;
        # the compiled reader calls it corrupt.
        return "short batch"
    if "shorter than its header" in str(exc):
        return "short batch"
    text = f"{type(exc).__name__}: {exc}"
    # The Python error inside kafka-python's "invalid record structure" (an
    # IndexError where a varint runs past the batch, or another where a
    # huge one does) is its own.
    return text.split("Found invalid record structure")[0]


def same_reading(
    data: bytes, fetch_offset: int, takes: list[int | None], check_crcs: bool = True
) -> CompiledPartitionRecords:
    expected, _ = read_trace(Fetcher.PartitionRecords, data, fetch_offset, takes, check_crcs)
    got, part = read_trace(CompiledPartitionRecords, data, fetch_offset, takes, check_crcs)
    assert got == expected
    return part


# -- strategies ---------------------------------------------------------------------------------

blobs = st.none() | st.binary(max_size=40)
headers = st.lists(st.tuples(st.text(max_size=8), st.none() | st.binary(max_size=12)), max_size=3)
records = st.lists(st.tuples(blobs, blobs, headers), min_size=0, max_size=6)
batches = st.builds(
    Batch,
    records=records,
    base_offset=st.just(0),
    compression=st.sampled_from([0, 0, GZIP]),
    control=st.just(False),
    log_append=st.booleans(),
    leader_epoch=st.integers(-1, 5),
    gaps=st.sampled_from([0, 0, 2]),
)
takes = st.lists(st.none() | st.integers(1, 9), min_size=1, max_size=6)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(
    st.lists(batches, min_size=0, max_size=5),
    st.lists(st.booleans(), max_size=5),
    st.integers(0, 40),
    st.integers(-1, 30),
    takes,
)
def test_whole_fetches_are_read_alike(
    given_batches: list[Batch], controls: list[bool], base: int, skip: int, ns: list[int | None]
) -> None:
    placed = layout(
        [replace(b, control=c) for b, c in zip(given_batches, controls + [False] * 5, strict=False)]
    )
    placed = [replace(b, base_offset=b.base_offset + base) for b in placed]
    data = b"".join(encode(b) for b in placed)
    part = same_reading(data, base + max(skip, 0), ns)
    assert part._read is not None  # read by the compiled reader, not handed back


@SETTINGS
@given(st.lists(batches, min_size=1, max_size=4), st.data(), takes)
def test_fetches_cut_short_are_read_alike(
    given_batches: list[Batch], data: st.DataObject, ns: list[int | None]
) -> None:
    # A fetch ends where max bytes cut it: the partial batch at the end is left.
    whole = b"".join(encode(b) for b in layout(given_batches))
    cut = data.draw(st.integers(0, len(whole)))
    same_reading(whole[:cut], 0, ns)


@SETTINGS
@given(st.lists(batches, min_size=1, max_size=3), st.data(), takes, st.booleans())
def test_damaged_fetches_fail_alike_after_the_same_records(
    given_batches: list[Batch], data: st.DataObject, ns: list[int | None], check_crcs: bool
) -> None:
    # Bytes overwritten anywhere: with the CRC checked the batch fails its
    # check; without it, the record structure is read as it stands.
    whole = bytearray(b"".join(encode(b) for b in layout(given_batches)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(whole) - 1))
        whole[at] = data.draw(st.integers(0, 255))
    same_reading(bytes(whole), 0, ns, check_crcs)


def test_a_fetch_with_a_legacy_batch_is_left_to_kafka_python() -> None:
    data = encode(Batch([(b"k", b"v", [])], 0)) + legacy(1)
    part = same_reading(data, 0, [None])
    assert part._read is None


def test_a_failed_crc_is_raised_after_the_records_before_it() -> None:
    first = encode(Batch([(b"a", b"1", []), (b"b", b"2", [("h", b"x")])], 10, leader_epoch=2))
    second = bytearray(encode(Batch([(b"c", b"3", [])], 12, leader_epoch=3)))
    second[-1] ^= 0xFF
    part = same_reading(first + bytes(second), 10, [1, 5, 5])
    assert part.next_fetch_offset == 12


def test_records_come_with_kafka_pythons_fields() -> None:
    data = encode(
        Batch([(None, b'{"a":1}', [("trace", b"t"), ("\u8ffd", None)])], 41, leader_epoch=7)
    )
    part = CompiledPartitionRecords(41, TP, MemoryRecords(data))
    (record,) = part.take(10)
    assert record.topic == TP.topic and record.partition == TP.partition
    assert (record.offset, record.leader_epoch, record.key, record.value) == (
        41,
        7,
        None,
        b'{"a":1}',
    )
    assert record.headers == [("trace", b"t"), ("\u8ffd", None)]
    sizes = (record.serialized_key_size, record.serialized_value_size)
    assert (*sizes, record.serialized_header_size) == (-1, 7, 6 + 3)
    assert not part and part.next_fetch_offset == 42


@pytest.mark.parametrize("fetch_offset", [0, 3, 5, 9])
def test_a_fetch_from_the_middle_of_a_compressed_batch_skips_what_comes_before(
    fetch_offset: int,
) -> None:
    data = encode(Batch([(b"k", b"v%d" % i, []) for i in range(6)], 0, compression=GZIP))
    same_reading(data, fetch_offset, [2, 2, 2, 2])


def test_polled_records_become_raw_records_with_their_fields() -> None:
    data = encode(Batch([(b"C-1", b'{"a":1}', [("h", b"x")]), (None, b"{}", [])], 7))
    messages = CompiledPartitionRecords(7, TP, MemoryRecords(data)).take(None)
    stock = Fetcher.PartitionRecords(7, TP, MemoryRecords(data)).take(None)
    expected = [
        RawRecord(TP.topic, TP.partition, 7, b'{"a":1}', b"C-1"),
        RawRecord(TP.topic, TP.partition, 8, b"{}", None),
    ]
    assert raw_records(messages, TP.topic, TP.partition) == expected
    assert raw_records(stock, TP.topic, TP.partition) == expected
    assert all(type(r) is RawRecord for r in raw_records(messages, TP.topic, TP.partition))
