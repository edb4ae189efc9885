"""The case states a metrics sink stored itself, kept to spare reading them back.

Each batch needs the state of every case it touches. A case's events all
come on one partition, and only the sink that owns a partition writes its
cases, so the states this sink stored last are still the stored ones as
long as nobody else wrote that partition since. Redis tells: the apply
script stores a partition's offset with its states, atomically, so the
partition's stored offset is still the one this sink stored if and only if
nobody else stored anything of it since, in the same build of the read
model (a rebuild writes a new build marker and may write the same offsets).

A state is used from here only when its partition passes that check at the
batch's first read; otherwise (or when it is not here) it is read from
Redis as before. Anything that leaves a store's outcome in doubt (a chunk
refused, a failure, a lost connection) forgets everything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice

from metrics.kernel.api import State

TopicPartition = tuple[str, int]

# States kept: about 700 bytes each with their footprint; the compiled
# kernel's own cache (its written states) holds the same objects.
DEFAULT_LIMIT = 20_000


class StoredStates:
    """The states this sink stored, with the offsets and build they were stored under."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.build: bytes | None = None
        self.offsets: dict[TopicPartition, int] = {}
        # case id -> (its partition, its state), oldest stored first.
        self.states: dict[str, tuple[TopicPartition, State]] = {}

    def __len__(self) -> int:
        return len(self.states)

    def candidates(self, case_ids: Iterable[str]) -> dict[str, tuple[TopicPartition, State]]:
        """The cases of ``case_ids`` kept here (usable once ``check`` trusts their partition)."""
        states = self.states
        return {case_id: states[case_id] for case_id in case_ids if case_id in states}

    def check(
        self, build: bytes | None, stored: Mapping[TopicPartition, int]
    ) -> set[TopicPartition]:
        """The partitions of ``stored`` whose kept states are the stored ones: the
        read model is the build they were stored in, and ``stored`` (each
        partition's stored offset now, -1: none) is the offset this sink
        stored last. What is kept of the others is forgotten: someone else
        may have written any of their cases."""
        if build is None or build != self.build:
            self.forget()
            return set()
        mine = self.offsets
        trusted = {tp for tp, offset in stored.items() if offset >= 0 and mine.get(tp) == offset}
        # A partition with kept states has its offset here (see confirm).
        doubted = {tp for tp in stored if tp not in trusted and tp in mine}
        if doubted:
            for tp in doubted:
                del mine[tp]
            kept = self.states
            for case_id in [i for i, (tp, _) in kept.items() if tp in doubted]:
                del kept[case_id]
        return trusted

    def confirm(
        self,
        build: bytes | None,
        offsets: Mapping[TopicPartition, int],
        states: Iterable[tuple[str, TopicPartition, State]],
    ) -> None:
        """Every chunk of an attempt was stored, in ``build``: its partitions'
        offsets are now ``offsets`` (-1: none stored) and these are its states
        (each of a partition with an offset). Call only after ``check`` of the
        same attempt's first read: the other states kept of these partitions
        are then the stored ones."""
        if build is None:
            self.forget()
            return
        if build != self.build:
            self.forget()
            self.build = build
        for tp, offset in offsets.items():
            if offset >= 0:
                self.offsets[tp] = offset
        kept = self.states
        for case_id, tp, state in states:
            kept.pop(case_id, None)  # re-inserted last: the order is of storing
            if len(kept) >= self.limit:
                for oldest in list(islice(kept, max(1, self.limit // 4))):
                    del kept[oldest]
            kept[case_id] = (tp, state)

    def forget(self) -> None:
        self.build = None
        self.offsets.clear()
        self.states.clear()
