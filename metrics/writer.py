"""Sending an aggregated MetricsDelta into a Redis pipeline."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import orjson

from metrics.delta import LatestTeam, MetricsDelta, TeamsKeys


def write_delta(pipe: Any, delta: MetricsDelta) -> None:
    """Queue every write of ``delta`` on ``pipe`` (removals before additions)."""
    for key, members in delta.zrem.items():
        if members:
            pipe.zrem(key, *members)
    for key, scores in delta.zadd.items():
        if scores:
            pipe.zadd(key, scores)
    for key, fields in delta.hdel.items():
        if fields:
            pipe.hdel(key, *fields)
    for key, mapping in delta.hset.items():
        if mapping:
            pipe.hset(key, mapping=mapping)
    by_key: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (key, field), amount in delta.hincr.items():
        if amount:
            by_key[key].append((field, amount))
    for key, increments in by_key.items():
        for field, amount in increments:
            pipe.hincrby(key, field, amount)
    for (key, member), points in delta.zincr.items():
        pipe.zincrby(key, points, member)
    if delta.states:
        # As a plain command: a cluster pipeline refuses MSET by name, and all
        # states share one slot (see metrics.keys).
        pipe.execute_command("MSET", *(x for item in delta.states.items() for x in item))
    write_teams(pipe, delta.teams)
    for key, when in delta.expire_at.items():
        pipe.expireat(key, when)


def write_teams(pipe: Any, teams: Mapping[TeamsKeys, Mapping[str, LatestTeam]]) -> None:
    """Queue the handlers' teams and stamps as plain writes: right only where
    Redis holds no later stamp (an emptied read model, as the rebuild writes
    it); the sink's apply script compares them instead."""
    for (teams_key, stamps_key), handlers in teams.items():
        if handlers:
            pipe.hset(teams_key, mapping={h: team for h, (_, team) in handlers.items()})
            pipe.hset(stamps_key, mapping={h: stamp for h, (stamp, _) in handlers.items()})


def written_keys(delta: MetricsDelta) -> list[str]:
    """Every key the payload of ``delta`` writes, once each, sorted (not the
    states: see state_writes)."""
    touched: set[str] = set()
    for collection in (delta.zrem, delta.zadd, delta.hdel, delta.hset, delta.rpush):
        touched.update(key for key, items in collection.items() if items)
    touched.update(key for (key, _), amount in delta.hincr.items() if amount)
    touched.update(key for key, _ in delta.zincr)
    touched.update(delta.expire_at)
    for teams, handlers in delta.teams.items():
        if handlers:
            touched.update(teams)
    return sorted(touched)


def state_writes(delta: MetricsDelta) -> tuple[list[str], list[bytes]]:
    """The states ``delta`` stores: their keys, and their values in the same order.

    They travel beside the payload as the script's own keys and arguments,
    not inside its JSON, where every state would be escaped and decoded again.
    """
    return list(delta.states), list(delta.states.values())


def delta_payload(delta: MetricsDelta) -> bytes:
    """The writes of ``delta`` but the states as one JSON document for the
    apply script (the states: see state_writes).

    Scores and amounts are sent as strings: Lua would print numbers with 14
    significant digits and lose the sub-second part of epoch seconds.
    """
    return orjson.dumps(
        {
            "zrem": {k: sorted(v) for k, v in delta.zrem.items() if v},
            "zadd": {
                k: [x for member, score in v.items() for x in (repr(float(score)), member)]
                for k, v in delta.zadd.items()
                if v
            },
            "hdel": {k: sorted(v) for k, v in delta.hdel.items() if v},
            "hset": {
                k: [x for item in v.items() for x in item] for k, v in delta.hset.items() if v
            },
            "hincr": [[k, f, str(n)] for (k, f), n in delta.hincr.items() if n],
            "zincr": [[k, m, repr(float(p))] for (k, m), p in delta.zincr.items()],
            "expireat": [[k, str(int(t))] for k, t in delta.expire_at.items()],
            # [teams key, stamps key, handler, stamp, team, handler, …] per period.
            "teams": [
                [*pair, *(x for h, (stamp, team) in v.items() for x in (h, stamp, team))]
                for pair, v in delta.teams.items()
                if v
            ],
            "rpush": {
                k: [v.decode() for v in values] for k, values in delta.rpush.items() if values
            },
        }
    )
