"""Publishing invalid records to the dead-letter topic with their reason."""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaProducer

from events.batch import RawRecord

HEADER_REASON = "complaintops.reason"
HEADER_TOPIC = "complaintops.original.topic"
HEADER_PARTITION = "complaintops.original.partition"
HEADER_OFFSET = "complaintops.original.offset"
HEADER_GROUP = "complaintops.group"


def dead_letter_headers(record: RawRecord, reason: str, group: str) -> list[tuple[str, bytes]]:
    return [
        (HEADER_REASON, reason.encode()),
        (HEADER_TOPIC, record.topic.encode()),
        (HEADER_PARTITION, str(record.partition).encode()),
        (HEADER_OFFSET, str(record.offset).encode()),
        (HEADER_GROUP, group.encode()),
    ]


class DeadLetterPublisher:
    """Sends invalid records, unchanged, to the dead-letter topic.

    ``publish`` returns only once the broker has acknowledged every record,
    so the caller may then commit the source offsets. Delivery is at least
    once: a record re-sent after a crash carries the same original partition
    and offset headers, by which readers can recognise it.
    """

    def __init__(
        self, producer: KafkaProducer, topic: str, group: str, timeout: float = 30.0
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.group = group
        self.timeout = timeout

    def publish(self, invalid: Sequence[tuple[RawRecord, str]]) -> None:
        futures = [
            self.producer.send(
                self.topic,
                key=record.key,
                value=record.value if record.value is not None else b"",
                headers=dead_letter_headers(record, reason, self.group),
            )
            for record, reason in invalid
        ]
        self.producer.flush(timeout=self.timeout)
        for future in futures:
            future.get(timeout=self.timeout)

    def close(self) -> None:
        self.producer.close(timeout=5)
