# cython: language_level=3, boundscheck=False, wraparound=False
"""Kafka record batches (message format v2) read into ConsumerRecords in C.

``read`` walks every batch of one partition's fetched bytes as
kafka-python's MemoryRecords, DefaultRecordBatch and PartitionRecords do
together, and gives the same ConsumerRecords, or the same error after the
same records. Compressed batches are decompressed by kafka-python's own
batch. A fetch that holds a batch of the legacy formats (magic 0 or 1) is
left to kafka-python (``read`` returns None).
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, int16_t

from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CorruptRecordError
from kafka.record.default_records import DefaultRecordBatch
from kafka.record.util import calc_crc32c

cdef object _tuple_new = tuple.__new__
cdef object _Record = ConsumerRecord

# MemoryRecords: a batch is [base offset int64][length int32][length bytes].
cdef Py_ssize_t LOG_OVERHEAD = 12
cdef Py_ssize_t MAGIC_OFFSET = 16
cdef Py_ssize_t MIN_SLICE = 12 + 14  # LOG_OVERHEAD + legacy RECORD_OVERHEAD_V0
# DefaultRecordBatch's header.
cdef Py_ssize_t HEADER_SIZE = 61
cdef Py_ssize_t ATTRIBUTES_OFFSET = 21
cdef int CODEC_MASK = 0x07
cdef int TIMESTAMP_TYPE_MASK = 0x08
cdef int CONTROL_MASK = 0x20


cdef class _Corrupt(Exception):
    pass


class _Wide(Exception):
    """A varint wider than 64 bits: the fetch is left to kafka-python."""


cdef inline int64_t _be64(const unsigned char* p) noexcept:
    cdef uint64_t v = 0
    cdef int i
    for i in range(8):
        v = (v << 8) | p[i]
    return <int64_t>v


cdef inline int32_t _be32(const unsigned char* p) noexcept:
    return <int32_t>((<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3])


cdef inline int16_t _be16(const unsigned char* p) noexcept:
    return <int16_t>((p[0] << 8) | p[1])


cdef class _Reader:
    """A cursor over one batch's records (kafka-python's decode_varint rules)."""

    cdef const unsigned char* data
    cdef Py_ssize_t pos
    cdef Py_ssize_t end

    cdef int64_t varint(self) except? -1:
        cdef uint64_t result
        cdef unsigned char b
        cdef int shift
        if self.pos >= self.end:
            raise _Corrupt("IndexError('bytearray index out of range')")
        b = self.data[self.pos]
        self.pos += 1
        result = b & 0x7f
        shift = 7
        while b & 0x80:
            if self.pos >= self.end:
                raise _Corrupt("IndexError('bytearray index out of range')")
            b = self.data[self.pos]
            self.pos += 1
            if shift == 63 and b & 0x7e:
                # Beyond 64 bits: kafka-python's Python integers read on.
                raise _Wide()
            result |= (<uint64_t>(b & 0x7f)) << shift
            if not (b & 0x80):
                break
            shift += 7
            if shift >= 64:
                raise _Corrupt("ValueError('Out of int64 range')")
        return <int64_t>((result >> 1) ^ (-(<int64_t>(result & 1))))

    cdef object take(self, int64_t length):
        """``length`` bytes, or fewer at the end as a slice gives; None below 0.
        The cursor moves by ``length`` even past the end (later reads fail)."""
        cdef Py_ssize_t n
        if length < 0:
            return None
        n = self.end - self.pos
        if n < 0:
            n = 0
        if length < n:
            n = <Py_ssize_t>length
        value = PyBytes_FromStringAndSize(<const char*>(self.data + self.pos), n) if n else b""
        if length > PY_SSIZE_T_MAX - self.pos:
            self.pos = PY_SSIZE_T_MAX
        else:
            self.pos += <Py_ssize_t>length
        return value


cdef class _State:
    """What kafka-python's PartitionRecords would hold while reading."""

    cdef public int leader_epoch
    cdef public object next_offset  # its next_fetch_offset so far (None: unchanged)
    cdef public object last_next  # the offset after the last complete v2 batch


def read(object buffer, str topic, int partition, bint check_crcs):
    """Read one partition's fetched bytes.

    Returns None when a batch is of a legacy format or a varint is wider
    than 64 bits (kafka-python reads the fetch), else ``(records, sizes,
    state, error)``: every ConsumerRecord in order, their sizes in bytes,
    the reader's state at the end, and the error that stopped the reading
    (None if none), to be raised after the records.
    """
    cdef const unsigned char[:] view = buffer
    cdef Py_ssize_t total = view.shape[0]
    cdef const unsigned char* base = &view[0] if total > 0 else NULL
    cdef Py_ssize_t pos = 0, slice_end, length
    cdef list records = [], sizes = []
    cdef object error = None
    cdef _State state = _State()
    state.leader_epoch = -1

    # A first pass over the batch headers: a legacy batch leaves the fetch to kafka-python.
    while total - pos >= LOG_OVERHEAD:
        length = _be32(base + pos + 8)
        slice_end = pos + LOG_OVERHEAD + length
        if slice_end > total or slice_end - pos <= MAGIC_OFFSET:
            break  # the end, or a batch too short (corrupt: found below, in order)
        if <signed char>base[pos + MAGIC_OFFSET] <= 1:
            return None
        pos = slice_end

    pos = 0
    try:
        while total - pos >= LOG_OVERHEAD:
            length = _be32(base + pos + 8)
            slice_end = pos + LOG_OVERHEAD + length
            if slice_end > total:
                break
            if slice_end - pos < MIN_SLICE:
                raise CorruptRecordError(
                    "Record size is less than the minimum record overhead ({})".format(
                        MIN_SLICE - LOG_OVERHEAD))
            _batch(buffer, base, pos, slice_end, topic, partition, check_crcs, records, sizes, state)
            pos = slice_end
    except _Wide:
        return None
    except Exception as exc:
        error = exc
    return records, sizes, state, error


cdef _batch(
    object buffer, const unsigned char* base, Py_ssize_t start, Py_ssize_t end,
    str topic, int partition, bint check_crcs, list records, list sizes, _State state,
):
    cdef const unsigned char* b = base + start
    cdef Py_ssize_t size = end - start
    cdef int64_t base_offset, first_timestamp, max_timestamp, timestamp, offset
    cdef int64_t length, ts_delta, offset_delta, key_len, value_len, header_count, h_len
    cdef int32_t last_offset_delta, count, index, leader_epoch
    cdef int attributes, timestamp_type, magic
    cdef uint32_t crc
    cdef Py_ssize_t record_start
    cdef _Reader r
    cdef object data, key, value, h_value
    cdef list headers
    cdef int64_t header_size

    if size < HEADER_SIZE:
        raise CorruptRecordError(
            "Found invalid record structure: batch of {} bytes is shorter than its header".format(size))
    base_offset = _be64(b)
    leader_epoch = _be32(b + 12)
    crc = <uint32_t>_be32(b + 17)
    attributes = _be16(b + 21)
    last_offset_delta = _be32(b + 23)
    first_timestamp = _be64(b + 27)
    max_timestamp = _be64(b + 35)
    count = _be32(b + 57)
    if check_crcs:
        if calc_crc32c(memoryview(buffer)[start + ATTRIBUTES_OFFSET:end]) != crc:
            raise CorruptRecordError(
                "Record batch for partition %s at offset %s failed crc check" % (
                    "TopicPartition(topic=%r, partition=%d)" % (topic, partition), base_offset))
    # kafka-python takes a batch of a magic above 2 for a v2 batch, but
    # without its leader epoch, control flag or next offset.
    magic = <signed char>b[16]
    if magic == 2:
        state.leader_epoch = leader_epoch
    else:
        leader_epoch = state.leader_epoch
    if magic == 2 and attributes & CONTROL_MASK:
        state.next_offset = base_offset + last_offset_delta + 1
        state.last_next = state.next_offset
        return

    r = _Reader()
    if attributes & CODEC_MASK:
        batch = DefaultRecordBatch(memoryview(buffer)[start:end])
        batch._maybe_uncompress()
        data = bytes(batch._buffer)
        r.data = <const unsigned char*><char*>data
        r.pos = 0
        r.end = len(data)
    else:
        r.data = b
        r.pos = HEADER_SIZE
        r.end = size
    timestamp_type = 1 if attributes & TIMESTAMP_TYPE_MASK else 0

    index = 0
    while True:
        if index >= count:
            if r.pos != r.end:
                raise CorruptRecordError(
                    "{} unconsumed bytes after all records consumed".format(r.end - r.pos))
            break
        try:
            length = r.varint()
            record_start = r.pos
            r.varint()  # attributes
            ts_delta = r.varint()
            timestamp = max_timestamp if timestamp_type == 1 else first_timestamp + ts_delta
            offset_delta = r.varint()
            offset = base_offset + offset_delta
            key_len = r.varint()
            key = r.take(key_len)
            value_len = r.varint()
            value = r.take(value_len)
            header_count = r.varint()
            if header_count < 0:
                raise CorruptRecordError(
                    "Found invalid number of record headers {}".format(header_count))
            headers = []
            header_size = 0
            while header_count:
                h_len = r.varint()
                if h_len < 0:
                    raise CorruptRecordError("Invalid negative header key size {}".format(h_len))
                h_key = r.take(h_len).decode("utf-8")
                h_len = r.varint()
                h_value = r.take(h_len)
                headers.append((h_key, h_value))
                header_size += len(h_key.encode("utf-8")) + (len(h_value) if h_value is not None else 0)
                header_count -= 1
            if r.pos - record_start != length:
                raise CorruptRecordError(
                    "Invalid record size: expected to read {} bytes in record payload, "
                    "but instead read {}".format(length, r.pos - record_start))
        except _Corrupt as exc:
            raise CorruptRecordError("Found invalid record structure: {}".format(exc.args[0]))
        except UnicodeDecodeError as exc:
            raise CorruptRecordError("Found invalid record structure: {!r}".format(exc))
        index += 1
        records.append(_tuple_new(_Record, (
            topic, partition, leader_epoch, offset, timestamp, timestamp_type, key, value,
            headers, None,
            len(key) if key is not None else -1,
            len(value) if value is not None else -1,
            header_size if headers else -1,
        )))
        sizes.append(length)
        state.next_offset = offset + 1
    state.last_next = base_offset + last_offset_delta + 1 if magic == 2 else None


def raw_records(list messages, str topic, int partition, object raw_type):
    """``raw_type(topic, partition, offset, value, key)`` of each ConsumerRecord."""
    cdef list out = []
    cdef object m
    cdef tuple t
    for m in messages:
        if not isinstance(m, tuple):
            raise TypeError(f"not a ConsumerRecord: {m!r}")
        t = <tuple>m
        # A ConsumerRecord: offset 3, key 6, value 7.
        out.append(_tuple_new(raw_type, (topic, partition, t[3], t[7], t[6])))
    return out
