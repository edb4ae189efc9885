"""Redis memory per open and per closed case.

Builds the read model of 100,000 open cases (spread over 2,000 handlers in
40 teams, with running, paused and decided clocks and due return visits)
and then 1,000,000 closed cases, through the same MetricsDelta the sink
uses, and reads ``used_memory`` before and after each.
"""

from __future__ import annotations

import random
import time

import redis

from bench.common import TZ, Services
from events.contract import STAGES
from events.state import CLOSED, OPEN, CaseState, DecisionClock
from metrics.delta import MetricsDelta
from metrics.writer import write_delta

CHUNK = 5000


def _state(i: int, rng: random.Random, now: float, open_case: bool) -> CaseState:
    team = f"team-{i % 40:02d}"
    handler = f"h-{i % 2000:04d}"
    opened = now - rng.uniform(0, 30) * 86400
    clock = DecisionClock(start=opened, limit_days=rng.choice((15, 15, 15, 30, 60)))
    roll = rng.random()
    if roll < 0.05:
        clock.paused_since = opened + 86400
    elif roll < 0.35:
        clock.decided_at = opened + rng.uniform(1, 14) * 86400
    return CaseState(
        case_id=f"C2026-{i:07d}",
        last_seq=rng.randint(1, 20),
        status=OPEN if open_case else CLOSED,
        stage=rng.choice(STAGES),
        stage_entered_at=opened + 3600,
        team_id=team,
        handler_id=handler,
        opened_at=opened,
        channel="phone",
        category="claims",
        product_line="auto",
        priority=rng.choice(("normal", "normal", "urgent", "major")),
        group_size=None,
        clock=clock,
        follow_up_due=opened + 20 * 86400 if rng.random() < 0.3 else None,
        closed_at=None if open_case else opened + 20 * 86400,
    )


def _fill(client: redis.Redis, start: int, count: int, open_case: bool, now: float) -> None:
    rng = random.Random(start)
    for chunk_start in range(start, start + count, CHUNK):
        delta = MetricsDelta()
        for i in range(chunk_start, min(chunk_start + CHUNK, start + count)):
            state = _state(i, rng, now, open_case)
            delta.move_case(state.case_id, None, state, TZ)
        pipe = client.pipeline(transaction=False)
        write_delta(pipe, delta)
        pipe.execute()


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def flush_and_settle(client: redis.Redis, timeout: float = 120.0) -> None:
    """Empty Redis and wait until nothing is left to free.

    A SYNC flush returns at once when the keyspace is already empty, while an
    earlier lazy flush (another benchmark's) may still be freeing memory in
    the background; a reading taken then would shrink while we fill.
    """
    client.flushall(asynchronous=False)
    deadline = time.monotonic() + timeout
    while int(client.info("memory").get("lazyfree_pending_objects", 0)) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("Redis still freeing memory after the flush")
        time.sleep(0.1)


def run(
    services: Services, open_cases: int = 100_000, closed_cases: int = 1_000_000
) -> dict[str, float]:
    client = services.redis()
    flush_and_settle(client)
    now = time.time()
    base = used_memory(client)
    _fill(client, 0, open_cases, True, now)
    with_open = used_memory(client)
    _fill(client, open_cases, closed_cases, False, now)
    with_closed = used_memory(client)
    flush_and_settle(client)
    return {
        "open_cases": open_cases,
        "closed_cases": closed_cases,
        "per_open_case": round((with_open - base) / open_cases),
        "per_closed_case": round((with_closed - with_open) / closed_cases),
    }
