"""Rebuilding the Redis read model from the SQL event log.

The build marker goes first, so the live metrics consumer stops writing (its
batches raise SinkNotReady until the marker is back); then every key of the
read model and every stored offset is removed (other keys, such as the
consumers' heartbeats, stay), the event log is replayed case by case through the same core
as the consumers, and the writes are sent in large pipelines. The metrics
group's stored offsets become the store group's, read in the same database
snapshot as the log: the consumer resumes right after the last logged record.

``replay_store`` is also what the reconciliation uses to compute what Redis
should hold, so both sides of the comparison come from one piece of code.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
import redis
from sqlalchemy import Connection, Engine

from events.batch import RawRecord, RecordResult
from events.decode import validate
from events.errors import InvalidEvent
from events.machine import Outcome, apply
from events.scoring import DEFAULT_RULES, RuleSource
from events.state import CaseState
from metrics import keys
from metrics.delta import MetricsDelta
from metrics.sink import outbox_entry
from metrics.source import (
    FETCH_ROWS,
    LoggedEvent,
    Positions,
    invalid_records_between,
    iter_logged_events,
    read_transaction,
    rejected_counts,
    store_offsets,
)
from metrics.writer import write_delta, write_teams
from store.sink import STORE_GROUP

log = logging.getLogger(__name__)

CASES_PER_WRITE: Final = 5000
UNLINK_BATCH: Final = 1000
SCAN_COUNT: Final = 5000


READ_MODEL_KEYS: Final = keys.READ_MODEL_KEYS
READ_MODEL_PREFIXES: Final = keys.READ_MODEL_PREFIXES
OFFSETS_PREFIX: Final = keys.template_prefix(keys.OFFSET)
is_read_model_key = keys.is_read_model_key


# add_flows reads the transition only; logged events have no record here.
_LOGGED = RawRecord(topic="", partition=-1, offset=-1, value=None)

DeltaSink = Callable[[MetricsDelta], None]


@dataclass(slots=True)
class ReplayTotals:
    """What a replay of the event log counted."""

    cases: int = 0
    applied: int = 0
    gaps: int = 0
    duplicates: int = 0
    invalid: int = 0
    # Logged events the core no longer applies (the log and the rules disagree).
    not_applied: int = 0


def replay_log(
    events: Iterable[LoggedEvent],
    tz: ZoneInfo,
    rules: RuleSource,
    now: float,
    emit: DeltaSink,
    cases_per_delta: int = CASES_PER_WRITE,
) -> ReplayTotals:
    """Replay logged events ordered by (case_id, seq), each case from no state.

    ``emit`` receives a MetricsDelta every ``cases_per_delta`` cases and one
    for the rest: memory holds one case's state and one delta at a time.
    Event counters are not added here (see ``replay_store``).
    """
    totals = ReplayTotals()
    delta = MetricsDelta()
    cases_in_delta = 0
    case_id: str | None = None
    state: CaseState | None = None
    for event_case_id, payload in events:
        if event_case_id != case_id:
            if case_id is not None:
                delta.move_case(case_id, None, state, tz)
                totals.cases += 1
                cases_in_delta += 1
                if cases_in_delta >= cases_per_delta:
                    emit(delta)
                    delta = MetricsDelta()
                    cases_in_delta = 0
            case_id, state = event_case_id, None
        try:
            event = validate(orjson.loads(payload))
        except (InvalidEvent, orjson.JSONDecodeError):
            totals.not_applied += 1
            continue
        transition = apply(state, event, tz, rules.rules_at(event.occurred_at))
        if transition.outcome is not Outcome.APPLIED:
            totals.not_applied += 1
            continue
        totals.applied += 1
        if transition.gap > 0:
            totals.gaps += 1
        delta.add_flows(RecordResult(_LOGGED, Outcome.APPLIED, event, transition, state), tz, now)
        state = transition.state
    if case_id is not None:
        delta.move_case(case_id, None, state, tz)
        totals.cases += 1
    emit(delta)
    return totals


def replay_store(
    connection: Connection,
    *,
    topic: str,
    up_to: Positions,
    tz: ZoneInfo,
    rules: RuleSource,
    now: float,
    emit: DeltaSink,
    cases_per_delta: int = CASES_PER_WRITE,
    fetch_rows: int = FETCH_ROWS,
) -> ReplayTotals:
    """Replay the records at or below ``up_to`` as the metrics sink saw them:
    the logged events, then the event counters (applied, duplicates, invalid,
    gaps) as one last delta."""
    events = iter_logged_events(connection, topic, up_to, fetch_rows)
    totals = replay_log(events, tz, rules, now, emit, cases_per_delta)
    rejected = rejected_counts(connection, topic, up_to)
    totals.duplicates = rejected["duplicates"]
    totals.invalid = rejected["invalid"]
    counters = MetricsDelta()
    counters.count_events(totals.applied, totals.duplicates, totals.invalid, totals.gaps)
    emit(counters)
    if totals.not_applied:
        log.warning(
            "%d logged events are not applied by the current rules; they were left out",
            totals.not_applied,
        )
    return totals


# -- Redis ---------------------------------------------------------------------


def clear_read_model(client: redis.Redis) -> int:
    """Remove the build marker, then every key of the read model and every
    stored offset; return how many keys were removed."""
    removed = int(client.delete(keys.META))
    batch: list[bytes] = []
    for name in client.scan_iter(match=keys.MODEL_PATTERN, count=SCAN_COUNT):
        text = name.decode() if isinstance(name, bytes) else str(name)
        if not (is_read_model_key(text) or text.startswith(OFFSETS_PREFIX)):
            continue
        batch.append(name)
        if len(batch) >= UNLINK_BATCH:
            removed += int(client.unlink(*batch))
            batch.clear()
    if batch:
        removed += int(client.unlink(*batch))
    return removed


class _EmptyModelWriter:
    """Writes the replay's deltas into a read model that was just emptied.

    A delta's live contributions (states, indexes, the paused hash) go out
    with each chunk of cases. Counters (hash increments, points) are summed
    here over the whole replay, bounded by the number of distinct fields,
    not of events, and written once as plain values at the end: into empty
    keys that is what the increments would have made, in far fewer commands.
    So are the handlers' latest teams per period (handlers × periods): the
    latest award of the whole replay, whichever chunk its case fell in.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._hincr: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._zincr: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._expire_at: dict[str, int] = {}
        self._teams = MetricsDelta()

    def add(self, delta: MetricsDelta) -> None:
        for (key, name), amount in delta.hincr.items():
            self._hincr[key][name] += amount
        for (key, member), points in delta.zincr.items():
            self._zincr[key][member] += points
        for key, when in delta.expire_at.items():
            self._expire_at[key] = max(when, self._expire_at.get(key, when))
        self._teams.merge_teams(delta)
        live = MetricsDelta(
            zrem=delta.zrem, zadd=delta.zadd, hset=delta.hset, hdel=delta.hdel, states=delta.states
        )
        with self._client.pipeline(transaction=False) as pipe:
            write_delta(pipe, live)
            pipe.execute()

    def finish(self) -> None:
        with self._client.pipeline(transaction=False) as pipe:
            for key, fields in self._hincr.items():
                mapping: dict[Any, int] = {n: amount for n, amount in fields.items() if amount}
                if mapping:
                    pipe.hset(key, mapping=mapping)
            for key, scores in self._zincr.items():
                pipe.zadd(key, dict(scores))
            write_teams(pipe, self._teams.teams)
            for key, when in self._expire_at.items():
                pipe.expireat(key, when)
            pipe.execute()


@dataclass(slots=True)
class RebuildReport:
    """What a rebuild did and how long each part took (seconds)."""

    totals: ReplayTotals
    offsets: dict[int, int] = field(default_factory=dict)
    removed_keys: int = 0
    # Invalid records put back into the dead-letter outbox (None: not asked).
    dead_letters_queued: int | None = None
    built_at: float = 0.0
    clear_seconds: float = 0.0
    replay_seconds: float = 0.0
    total_seconds: float = 0.0

    def lines(self) -> list[str]:
        t = self.totals
        positions = ", ".join(f"{p}:{o}" for p, o in sorted(self.offsets.items())) or "none"
        out = [
            f"removed {self.removed_keys} keys of the read model in {self.clear_seconds:.2f} s",
            f"replayed {t.applied} events of {t.cases} cases in {self.replay_seconds:.2f} s",
            f"event counters: applied {t.applied}, duplicates {t.duplicates}, "
            f"invalid {t.invalid}, gaps {t.gaps}",
            f"metrics offsets set to the store's (partition:offset): {positions}",
            f"read model rebuilt in {self.total_seconds:.2f} s",
        ]
        if self.dead_letters_queued is not None:
            out.insert(
                -1,
                f"dead letters queued for the invalid records the metrics group had not "
                f"committed: {self.dead_letters_queued}",
            )
        if t.not_applied:
            out.insert(2, f"warning: {t.not_applied} logged events were not applied by the rules")
        return out


def rebuild(
    redis_client: redis.Redis,
    engine: Engine,
    *,
    group: str,
    topic: str,
    tz: ZoneInfo,
    rules: RuleSource = DEFAULT_RULES,
    now: float | None = None,
    chunk: int = CASES_PER_WRITE,
    store_group: str = STORE_GROUP,
    fetch_rows: int = FETCH_ROWS,
    committed: dict[int, int] | None = None,
) -> RebuildReport:
    """Rebuild the read model of consumer group ``group`` from the SQL store.

    ``chunk`` is the number of cases whose writes go in one pipeline. When the
    rebuild fails part way, the build marker stays absent and the live
    consumer keeps waiting: run it again.

    ``committed``: the group's committed Kafka offsets (next offset to read per
    partition). The group resumes after the store's positions, so the invalid
    records between the two would never be dead-lettered: they go into the
    group's dead-letter outbox, which the consumer publishes first. The group
    commits only after publishing, so nothing is missed; a record may go out
    twice (at least once).
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    started = time.perf_counter()
    at = time.time() if now is None else now
    report = RebuildReport(totals=ReplayTotals(), built_at=at)
    redis_client.set(keys.REBUILDING, str(at), ex=keys.REBUILD_LEASE_SECONDS)
    try:
        return _rebuild(
            redis_client,
            engine,
            report,
            group,
            topic,
            tz,
            rules,
            at,
            chunk,
            store_group,
            fetch_rows,
            started,
            committed,
        )
    finally:
        redis_client.delete(keys.REBUILDING)


def _rebuild(
    redis_client: redis.Redis,
    engine: Engine,
    report: RebuildReport,
    group: str,
    topic: str,
    tz: ZoneInfo,
    rules: RuleSource,
    at: float,
    chunk: int,
    store_group: str,
    fetch_rows: int,
    started: float,
    committed: dict[int, int] | None,
) -> RebuildReport:
    report.removed_keys = clear_read_model(redis_client)
    cleared = time.perf_counter()
    report.clear_seconds = cleared - started
    writer = _EmptyModelWriter(redis_client)
    with read_transaction(engine) as connection:
        report.offsets = store_offsets(connection, store_group, topic)
        report.totals = replay_store(
            connection,
            topic=topic,
            up_to=report.offsets,
            tz=tz,
            rules=rules,
            now=at,
            emit=writer.add,
            cases_per_delta=chunk,
            fetch_rows=fetch_rows,
        )
        unpublished = (
            invalid_records_between(
                connection,
                topic,
                after={p: o - 1 for p, o in committed.items()},
                up_to=report.offsets,
            )
            if committed is not None
            else []
        )
    writer.finish()
    report.replay_seconds = time.perf_counter() - cleared
    with redis_client.pipeline(transaction=True) as pipe:
        if committed is not None:
            report.dead_letters_queued = len(unpublished)
            entries = [
                outbox_entry(RawRecord(topic, partition, offset, raw), reason or "invalid")
                for partition, offset, raw, reason in unpublished
            ]
            by_partition: dict[int, list[bytes]] = defaultdict(list)
            for (partition, _, _, _), entry in zip(unpublished, entries, strict=True):
                by_partition[partition].append(entry)
            for partition, queued in sorted(by_partition.items()):
                outbox = keys.dead_letter_outbox(group, partition)
                for first in range(0, len(queued), 5000):
                    pipe.rpush(outbox, *queued[first : first + 5000])
        for partition, offset in report.offsets.items():
            pipe.set(keys.offset(group, topic, partition), offset)
        pipe.hset(
            keys.META,
            mapping={"built_at": str(at), "source": "rebuild", "events": report.totals.applied},
        )
        pipe.execute()
    report.total_seconds = time.perf_counter() - started
    return report
