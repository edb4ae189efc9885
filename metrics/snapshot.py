"""The read model in a normalised, comparable form.

A ``Snapshot`` maps every data key of the read model to its content: a hash to ``Hash``
(field -> value, counter fields at zero left out), a sorted set to ``ZSet``
(member -> score, rounded), a string to bytes. Empty hashes and sorted sets
are left out, and so are throughput hours near the end of their retention
(they expire on their own and the sinks skip them by their own clock). The
stored offsets are kept apart in ``offsets``; the build marker and keys of
other parts of the product (heartbeats, sign-in counters, locks) are not
read at all.

``read_snapshot`` reads it from Redis in consistent chunks;
``expected_snapshot`` computes it from the SQL store with the rebuild's
replay, folding each MetricsDelta exactly as ``metrics.writer`` writes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Engine

from events.scoring import DEFAULT_RULES, RuleSource
from events.timeutil import DAY_SECONDS
from metrics import keys
from metrics.delta import THROUGHPUT_RETENTION_DAYS, MetricsDelta
from metrics.rebuild import OFFSETS_PREFIX, ReplayTotals, is_read_model_key, replay_store
from metrics.source import Positions, read_transaction

SCORE_DECIMALS: Final = 6
READ_CHUNK: Final = 2000
MAX_READ_ATTEMPTS: Final = 6
SCAN_COUNT: Final = 5000
# Hours are compared only while they are this far from expiring.
THROUGHPUT_COMPARED_DAYS: Final = THROUGHPUT_RETENTION_DAYS - 1

_THROUGHPUT_PREFIX: Final = keys.template_prefix(keys.THROUGHPUT_HOUR)
_LEADERBOARD_PREFIX: Final = keys.template_prefix(keys.LEADERBOARD)
_LEADERBOARD_TEAMS_SUFFIXES: Final = (
    keys.LEADERBOARD_TEAMS.rsplit("}", 1)[1],
    keys.LEADERBOARD_TEAM_STAMPS.rsplit("}", 1)[1],
)

# Per key (in KEYS, then the offset keys): its type and content, read in one
# atomic step. Scores come back as the exact text Redis keeps.
_READ_SCRIPT: Final = """
local data_keys = tonumber(ARGV[1])
local out = {}
for i = 1, data_keys do
  local key = KEYS[i]
  local kind = redis.call('TYPE', key)['ok']
  if kind == 'hash' then
    out[i] = {kind, redis.call('HGETALL', key)}
  elseif kind == 'zset' then
    out[i] = {kind, redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')}
  elseif kind == 'string' then
    out[i] = {kind, redis.call('GET', key)}
  else
    out[i] = {kind}
  end
end
local offsets = {}
for i = data_keys + 1, #KEYS do
  offsets[i - data_keys] = redis.call('GET', KEYS[i]) or false
end
return {out, offsets}
"""


class Hash(dict[str, str]):
    """A hash: field -> value."""


class ZSet(dict[str, float]):
    """A sorted set: member -> score."""


@dataclass(frozen=True, slots=True)
class OtherType:
    """A key of a type the read model never writes (a list, a set, …)."""

    kind: str


Value = bytes | Hash | ZSet | OtherType


@dataclass(slots=True)
class Snapshot:
    data: dict[str, Value] = field(default_factory=dict)
    # Offset key -> stored offset.
    offsets: dict[str, int] = field(default_factory=dict)

    def offsets_of(self, group: str, topic: str) -> dict[int, int]:
        """partition -> stored offset of one consumer group and topic."""
        prefix = keys.offset(group, topic, 0)[:-1]
        return {
            int(name[len(prefix) :]): offset
            for name, offset in self.offsets.items()
            if name.startswith(prefix) and name[len(prefix) :].isdigit()
        }


# -- which keys are compared ---------------------------------------------------------


def is_counter_hash(key: str) -> bool:
    """Hashes of counters (a zero field means nothing), unlike the leaderboards'
    handler -> team hashes and their stamps."""
    return not (key.startswith(_LEADERBOARD_PREFIX) and key.endswith(_LEADERBOARD_TEAMS_SUFFIXES))


def is_compared(key: str, now: float) -> bool:
    """False for a throughput hour that is about to expire (or has expired)."""
    if not key.startswith(_THROUGHPUT_PREFIX):
        return True
    try:
        hour = int(key[len(_THROUGHPUT_PREFIX) :])
    except ValueError:
        return True
    return hour + THROUGHPUT_COMPARED_DAYS * DAY_SECONDS > now


def normalise(key: str, value: Value) -> Value | None:
    """The comparable form of one key's content; None when it counts as absent."""
    if isinstance(value, Hash):
        if is_counter_hash(key):
            value = Hash({f: v for f, v in value.items() if v != "0"})
        return value or None
    if isinstance(value, ZSet):
        rounded = ZSet({m: round(s, SCORE_DECIMALS) + 0.0 for m, s in value.items()})
        return rounded or None
    return value


# -- Redis -----------------------------------------------------------------------


class SnapshotUnstable(Exception):
    """The read model kept changing while it was read."""


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _pairs(items: list[Any]) -> Iterable[tuple[str, Any]]:
    return zip((_text(x) for x in items[0::2]), items[1::2], strict=True)


def _decode_entry(entry: list[Any]) -> Value | None:
    kind = _text(entry[0])
    if kind == "none":
        return None
    if kind == "hash":
        return Hash({name: _text(value) for name, value in _pairs(entry[1])})
    if kind == "zset":
        return ZSet({member: float(score) for member, score in _pairs(entry[1])})
    if kind == "string":
        raw = entry[1]
        return raw if isinstance(raw, bytes) else str(raw).encode()
    return OtherType(kind)


def _offsets(names: list[str], values: list[Any]) -> dict[str, int]:
    return {
        name: int(value)
        for name, value in zip(names, values, strict=True)
        if value is not None and value is not False
    }


def _scan(client: redis.Redis, now: float) -> tuple[list[str], list[str]]:
    """(data keys to compare, offset keys)."""
    data: list[str] = []
    offsets: list[str] = []
    for raw in client.scan_iter(match=keys.MODEL_PATTERN, count=SCAN_COUNT):
        name = _text(raw)
        if name.startswith(OFFSETS_PREFIX):
            offsets.append(name)
        elif is_read_model_key(name) and is_compared(name, now):
            data.append(name)
    return sorted(data), sorted(offsets)


def _try_read(client: redis.Redis, now: float, chunk: int) -> Snapshot | None:
    script = client.register_script(_READ_SCRIPT)
    names, offset_names = _scan(client, now)
    before: dict[str, int] | None = None
    snapshot = Snapshot()
    for start in range(0, max(len(names), 1), chunk):
        part = names[start : start + chunk]
        entries, offset_values = script(keys=[*part, *offset_names], args=[len(part)])
        offsets = _offsets(offset_names, offset_values)
        if before is None:
            before = offsets
        elif offsets != before:
            return None
        for name, entry in zip(part, entries, strict=True):
            value = _decode_entry(entry)
            if value is not None:
                value = normalise(name, value)
            if value is not None:
                snapshot.data[name] = value
    _, offset_names_after = _scan(client, now)
    if offset_names_after != offset_names:
        return None
    snapshot.offsets = before or {}
    return snapshot


def read_snapshot(
    redis_client: redis.Redis,
    *,
    now: float | None = None,
    chunk: int = READ_CHUNK,
    attempts: int = MAX_READ_ATTEMPTS,
) -> Snapshot:
    """The read model as it stands, consistent with its stored offsets.

    Keys are read ``chunk`` at a time, each chunk atomically with the stored
    offsets; when a batch lands in between (the offsets moved), the read
    starts again with chunks four times larger, so that the last attempts
    read everything in one step.
    """
    at = time.time() if now is None else now
    size = chunk
    for _ in range(attempts):
        snapshot = _try_read(redis_client, at, size)
        if snapshot is not None:
            return snapshot
        size *= 4
    raise SnapshotUnstable(f"the read model changed during each of {attempts} attempts to read it")


# -- SQL -------------------------------------------------------------------------


class SnapshotBuilder:
    """Folds MetricsDeltas into snapshot form, as ``metrics.writer`` would
    write them into an empty Redis (removals, additions, then increments;
    each handler's team and stamp from their latest award, as the apply
    script keeps them)."""

    def __init__(self) -> None:
        self._hashes: dict[str, dict[str, str | int]] = {}
        self._zsets: dict[str, dict[str, float]] = {}
        self._strings: dict[str, bytes] = {}
        self._teams = MetricsDelta()

    def add(self, delta: MetricsDelta) -> None:
        for key, members in delta.zrem.items():
            zset = self._zsets.get(key)
            if zset:
                for member in members:
                    zset.pop(member, None)
        for key, scores in delta.zadd.items():
            self._zsets.setdefault(key, {}).update(scores)
        for key, names in delta.hdel.items():
            fields = self._hashes.get(key)
            if fields:
                for name in names:
                    fields.pop(name, None)
        for key, mapping in delta.hset.items():
            self._hashes.setdefault(key, {}).update(mapping)
        for (key, name), amount in delta.hincr.items():
            if amount:
                fields = self._hashes.setdefault(key, {})
                fields[name] = int(fields.get(name, 0)) + amount
        for (key, member), points in delta.zincr.items():
            zset = self._zsets.setdefault(key, {})
            zset[member] = zset.get(member, 0.0) + points
        self._strings.update(delta.states)
        self._teams.merge_teams(delta)

    def build(self, now: float, offsets: Mapping[str, int] | None = None) -> Snapshot:
        snapshot = Snapshot(offsets=dict(offsets or {}))
        for (teams_key, stamps_key), handlers in self._teams.teams.items():
            if handlers:
                teams = self._hashes.setdefault(teams_key, {})
                stamps = self._hashes.setdefault(stamps_key, {})
                for handler, (stamp, team) in handlers.items():
                    teams[handler] = team
                    stamps[handler] = stamp
        values: list[tuple[str, Value]] = [
            *((k, Hash({f: str(v) for f, v in h.items()})) for k, h in self._hashes.items()),
            *((k, ZSet(z)) for k, z in self._zsets.items()),
            *self._strings.items(),
        ]
        for key, value in values:
            if not is_compared(key, now):
                continue
            normalised = normalise(key, value)
            if normalised is not None:
                snapshot.data[key] = normalised
        snapshot.data = dict(sorted(snapshot.data.items()))
        return snapshot


def expected_with_totals(
    engine: Engine,
    *,
    group: str,
    topic: str,
    tz: ZoneInfo,
    rules: RuleSource = DEFAULT_RULES,
    now: float,
    up_to: Positions,
) -> tuple[Snapshot, ReplayTotals]:
    """``expected_snapshot`` and what its replay counted."""
    builder = SnapshotBuilder()
    with read_transaction(engine) as connection:
        totals = replay_store(
            connection, topic=topic, up_to=up_to, tz=tz, rules=rules, now=now, emit=builder.add
        )
    offsets = {keys.offset(group, topic, p): o for p, o in up_to.items()}
    return builder.build(now, offsets), totals


def expected_snapshot(
    engine: Engine,
    *,
    group: str,
    topic: str,
    tz: ZoneInfo,
    rules: RuleSource = DEFAULT_RULES,
    now: float,
    up_to: Positions,
) -> Snapshot:
    """What the read model of ``group`` should hold after the records at or
    below ``up_to`` (partition -> offset), computed from the SQL store."""
    snapshot, _ = expected_with_totals(
        engine, group=group, topic=topic, tz=tz, rules=rules, now=now, up_to=up_to
    )
    return snapshot
