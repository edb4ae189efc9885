"""The interface between the consumer loop and a sink (Redis or SQL).

A sink stores the effects of a batch and the batch's offsets atomically, so
that a redelivered record is recognised by its offset and skipped: every
effect happens exactly once, whatever the consumer's crashes and restarts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from events.batch import RawRecord


class SinkUnavailable(Exception):
    """The sink's store cannot be reached; retry later, commit nothing."""


class SinkNotReady(Exception):
    """The sink refuses to write (for example Redis lost its data and needs a rebuild)."""


@dataclass(slots=True)
class BatchSummary:
    """What one stored batch did."""

    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    skipped: int = 0  # records at offsets already stored (redelivery)
    invalid: list[tuple[RawRecord, str]] = field(default_factory=list)
    # Highest stored offset per partition after the batch.
    offsets: dict[int, int] = field(default_factory=dict)


class Sink(Protocol):
    name: str

    def stored_offsets(self, topic: str) -> dict[int, int]:
        """Last offset stored per partition of ``topic`` (absent: none yet)."""
        ...

    def apply(self, records: Sequence[RawRecord]) -> BatchSummary:
        """Store the batch's effects and offsets; return once all are stored.

        Effects are stored atomically with their offsets: the whole batch in
        one step, or consecutive parts of it in as many steps, in order.
        Records at or below a partition's stored offset are skipped. Raises
        SinkUnavailable when the store cannot be reached and SinkNotReady
        when it must not be written to: then nothing, or only the parts
        before the failure, were stored (their records are skipped when
        they come again).
        """
        ...

    def ping(self) -> bool:
        """True when the store answers."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class PipelinedSink(Protocol):
    """A sink that can store a batch while the loop polls the next one.

    ``stage`` may begin the next batch while one is in flight (read-only
    work); ``submit`` computes the batch and starts storing it; ``settle`` waits
    until it is stored and gives its summary (None if nothing was
    submitted). Only after ``settle`` returned are the batch's effects and
    offsets stored, so only then are its offsets committed. Both raise
    SinkUnavailable or SinkNotReady as ``apply`` does; a failed batch is
    settled all the same (what was not stored is polled again).
    """

    def stage(self, records: Sequence[RawRecord]) -> None:
        """Begin the next batch while the one submitted is stored: only what
        changes nothing. ``submit`` with the same records takes it up."""
        ...

    def submit(self, records: Sequence[RawRecord]) -> None: ...

    def settle(self) -> BatchSummary | None: ...


@runtime_checkable
class DeadLetterOutbox(Protocol):
    """A sink that stores each batch's dead letters atomically with its effects.

    The loop publishes the pending ones and then clears them, so a crash
    between storing a batch and publishing its dead letters loses none.
    """

    def pending_dead_letters(self, partitions: Iterable[int]) -> list[tuple[RawRecord, str]]:
        """The dead letters of ``partitions`` stored and not yet cleared, oldest
        first per partition (each partition's letters are its owner's alone)."""
        ...

    def clear_dead_letters(self, published: Sequence[tuple[RawRecord, str]]) -> None:
        """Forget ``published``: the oldest letters of each of their partitions."""
        ...


def is_fresh(record: RawRecord, stored: dict[str, dict[int, int]]) -> bool:
    """True when ``record`` lies above its partition's stored offset (not yet applied)."""
    return record.offset > stored.get(record.topic, {}).get(record.partition, -1)


def split_stored(
    records: Sequence[RawRecord], stored: dict[str, dict[int, int]]
) -> tuple[list[RawRecord], int]:
    """Drop records whose offset is at or below the stored one; return the rest and how many were dropped."""
    fresh = [record for record in records if is_fresh(record, stored)]
    return fresh, len(records) - len(fresh)
