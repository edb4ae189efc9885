"""Observability of the consumer loop as a sensor interface.

The loop calls a sensor at each step instead of keeping counters itself;
logging, the Redis heartbeat and Prometheus are sensors.
"""

from __future__ import annotations

import logging
from typing import Protocol

from consumers.sink import BatchSummary

log = logging.getLogger("complaintops.consumer")


class Sensor(Protocol):
    def on_batch(
        self, group: str, summary: BatchSummary, seconds: float, lag: dict[int, int]
    ) -> None: ...

    def on_idle(self, group: str, lag: dict[int, int]) -> None: ...

    def on_error(self, group: str, error: BaseException, retry_in: float) -> None: ...

    def on_dead_letter(
        self, group: str, topic: str, partition: int, offset: int, reason: str
    ) -> None: ...

    def on_commit(self, group: str, offsets: dict[int, int]) -> None: ...


class LoggingSensor:
    """Logs each batch (debug), every error and every dead letter."""

    def on_batch(
        self, group: str, summary: BatchSummary, seconds: float, lag: dict[int, int]
    ) -> None:
        log.debug(
            "%s batch: applied=%d duplicates=%d invalid=%d gaps=%d skipped=%d in %.1f ms, lag=%d",
            group,
            summary.applied,
            summary.duplicates,
            len(summary.invalid),
            summary.gaps,
            summary.skipped,
            seconds * 1000,
            sum(lag.values()),
        )

    def on_idle(self, group: str, lag: dict[int, int]) -> None:
        return None

    def on_error(self, group: str, error: BaseException, retry_in: float) -> None:
        log.warning("%s: %s; nothing committed, retrying in %.1f s", group, error, retry_in)

    def on_dead_letter(
        self, group: str, topic: str, partition: int, offset: int, reason: str
    ) -> None:
        log.info("%s: %s[%d] offset %d dead-lettered: %s", group, topic, partition, offset, reason)

    def on_commit(self, group: str, offsets: dict[int, int]) -> None:
        return None


class Sensors:
    """Fans every call out to several sensors; a failing sensor never stops the loop."""

    def __init__(self, *sensors: Sensor) -> None:
        self.sensors = list(sensors)

    def _each(self, method: str, *args: object) -> None:
        for sensor in self.sensors:
            try:
                getattr(sensor, method)(*args)
            except Exception:  # a sensor must not break consumption
                log.exception("sensor %s.%s failed", type(sensor).__name__, method)

    def on_batch(
        self, group: str, summary: BatchSummary, seconds: float, lag: dict[int, int]
    ) -> None:
        self._each("on_batch", group, summary, seconds, lag)

    def on_idle(self, group: str, lag: dict[int, int]) -> None:
        self._each("on_idle", group, lag)

    def on_error(self, group: str, error: BaseException, retry_in: float) -> None:
        self._each("on_error", group, error, retry_in)

    def on_dead_letter(
        self, group: str, topic: str, partition: int, offset: int, reason: str
    ) -> None:
        self._each("on_dead_letter", group, topic, partition, offset, reason)

    def on_commit(self, group: str, offsets: dict[int, int]) -> None:
        self._each("on_commit", group, offsets)
