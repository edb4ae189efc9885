"""Contract-valid case events (case-events-v1.md) and Kafka-like records for the store tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from events.batch import RawRecord

SHANGHAI = ZoneInfo("Asia/Shanghai")
TOPIC = "complaints.case-events"
START = datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI)

_event_numbers = itertools.count(1)


def at(days: float = 0, hours: float = 0) -> datetime:
    """A moment relative to START (09:30 on 2026-11-24, Shanghai)."""
    return START + timedelta(days=days, hours=hours)


def event(
    case_id: str,
    seq: int,
    etype: str,
    when: datetime,
    *,
    event_id: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "case-event/v1",
        "event_id": event_id or f"e-{next(_event_numbers):06d}",
        "case_id": case_id,
        "seq": seq,
        "type": etype,
        "occurred_at": when.isoformat(),
    }
    body.update(fields)
    return body


def opened(
    case_id: str,
    when: datetime = START,
    *,
    event_id: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "team_id": "claims-east",
        "handler_id": "h-017",
        "channel": "phone",
        "category": "claims",
        "product_line": "auto",
        "priority": "normal",
        "complainant": {"gender": "f", "age_band": "45-59", "repeat": False},
    }
    fields.update(overrides)
    return event(case_id, 1, "case.opened", when, event_id=event_id, **fields)


def encode(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


class Records:
    """Makes records of one topic with increasing offsets per partition."""

    def __init__(self, topic: str = TOPIC) -> None:
        self.topic = topic
        self._next: dict[int, int] = {}

    def make(self, value: dict[str, Any] | bytes | None, partition: int = 0) -> RawRecord:
        offset = self._next.get(partition, 0)
        self._next[partition] = offset + 1
        raw = encode(value) if isinstance(value, dict) else value
        return RawRecord(self.topic, partition, offset, raw)

    def many(
        self, values: Iterable[dict[str, Any] | bytes | None], partition: int = 0
    ) -> list[RawRecord]:
        return [self.make(value, partition) for value in values]
