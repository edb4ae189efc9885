"""Proving that the Redis read model agrees with the SQL system of record.

The read model is read with its stored offsets; once the store has stored at
least those offsets, the store's event log up to exactly those offsets is
replayed (the rebuild's replay) into the snapshot Redis should hold, and the
two are compared key by key and field by field. The points are checked a
second way too: the points ledger, summed into leaderboards (with each
handler's team from their latest award), must give what the replay gives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Final
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import Engine

from events.scoring import DEFAULT_RULES, Award, RuleSource
from metrics import keys
from metrics.delta import MetricsDelta
from metrics.rebuild import ReplayTotals
from metrics.snapshot import (
    Hash,
    OtherType,
    Snapshot,
    SnapshotBuilder,
    Value,
    ZSet,
    expected_with_totals,
    read_snapshot,
)
from metrics.source import Positions, iter_ledger, read_transaction, store_offsets
from store.sink import STORE_GROUP

WAIT_SECONDS: Final = 30.0
POLL_SECONDS: Final = 0.5
LEDGER_CHUNK: Final = 10_000
LEDGER: Final = "points ledger"
_LEADERBOARD_PREFIX: Final = keys.template_prefix(keys.LEADERBOARD)


class Status(Enum):
    AGREE = 0
    DRIFT = 1
    STORE_BEHIND = 3

    @property
    def exit_code(self) -> int:
        return self.value


@dataclass(frozen=True, slots=True)
class Difference:
    """One disagreement. ``field`` is None for a whole key; ``expected`` or
    ``found`` is None when that side has nothing."""

    key: str
    field: str | None
    expected: str | None
    found: str | None
    # What the expectation comes from when it is not the event log.
    source: str | None = None

    def __str__(self) -> str:
        where = self.key if self.field is None else f"{self.key} {self.field}"
        if self.source is not None:
            return (
                f"{where}: the {self.source} gives {_or_nothing(self.expected)}, "
                f"the event log gives {_or_nothing(self.found)}"
            )
        if self.field is None and self.found is None:
            return f"{where}: missing (expected {self.expected})"
        if self.field is None and self.expected is None:
            return f"{where}: unexpected key (found {self.found})"
        return f"{where}: expected {_or_nothing(self.expected)}, found {_or_nothing(self.found)}"


def _or_nothing(value: str | None) -> str:
    return "nothing" if value is None else value


@dataclass(slots=True)
class ReconcileReport:
    status: Status
    offsets: dict[int, int] = field(default_factory=dict)
    store_offsets: dict[int, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    # Records the store still has to store before the comparison can be made.
    store_behind_by: int = 0
    keys_compared: int = 0
    totals: ReplayTotals | None = None
    built: bool = True
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return self.status.exit_code

    def lines(self, max_diffs: int | None = None) -> list[str]:
        positions = ", ".join(f"{p}:{o}" for p, o in sorted(self.offsets.items())) or "none"
        out = [f"read model offsets (partition:offset): {positions}"]
        if not self.built:
            out.append("the read model has no build marker: run `complaintops rebuild`")
        if self.status is Status.STORE_BEHIND:
            out.append(
                f"the store is behind the metrics by {self.store_behind_by} events; "
                "cannot compare yet"
            )
            return out
        if self.totals is not None:
            out.append(
                f"compared {self.keys_compared} keys from {self.totals.applied} events "
                f"of {self.totals.cases} cases in {self.seconds:.2f} s"
            )
        shown = self.differences if max_diffs is None else self.differences[:max_diffs]
        out.extend(str(d) for d in shown)
        hidden = len(self.differences) - len(shown)
        if hidden > 0:
            out.append(f"… and {hidden} more differences")
        if self.status is Status.AGREE:
            out.append("no drift: Redis agrees with the SQL store")
        else:
            out.append(f"drift: {len(self.differences)} differences")
        return out


# -- comparing snapshots -----------------------------------------------------------


def _show(value: Value) -> str:
    if isinstance(value, Hash):
        return f"a hash of {len(value)} fields"
    if isinstance(value, ZSet):
        return f"a sorted set of {len(value)} members"
    if isinstance(value, OtherType):
        return f"a {value.kind}"
    return _show_bytes(value)


def _show_bytes(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return repr(value)


def _show_score(score: float | None) -> str | None:
    if score is None:
        return None
    return str(int(score)) if score.is_integer() and abs(score) < 1e15 else repr(score)


def _hash_fields(key: str, expected: Hash, found: Hash) -> Iterable[Difference]:
    for name in sorted(expected.keys() | found.keys()):
        want, have = expected.get(name), found.get(name)
        if want != have:
            yield Difference(key, name, want, have)


def _zset_members(key: str, expected: ZSet, found: ZSet) -> Iterable[Difference]:
    for name in sorted(expected.keys() | found.keys()):
        want, have = expected.get(name), found.get(name)
        if want != have:
            yield Difference(key, name, _show_score(want), _show_score(have))


def compare(expected: Snapshot, actual: Snapshot) -> list[Difference]:
    """Every difference between two snapshots' data, in key order."""
    out: list[Difference] = []
    for key in sorted(expected.data.keys() | actual.data.keys()):
        want, have = expected.data.get(key), actual.data.get(key)
        if want == have and type(want) is type(have):
            continue
        if have is None:
            assert want is not None
            out.append(Difference(key, None, _show(want), None))
        elif want is None:
            out.append(Difference(key, None, None, _show(have)))
        elif isinstance(want, Hash) and isinstance(have, Hash):
            out.extend(_hash_fields(key, want, have))
        elif isinstance(want, ZSet) and isinstance(have, ZSet):
            out.extend(_zset_members(key, want, have))
        elif isinstance(want, bytes) and isinstance(have, bytes):
            out.append(Difference(key, None, _show_bytes(want), _show_bytes(have)))
        else:
            out.append(Difference(key, "type", _show(want), _show(have)))
    return out


# -- the points ledger -------------------------------------------------------------


def _is_board(key: str, value: Value) -> bool:
    """A leaderboard (sorted set) or a period's handler -> team hash or its stamps."""
    return key.startswith(_LEADERBOARD_PREFIX) and isinstance(value, ZSet | Hash)


def ledger_leaderboards(engine: Engine, *, topic: str, tz: ZoneInfo, up_to: Positions) -> Snapshot:
    """The leaderboards that the points ledger of the records at or below
    ``up_to`` adds up to (only the ``co:{m}:lb:*`` sorted sets and the
    handler -> team hashes with their stamps)."""
    builder = SnapshotBuilder()
    delta = MetricsDelta()
    pending = 0
    with read_transaction(engine) as connection:
        for rule, event_id, case_id, handler_id, team_id, points, at in iter_ledger(
            connection, topic, up_to
        ):
            delta.add_award(Award(rule, points, event_id, case_id, handler_id, team_id, at), tz)
            pending += 1
            if pending >= LEDGER_CHUNK:
                builder.add(delta)
                delta, pending = MetricsDelta(), 0
    builder.add(delta)
    snapshot = builder.build(now=0.0)
    snapshot.data = {key: value for key, value in snapshot.data.items() if _is_board(key, value)}
    return snapshot


def compare_points(ledger: Snapshot, replayed: Snapshot) -> list[Difference]:
    """Differences between the ledger's leaderboards and the replay's."""
    boards = Snapshot(
        data={key: value for key, value in replayed.data.items() if _is_board(key, value)}
    )
    return [
        Difference(d.key, d.field, d.expected, d.found, source=LEDGER)
        for d in compare(ledger, boards)
    ]


# -- the whole check ---------------------------------------------------------------


def _behind_by(target: Positions, stored: Positions) -> int:
    return sum(max(0, offset - stored.get(p, -1)) for p, offset in target.items())


def wait_for_store(
    engine: Engine,
    *,
    store_group: str,
    topic: str,
    target: Positions,
    wait_seconds: float,
    poll_seconds: float,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[int, int]:
    """Poll the store's offsets until they reach ``target`` or time runs out;
    return the last ones read."""
    deadline = monotonic() + wait_seconds
    while True:
        with read_transaction(engine) as connection:
            stored = store_offsets(connection, store_group, topic)
        if _behind_by(target, stored) == 0 or monotonic() >= deadline:
            return stored
        sleep(poll_seconds)


def reconcile(
    redis_client: redis.Redis,
    engine: Engine,
    *,
    group: str,
    topic: str,
    tz: ZoneInfo,
    rules: RuleSource = DEFAULT_RULES,
    store_group: str = STORE_GROUP,
    now: float | None = None,
    wait_seconds: float = WAIT_SECONDS,
    poll_seconds: float = POLL_SECONDS,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReconcileReport:
    """Compare the read model of ``group`` with the store (see the module doc)."""
    started = time.perf_counter()
    at = time.time() if now is None else now
    built = bool(redis_client.exists(keys.META))
    actual = read_snapshot(redis_client, now=at)
    offsets = actual.offsets_of(group, topic)
    stored = wait_for_store(
        engine,
        store_group=store_group,
        topic=topic,
        target=offsets,
        wait_seconds=wait_seconds,
        poll_seconds=poll_seconds,
        monotonic=monotonic,
        sleep=sleep,
    )
    report = ReconcileReport(Status.AGREE, offsets=offsets, store_offsets=stored, built=built)
    behind = _behind_by(offsets, stored)
    if behind:
        report.status = Status.STORE_BEHIND
        report.store_behind_by = behind
        return report
    expected, report.totals = expected_with_totals(
        engine, group=group, topic=topic, tz=tz, rules=rules, now=at, up_to=offsets
    )
    report.keys_compared = len(expected.data.keys() | actual.data.keys())
    report.differences = compare(expected, actual)
    ledger = ledger_leaderboards(engine, topic=topic, tz=tz, up_to=offsets)
    report.differences.extend(compare_points(ledger, expected))
    if report.differences:
        report.status = Status.DRIFT
    report.seconds = time.perf_counter() - started
    return report
