"""Compact encoding of a case state for Redis (a versioned JSON array).

Field names are left out to keep an open case well under a kilobyte; the
first element is the layout version.
"""

from __future__ import annotations

import orjson

from events.json_bytes import dumps_lasting
from events.state import CaseState, DecisionClock

VERSION = 1


def encode_state(state: CaseState) -> bytes:
    """Held by the thousands in a batch or a rebuild's delta: in its own size."""
    k = state.clock
    return dumps_lasting(
        [
            VERSION,
            state.last_seq,
            state.status,
            state.stage,
            state.stage_entered_at,
            state.team_id,
            state.handler_id,
            state.opened_at,
            state.channel,
            state.category,
            state.product_line,
            state.priority,
            state.group_size,
            k.start,
            k.limit_days,
            k.paused_total,
            k.paused_since,
            k.decided_at,
            state.follow_up_due,
            state.follow_up_done,
            state.satisfaction_given,
            state.escalated_to_regulator,
            state.closed_at,
            state.reopen_count,
            state.rework_count,
        ]
    )


def decode_state(case_id: str, raw: bytes | str) -> CaseState:
    v = orjson.loads(raw)
    if v[0] != VERSION:
        raise ValueError(f"case {case_id}: unknown state layout version {v[0]}")
    return CaseState(
        case_id=case_id,
        last_seq=v[1],
        status=v[2],
        stage=v[3],
        stage_entered_at=v[4],
        team_id=v[5],
        handler_id=v[6],
        opened_at=v[7],
        channel=v[8],
        category=v[9],
        product_line=v[10],
        priority=v[11],
        group_size=v[12],
        clock=DecisionClock(
            start=v[13], limit_days=v[14], paused_total=v[15], paused_since=v[16], decided_at=v[17]
        ),
        follow_up_due=v[18],
        follow_up_done=v[19],
        satisfaction_given=v[20],
        escalated_to_regulator=v[21],
        closed_at=v[22],
        reopen_count=v[23],
        rework_count=v[24],
    )
