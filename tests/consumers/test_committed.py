"""Reading a group's committed offsets without joining it, against the real broker."""

from __future__ import annotations

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from complaintops.embedded import find_free_port
from consumers.committed import committed_offsets


def test_the_offsets_a_group_committed_and_only_those(
    kafka_bootstrap: str, new_topic: str, new_group_id: str
) -> None:
    assert committed_offsets(kafka_bootstrap, new_group_id, new_topic) == {}
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=new_group_id, enable_auto_commit=False
    )
    try:
        consumer.commit(
            offsets={
                TopicPartition(new_topic, 0): OffsetAndMetadata(7, "", -1),
                TopicPartition(new_topic, 2): OffsetAndMetadata(3, "", -1),
            }
        )
    finally:
        consumer.close(autocommit=False)
    assert committed_offsets(kafka_bootstrap, new_group_id, new_topic) == {0: 7, 2: 3}


def test_an_unreachable_broker_raises_a_kafka_error() -> None:
    with pytest.raises(KafkaError):
        committed_offsets(f"127.0.0.1:{find_free_port()}", "any-group", "any-topic")
