"""The compiled reader in a consumer on the real broker: the same records as
kafka-python's own reading of the same topic."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.fetch import CompiledPartitionRecords
from consumers.loop import LoopConfig, make_consumer

COUNT = 3000


def read_all(consumer: KafkaConsumer, topic: str) -> list[Any]:
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    found: list[Any] = []
    deadline = time.monotonic() + 60
    while len(found) < COUNT and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=500, max_records=700).values():
            found.extend(messages)
    consumer.close()
    return sorted(found, key=lambda r: (r.partition, r.offset))


def test_a_consumer_reads_through_the_compiled_reader_what_kafka_python_reads(
    kafka_bootstrap: str, new_topic: str
) -> None:
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
    for i in range(COUNT):
        producer.send(
            new_topic,
            key=None if i % 5 == 0 else f"C-{i % 97}".encode(),
            value=None if i % 11 == 0 and i % 5 else b'{"n":%d}' % i,
            headers=[("trace", b"%d" % i), ("\u6765\u6e90", b"")] if i % 3 == 0 else None,
        )
    producer.flush()
    producer.close()

    config = LoopConfig(bootstrap=kafka_bootstrap, topic=new_topic, group="unused", embedded=True)
    ours = make_consumer(config)
    assert ours._fetcher.PartitionRecords is CompiledPartitionRecords
    stock = KafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    assert stock._fetcher.PartitionRecords is not CompiledPartitionRecords

    expected = read_all(stock, new_topic)
    got = read_all(ours, new_topic)
    assert len(expected) == COUNT
    assert got == expected
