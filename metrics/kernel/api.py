"""The batch kernel of the metrics sink: what it takes and gives.

A kernel runs one batch of records through the pure core (form checks, the
case state machine, the scoring rules) and aggregates the batch's Redis
writes (``metrics.delta``): everything the metrics sink computes between
reading the cases' states and calling the apply script. Two kernels keep
this interface: ``reference`` on the pure core itself, and ``compiled``, the
same rules in one compiled pass, which must give exactly what the reference
gives (tests/metrics/kernel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from events.batch import RawRecord

# One record after the form checks: (record, event or None, reason or None).
# The event is the kernel's own (it has .case_id); only the kernel reads it.
Decoded = tuple[RawRecord, Any, str | None]

# A case's state as a kernel holds it (opaque to its callers): read from
# Redis with ``decode_state``, or handed on from an earlier run's ``states``.
State = Any


class KernelOutput(Protocol):
    """What running one batch did, and the writes that store it."""

    applied: int
    duplicates: int
    gaps: int
    # Records found invalid by the form or the state checks, in record order.
    invalid: list[tuple[RawRecord, str]]
    # The state after the run of every case the run changed.
    states: dict[str, State]

    def payload(self, rpush: Mapping[str, Sequence[bytes]]) -> bytes:
        """The apply script's writes but the states (metrics.writer.delta_payload),
        with ``rpush`` (list key -> values to append) added."""
        ...

    def written_keys(self, rpush: Mapping[str, Sequence[bytes]]) -> list[str]:
        """Every key the payload writes, once each, sorted."""
        ...

    def states_written(self) -> tuple[list[str], list[bytes]]:
        """The changed cases' states in their stored form: keys, and values in
        the same order (metrics.writer.state_writes)."""
        ...


class BatchKernel(Protocol):
    name: str

    def decode_all(self, records: Sequence[RawRecord]) -> list[Decoded]:
        """The form checks (check 1) of each record, in order."""
        ...

    def decode_state(self, case_id: str, raw: bytes) -> State:
        """A case's state from its stored form (metrics.codec)."""
        ...

    def run(
        self, decoded: Sequence[Decoded], states: Mapping[str, State | None], now: float
    ) -> KernelOutput:
        """Checks 2 to 4 of each decoded record in order, from ``states`` (every
        case of the batch: None for a case not stored yet), and the aggregated
        writes of the batch as seen at ``now``."""
        ...


def case_ids(decoded: Sequence[Decoded]) -> list[str]:
    """The distinct cases of the form-valid records, in order of first appearance."""
    seen: dict[str, None] = {}
    for _, event, _ in decoded:
        if event is not None:
            seen.setdefault(event.case_id, None)
    return list(seen)
