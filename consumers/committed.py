"""A consumer group's committed Kafka offsets, read without joining the group."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition


def committed_offsets(bootstrap: str, group: str, topic: str) -> dict[int, int]:
    """The next offset to read per partition that ``group`` committed for ``topic``
    (partitions it never committed are left out). Raises KafkaError when the
    broker cannot tell."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap.split(","),
        group_id=group,
        enable_auto_commit=False,
        request_timeout_ms=10_000,
        bootstrap_timeout_ms=5_000,
    )
    try:
        found: dict[int, int] = {}
        for partition in sorted(consumer.partitions_for_topic(topic) or ()):
            offset = consumer.committed(TopicPartition(topic, partition))
            if offset is not None:
                found[partition] = offset
        return found
    finally:
        consumer.close(autocommit=False)
