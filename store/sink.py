"""The SQL sink: stores each batch's events, cases, rejected records, points
and offsets in one transaction (consumer group ``complaintops-store``).

The write path uses SQLAlchemy Core bulk statements (executemany), never
ORM objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

import orjson
import psycopg
from sqlalchemy import Connection, Engine, insert, select, text, tuple_
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from consumers.sink import BatchSummary, SinkNotReady, SinkUnavailable, split_stored
from events import contract as c
from events.batch import Decoded, RawRecord, RecordResult, case_ids, decode_all, run_batch
from events.clock import deadline
from events.machine import Outcome
from events.scoring import DEFAULT_RULES, Award, RuleSource
from events.state import CaseState
from store.db import WRITE_OPTIONS, is_postgres
from store.models import (
    ID_LENGTH,
    REJECTED_DUPLICATE,
    REJECTED_INVALID,
    Case,
    CaseEventRow,
    ConsumerOffset,
    PointsEntry,
    RejectedEvent,
)
from store.types import from_epoch, from_epoch_or_none, utc_now

log = logging.getLogger(__name__)

STORE_GROUP: Final = "complaintops-store"
REUSED_EVENT_ID: Final = "event_id already in the log"
NO_OFFSET: Final = -1
# Rows per SELECT ... IN (...): well under SQLite's and PostgreSQL's bind limits.
LOOKUP_CHUNK: Final = 2000

Partition = tuple[str, int]

# Columns of ``cases`` that only events (not the CaseState) can tell.
_EVENT_DERIVED: Final = (
    "received_at",
    "gender",
    "age_band",
    "occupation",
    "repeat_complainant",
    "outcome",
    "first_satisfaction",
    "resolution",
    "escalated_to",
)


@dataclass(frozen=True, slots=True)
class _Settings:
    group: str
    tz: ZoneInfo
    rules: RuleSource


class SqlSink:
    """``consumers.sink.Sink`` over a SQLite or PostgreSQL database."""

    name = "store"

    def __init__(
        self,
        engine: Engine,
        group: str,
        tz: ZoneInfo,
        rules: RuleSource = DEFAULT_RULES,
        *,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**WRITE_OPTIONS)
        self._settings = _Settings(group, tz, rules)
        self._now = now

    @property
    def group(self) -> str:
        return self._settings.group

    # -- Sink --------------------------------------------------------------

    def stored_offsets(self, topic: str) -> dict[int, int]:
        query = select(ConsumerOffset.partition, ConsumerOffset.offset).where(
            ConsumerOffset.group == self._settings.group,
            ConsumerOffset.topic == topic,
            ConsumerOffset.offset > NO_OFFSET,
        )
        with _translated_errors(), self._engine.connect() as connection:
            return {partition: offset for partition, offset in connection.execute(query)}

    def apply(self, records: Sequence[RawRecord]) -> BatchSummary:
        if not records:
            return BatchSummary()
        with _translated_errors():
            self._settings.rules.refresh()
        with _translated_errors(), self._writer.begin() as connection:
            return _BatchWriter(self._settings, connection, self._now()).write(records)

    def ping(self) -> bool:
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (sa_exc.SQLAlchemyError, psycopg.Error, OSError):
            return False
        return True

    def close(self) -> None:
        self._engine.dispose()


# -- one batch ---------------------------------------------------------------


@dataclass(slots=True)
class _Outcomes:
    """The results of a batch in record order, and the case states after it."""

    results: list[RecordResult] = field(default_factory=list)
    states: dict[str, CaseState | None] = field(default_factory=dict)


class _BatchWriter:
    """Applies one batch inside an open transaction."""

    def __init__(self, settings: _Settings, connection: Connection, now: datetime) -> None:
        self._settings = settings
        self._conn = connection
        self._now = now

    def write(self, records: Sequence[RawRecord]) -> BatchSummary:
        unique, repeated = _unique_positions(records)
        stored = self._lock_offsets({(r.topic, r.partition) for r in unique})
        fresh, skipped = split_stored(unique, stored)
        summary = BatchSummary(skipped=skipped + repeated)
        decoded = decode_all(fresh)
        touched = case_ids(decoded)
        rows = self._load_cases(touched)
        initial = {cid: _state_of(rows.get(cid)) for cid in touched}
        logged = self._logged_event_ids(decoded)
        outcomes = self._run(decoded, initial, logged)
        self._store(outcomes, initial, rows)
        new_offsets = self._store_offsets(fresh)
        _summarise(summary, outcomes.results, stored, new_offsets, records)
        return summary

    # -- reads -------------------------------------------------------------

    def _lock_offsets(self, partitions: set[Partition]) -> dict[str, dict[int, int]]:
        """The stored offsets of the batch's partitions; on PostgreSQL their rows
        stay locked until commit, so two consumers cannot both apply them."""
        group = self._settings.group
        ordered = sorted(partitions)
        if is_postgres(self._conn):
            placeholders = [
                {
                    "group": group,
                    "topic": topic,
                    "partition": partition,
                    "offset": NO_OFFSET,
                    "updated_at": self._now,
                }
                for topic, partition in ordered
            ]
            self._conn.execute(
                postgres_insert(ConsumerOffset).on_conflict_do_nothing(), placeholders
            )
        query = (
            select(ConsumerOffset.topic, ConsumerOffset.partition, ConsumerOffset.offset)
            .where(
                ConsumerOffset.group == group,
                tuple_(ConsumerOffset.topic, ConsumerOffset.partition).in_(ordered),
            )
            .order_by(ConsumerOffset.topic, ConsumerOffset.partition)
        )
        if is_postgres(self._conn):
            query = query.with_for_update()
        stored: dict[str, dict[int, int]] = {}
        for topic, partition, offset in self._conn.execute(query):
            if offset > NO_OFFSET:
                stored.setdefault(topic, {})[partition] = offset
        return stored

    def _load_cases(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored state and event-derived columns of the batch's cases."""
        columns = [Case.case_id, Case.state, *(getattr(Case, name) for name in _EVENT_DERIVED)]
        rows: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            for row in self._conn.execute(select(*columns).where(Case.case_id.in_(chunk))):
                rows[row.case_id] = dict(row._mapping)
        return rows

    def _logged_event_ids(self, decoded: Sequence[Decoded]) -> dict[str, tuple[str, int]]:
        """event_id → (case_id, seq) of the batch's event ids already in the log."""
        ids = list(dict.fromkeys(_text(e.event_id) for _, e, _ in decoded if e is not None))
        logged: dict[str, tuple[str, int]] = {}
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            query = select(CaseEventRow.event_id, CaseEventRow.case_id, CaseEventRow.seq).where(
                CaseEventRow.event_id.in_(chunk)
            )
            for event_id, case_id, seq in self._conn.execute(query):
                logged[event_id] = (case_id, seq)
        return logged

    # -- the core ------------------------------------------------------------

    def _run(
        self,
        decoded: Sequence[Decoded],
        initial: dict[str, CaseState | None],
        logged: dict[str, tuple[str, int]],
    ) -> _Outcomes:
        """Run the batch through the core; an event whose event_id is already
        taken by another event (in the log or earlier in the batch) is not
        applied. Runs of records without such repeats go through ``run_batch``
        whole."""
        out = _Outcomes(states=dict(initial))
        segment: list[Decoded] = []
        segment_ids: set[str] = set()

        def flush() -> None:
            if not segment:
                return
            batch = run_batch(segment, out.states, self._settings.tz, self._settings.rules)
            out.states = batch.states
            for result in batch.results:
                if result.outcome is Outcome.APPLIED and result.event is not None:
                    stored_id = _text(result.event.event_id)
                    logged[stored_id] = (result.event.case_id, result.event.seq)
            out.results.extend(batch.results)
            segment.clear()
            segment_ids.clear()

        for item in decoded:
            event = item[1]
            if event is not None:
                stored_id = _text(event.event_id)
                if stored_id in segment_ids:
                    flush()
                taken = logged.get(stored_id)
                if taken is not None and taken != (event.case_id, event.seq):
                    flush()
                    out.results.append(
                        RecordResult(item[0], Outcome.DUPLICATE, event, reason=REUSED_EVENT_ID)
                    )
                    continue
                segment_ids.add(stored_id)
            segment.append(item)
        flush()
        return out

    # -- writes --------------------------------------------------------------

    def _store(
        self,
        outcomes: _Outcomes,
        initial: dict[str, CaseState | None],
        rows: dict[str, dict[str, Any]],
    ) -> None:
        applied = [r for r in outcomes.results if r.outcome is Outcome.APPLIED]
        event_rows = [self._event_row(r) for r in applied]
        if event_rows:
            self._conn.execute(insert(CaseEventRow), event_rows)
        points = [self._points_row(award) for r in applied for award in _awards(r)]
        if points:
            self._conn.execute(insert(PointsEntry), points)
        rejected = [
            self._rejected_row(r) for r in outcomes.results if r.outcome is not Outcome.APPLIED
        ]
        if rejected:
            self._conn.execute(insert(RejectedEvent), rejected)
        changed = [cid for cid, st in outcomes.states.items() if st is not initial.get(cid)]
        if changed:
            by_case: dict[str, list[RecordResult]] = {}
            for result in applied:
                assert result.event is not None
                by_case.setdefault(result.event.case_id, []).append(result)
            case_rows = []
            for cid in changed:
                state = outcomes.states[cid]
                assert state is not None
                case_rows.append(self._case_row(state, rows.get(cid), by_case.get(cid, [])))
            self._upsert(Case, ["case_id"], case_rows)

    def _store_offsets(self, fresh: Sequence[RawRecord]) -> dict[Partition, int]:
        new: dict[Partition, int] = {}
        for record in fresh:
            key = (record.topic, record.partition)
            new[key] = max(new.get(key, NO_OFFSET), record.offset)
        if new:
            rows = [
                {
                    "group": self._settings.group,
                    "topic": topic,
                    "partition": partition,
                    "offset": offset,
                    "updated_at": self._now,
                }
                for (topic, partition), offset in sorted(new.items())
            ]
            self._upsert(ConsumerOffset, ["group", "topic", "partition"], rows)
        return new

    def _upsert(self, model: type[Any], keys: list[str], rows: list[dict[str, Any]]) -> None:
        insert: Callable[[Any], Insert] = (
            postgres_insert if is_postgres(self._conn) else sqlite_insert
        )
        statement: Any = insert(model)
        updates = {name: statement.excluded[name] for name in rows[0] if name not in keys}
        self._conn.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)

    # -- rows ------------------------------------------------------------------

    def _event_row(self, result: RecordResult) -> dict[str, Any]:
        event, record, transition = result.event, result.record, result.transition
        assert event is not None and transition is not None and record.value is not None
        return {
            "event_id": _text(event.event_id),
            "case_id": event.case_id,
            "seq": event.seq,
            "type": event.type,
            "occurred_at": from_epoch(event.occurred_at),
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "gap": transition.gap,
            "payload": record.value.decode("utf-8"),
            "stored_at": self._now,
        }

    def _points_row(self, award: Award) -> dict[str, Any]:
        return {
            "event_id": _text(award.event_id),
            "rule": award.rule,
            "case_id": award.case_id,
            "handler_id": _text(award.handler_id),
            "team_id": _text(award.team_id),
            "points": award.points,
            "occurred_at": from_epoch(award.occurred_at),
            "ruleset": self._settings.rules.ruleset_at(award.occurred_at),
        }

    def _rejected_row(self, result: RecordResult) -> dict[str, Any]:
        record, event = result.record, result.event
        case_id: str | None
        event_id: str | None
        if event is not None:
            case_id, event_id = event.case_id, _text(event.event_id)
        else:
            case_id, event_id = _guess_ids(record.value)
        invalid = result.outcome is Outcome.INVALID
        return {
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "kind": REJECTED_INVALID if invalid else REJECTED_DUPLICATE,
            "reason": _text_or_none(result.reason),
            "case_id": case_id,
            "event_id": event_id,
            "raw": record.value,
            "stored_at": self._now,
        }

    def _case_row(
        self, state: CaseState, stored: dict[str, Any] | None, applied: list[RecordResult]
    ) -> dict[str, Any]:
        derived = {name: (stored or {}).get(name) for name in _EVENT_DERIVED}
        for result in applied:
            _derive_from_event(derived, result)
        clock = state.clock
        return {
            "case_id": state.case_id,
            "status": state.status,
            "stage": state.stage,
            "team_id": _text(state.team_id),
            "handler_id": _text(state.handler_id),
            "channel": state.channel,
            "category": state.category,
            "product_line": state.product_line,
            "priority": state.priority,
            "group_size": state.group_size,
            **derived,
            "opened_at": from_epoch(state.opened_at),
            "stage_entered_at": from_epoch(state.stage_entered_at),
            "closed_at": from_epoch_or_none(state.closed_at),
            "decided_at": from_epoch_or_none(clock.decided_at),
            "decision_deadline": from_epoch_or_none(decision_deadline(state, self._settings.tz)),
            "clock_paused_since": from_epoch_or_none(clock.paused_since),
            "follow_up_due": from_epoch_or_none(state.follow_up_due),
            "follow_up_done": state.follow_up_done,
            "reopen_count": state.reopen_count,
            "rework_count": state.rework_count,
            "last_seq": state.last_seq,
            "state": state.to_json().decode("utf-8"),
            "updated_at": self._now,
        }


# -- pure helpers --------------------------------------------------------------


def decision_deadline(state: CaseState, tz: ZoneInfo) -> float | None:
    """The deadline in force: a decided clock's deadline at the decision, a
    running clock's deadline, None while paused."""
    clock = state.clock
    if clock.decided_at is not None:
        return deadline(clock, tz, clock.decided_at)
    if clock.paused_since is not None:
        return None
    return deadline(clock, tz)


def _derive_from_event(derived: dict[str, Any], result: RecordResult) -> None:
    """Fold one applied event into the columns only events can tell."""
    event, before, after = result.event, result.before, result.transition
    assert event is not None and after is not None and after.state is not None
    etype = event.type
    if etype == c.OPENED:
        start = event.received_at if event.received_at is not None else event.occurred_at
        derived["received_at"] = from_epoch(start)
        profile = event.complainant
        derived["gender"] = profile.gender if profile else None
        derived["age_band"] = profile.age_band if profile else None
        derived["occupation"] = _text_or_none(profile.occupation) if profile else None
        derived["repeat_complainant"] = profile.repeat if profile else None
    elif etype == c.DECISION_MADE:
        first_decision = before is not None and before.clock.decided_at is None
        if first_decision or event.outcome is not None:
            derived["outcome"] = event.outcome
    elif etype == c.CLOSED:
        derived["resolution"] = event.resolution
    elif etype == c.ESCALATED:
        derived["escalated_to"] = event.to
    first_satisfaction = after.state.satisfaction_given and not (
        before is not None and before.satisfaction_given
    )
    if first_satisfaction and event.satisfaction is not None:
        derived["first_satisfaction"] = event.satisfaction


def _text(value: str) -> str:
    """Text a database can store: PostgreSQL text cannot hold NUL characters,
    which the contract does not forbid in ids and free text."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _text_or_none(value: str | None) -> str | None:
    return None if value is None else _text(value)


def _awards(result: RecordResult) -> list[Award]:
    return result.transition.awards if result.transition is not None else []


def _state_of(row: dict[str, Any] | None) -> CaseState | None:
    return None if row is None else CaseState.from_json(row["state"])


def _unique_positions(records: Sequence[RawRecord]) -> tuple[list[RawRecord], int]:
    """The records without repeats of the same (topic, partition, offset)."""
    seen: set[tuple[str, int, int]] = set()
    unique: list[RawRecord] = []
    for record in records:
        position = (record.topic, record.partition, record.offset)
        if position not in seen:
            seen.add(position)
            unique.append(record)
    return unique, len(records) - len(unique)


def _guess_ids(raw: bytes | None) -> tuple[str | None, str | None]:
    """case_id and event_id of an invalid record, when it shows them plainly."""
    if raw is None:
        return None, None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(obj, dict):
        return None, None

    def plain(value: Any) -> str | None:
        usable = isinstance(value, str) and 1 <= len(value) <= ID_LENGTH
        return _text(value) if usable else None

    return plain(obj.get("case_id")), plain(obj.get("event_id"))


def _summarise(
    summary: BatchSummary,
    results: Iterable[RecordResult],
    stored: dict[str, dict[int, int]],
    new_offsets: dict[Partition, int],
    records: Sequence[RawRecord],
) -> None:
    for result in results:
        if result.outcome is Outcome.APPLIED:
            summary.applied += 1
            if result.transition is not None and result.transition.gap > 0:
                summary.gaps += 1
        elif result.outcome is Outcome.DUPLICATE:
            summary.duplicates += 1
        else:
            summary.invalid.append((result.record, result.reason or "invalid"))
    for topic, partition in {(r.topic, r.partition) for r in records}:
        last = max(
            stored.get(topic, {}).get(partition, NO_OFFSET),
            new_offsets.get((topic, partition), NO_OFFSET),
        )
        if last > NO_OFFSET:
            summary.offsets[partition] = max(summary.offsets.get(partition, NO_OFFSET), last)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- errors --------------------------------------------------------------------


@contextmanager
def _translated_errors() -> Iterator[None]:
    """Turn a lost or unreachable database into SinkUnavailable and a database
    without the schema into SinkNotReady. The transaction is rolled back by
    then: nothing is stored."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        if _is_missing_schema(exc):
            raise SinkNotReady(
                "the database has no store schema: run 'complaintops db upgrade'"
            ) from exc
        if _is_unavailable(exc):
            log.warning("database unavailable: %s", _first_line(exc))
            raise SinkUnavailable(f"database unavailable: {_first_line(exc)}") from exc
        raise
    except (sa_exc.TimeoutError, sa_exc.DisconnectionError, psycopg.OperationalError) as exc:
        log.warning("database unavailable: %s", _first_line(exc))
        raise SinkUnavailable(f"database unavailable: {_first_line(exc)}") from exc


def _is_missing_schema(exc: sa_exc.DBAPIError) -> bool:
    original = exc.orig
    if getattr(original, "sqlstate", None) == "42P01":  # undefined_table
        return True
    return "no such table" in str(original)


def _is_unavailable(exc: sa_exc.DBAPIError) -> bool:
    return (
        exc.connection_invalidated
        or isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError))
        or isinstance(exc.orig, psycopg.OperationalError)
    )


def _first_line(exc: BaseException) -> str:
    text_ = str(exc).strip()
    return text_.splitlines()[0] if text_ else type(exc).__name__
