"""The state of one case, as every sink keeps it (pure, serialisable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import orjson

OPEN = "open"
CLOSED = "closed"


@dataclass(slots=True)
class DecisionClock:
    """The regulatory decision clock (rules R2, R3, R4, R11).

    ``start`` is the clock start (receipt, or the reopening with new facts);
    ``paused_total`` the seconds spent paused before the current pause;
    ``paused_since`` the start of the current pause, if any.
    """

    start: float
    limit_days: int
    paused_total: float = 0.0
    paused_since: float | None = None
    decided_at: float | None = None


@dataclass(slots=True)
class CaseState:
    """What the pipeline knows of a case after its last applied event."""

    case_id: str
    last_seq: int
    status: str
    stage: str
    stage_entered_at: float
    team_id: str
    handler_id: str
    opened_at: float
    channel: str
    category: str
    product_line: str
    priority: str
    group_size: int | None
    clock: DecisionClock
    follow_up_due: float | None = None
    follow_up_done: bool = False
    satisfaction_given: bool = False
    escalated_to_regulator: bool = False
    closed_at: float | None = None
    reopen_count: int = 0
    rework_count: int = 0

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    @property
    def is_major(self) -> bool:
        """重大投诉 (rule R8): priority major or a group of 20 or more."""
        return self.priority == "major" or (self.group_size or 0) >= 20

    def copy(self) -> CaseState:
        """A copy that shares nothing mutable with this state (hot path: no reflection)."""
        k = self.clock
        return CaseState(
            self.case_id,
            self.last_seq,
            self.status,
            self.stage,
            self.stage_entered_at,
            self.team_id,
            self.handler_id,
            self.opened_at,
            self.channel,
            self.category,
            self.product_line,
            self.priority,
            self.group_size,
            DecisionClock(k.start, k.limit_days, k.paused_total, k.paused_since, k.decided_at),
            self.follow_up_due,
            self.follow_up_done,
            self.satisfaction_given,
            self.escalated_to_regulator,
            self.closed_at,
            self.reopen_count,
            self.rework_count,
        )

    # -- serialisation -------------------------------------------------------

    def to_json(self) -> bytes:
        return orjson.dumps(self)  # orjson serialises (nested) dataclasses natively

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseState:
        values = dict(data)
        values["clock"] = DecisionClock(**values["clock"])
        return cls(**values)

    @classmethod
    def from_json(cls, raw: bytes | str) -> CaseState:
        return cls.from_dict(orjson.loads(raw))
