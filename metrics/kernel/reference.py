"""The reference batch kernel: the pure core itself (events.batch, metrics.delta)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from events.batch import RawRecord, decode_all, run_batch
from events.machine import Outcome
from events.scoring import DEFAULT_RULES, RuleSource
from events.state import CaseState
from metrics.codec import decode_state
from metrics.delta import MetricsDelta
from metrics.kernel.api import Decoded
from metrics.writer import delta_payload, state_writes, written_keys


@dataclass(slots=True)
class ReferenceOutput:
    delta: MetricsDelta
    applied: int = 0
    duplicates: int = 0
    gaps: int = 0
    invalid: list[tuple[RawRecord, str]] = field(default_factory=list)
    states: dict[str, CaseState] = field(default_factory=dict)

    def _with(self, rpush: Mapping[str, Sequence[bytes]]) -> MetricsDelta:
        if not any(rpush.values()):
            return self.delta
        delta = MetricsDelta(**{name: getattr(self.delta, name) for name in _FIELDS})
        delta.rpush = {key: list(values) for key, values in rpush.items()}
        return delta

    def payload(self, rpush: Mapping[str, Sequence[bytes]]) -> bytes:
        return delta_payload(self._with(rpush))

    def written_keys(self, rpush: Mapping[str, Sequence[bytes]]) -> list[str]:
        return written_keys(self._with(rpush))

    def states_written(self) -> tuple[list[str], list[bytes]]:
        return state_writes(self.delta)


_FIELDS = tuple(name for name in MetricsDelta.__slots__ if name != "rpush")


class ReferenceKernel:
    name = "reference"

    def __init__(self, tz: ZoneInfo, rules: RuleSource = DEFAULT_RULES) -> None:
        self.tz = tz
        self.rules = rules

    def decode_all(self, records: Sequence[RawRecord]) -> list[Decoded]:
        return decode_all(records)

    def decode_state(self, case_id: str, raw: bytes) -> CaseState:
        return decode_state(case_id, raw)

    def run(
        self, decoded: Sequence[Decoded], states: Mapping[str, CaseState | None], now: float
    ) -> ReferenceOutput:
        batch = run_batch(decoded, states, self.tz, self.rules)
        delta = MetricsDelta()
        delta.add_batch(batch, self.tz, now)
        out = ReferenceOutput(delta)
        for result in batch.results:
            if result.outcome is Outcome.APPLIED:
                out.applied += 1
                assert result.transition is not None
                if result.transition.gap > 0:
                    out.gaps += 1
            elif result.outcome is Outcome.DUPLICATE:
                out.duplicates += 1
            else:
                out.invalid.append((result.record, result.reason or "invalid"))
        for case_id in batch.changed_cases:
            state = batch.states[case_id]
            if state is not None:
                out.states[case_id] = state
        return out
