"""Reading the SQL system of record for the rebuild and the reconciliation.

Everything here runs on a connection opened by ``read_transaction``: one
snapshot of the database, so the stored offsets, the event log, the rejected
records and the points ledger all describe the same moment.

A *position* limit ``up_to`` maps each partition of the topic to the last
offset included; partitions it does not name are left out entirely.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, Engine, and_, false, func, or_, select

from store.db import is_postgres
from store.models import (
    REJECTED_DUPLICATE,
    REJECTED_INVALID,
    CaseEventRow,
    ConsumerOffset,
    PointsEntry,
    RejectedEvent,
)
from store.types import to_epoch

FETCH_ROWS: Final = 10_000
"""Rows fetched per round trip while streaming (a server-side cursor on PostgreSQL)."""

Positions = Mapping[int, int]
LoggedEvent = tuple[str, str]
"""(case_id, payload JSON text) of one logged event."""
LedgerLine = tuple[str, str, str, str, str, float, float]
"""(rule, event_id, case_id, handler_id, team_id, points, occurred_at epoch) of a ledger row."""


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one read-only snapshot of the database.

    PostgreSQL: a REPEATABLE READ, READ ONLY transaction. SQLite: one read
    transaction (the store's engine emits BEGIN itself; in WAL mode the
    snapshot is taken at the first read and writers are not blocked).
    """
    with engine.connect() as connection:
        if is_postgres(connection):
            connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with connection.begin():
            yield connection


def store_offsets(connection: Connection, group: str, topic: str) -> dict[int, int]:
    """partition -> last offset stored by a consumer group for ``topic``."""
    query = select(ConsumerOffset.partition, ConsumerOffset.offset).where(
        ConsumerOffset.group == group,
        ConsumerOffset.topic == topic,
        ConsumerOffset.offset >= 0,
    )
    return {partition: offset for partition, offset in connection.execute(query)}


def within(model: Any, topic: str, up_to: Positions) -> ColumnElement[bool]:
    """The rows of ``model`` (with topic, partition, offset columns) at or below ``up_to``."""
    if not up_to:
        return false()
    limits = [
        and_(model.partition == partition, model.offset <= offset)
        for partition, offset in sorted(up_to.items())
    ]
    return and_(model.topic == topic, or_(*limits))


def iter_logged_events(
    connection: Connection, topic: str, up_to: Positions, fetch_rows: int = FETCH_ROWS
) -> Iterator[LoggedEvent]:
    """Every applied event at or below ``up_to``, ordered by (case_id, seq)."""
    query = (
        select(CaseEventRow.case_id, CaseEventRow.payload)
        .where(within(CaseEventRow, topic, up_to))
        .order_by(CaseEventRow.case_id, CaseEventRow.seq)
    )
    result = connection.execute(query, execution_options={"yield_per": fetch_rows})
    yield from result


def rejected_counts(connection: Connection, topic: str, up_to: Positions) -> dict[str, int]:
    """duplicates and invalid: rejected records at or below ``up_to``."""
    query = (
        select(RejectedEvent.kind, func.count())
        .where(within(RejectedEvent, topic, up_to))
        .group_by(RejectedEvent.kind)
    )
    by_kind: dict[str, int] = {kind: count for kind, count in connection.execute(query)}
    return {
        "duplicates": by_kind.get(REJECTED_DUPLICATE, 0),
        "invalid": by_kind.get(REJECTED_INVALID, 0),
    }


def invalid_records_between(
    connection: Connection, topic: str, after: Positions, up_to: Positions
) -> list[tuple[int, int, bytes | None, str | None]]:
    """(partition, offset, raw value, reason) of the invalid records above
    ``after`` (a partition missing there: from its start) and at or below
    ``up_to``, ordered by partition and offset."""
    limits = [
        and_(
            RejectedEvent.partition == partition,
            RejectedEvent.offset > after.get(partition, -1),
            RejectedEvent.offset <= offset,
        )
        for partition, offset in sorted(up_to.items())
    ]
    if not limits:
        return []
    query = (
        select(
            RejectedEvent.partition, RejectedEvent.offset, RejectedEvent.raw, RejectedEvent.reason
        )
        .where(RejectedEvent.topic == topic, RejectedEvent.kind == REJECTED_INVALID, or_(*limits))
        .order_by(RejectedEvent.partition, RejectedEvent.offset)
    )
    return [(p, o, raw, reason) for p, o, raw, reason in connection.execute(query)]


def iter_ledger(
    connection: Connection, topic: str, up_to: Positions, fetch_rows: int = FETCH_ROWS
) -> Iterator[LedgerLine]:
    """The points ledger rows of the events at or below ``up_to``."""
    query = (
        select(
            PointsEntry.rule,
            PointsEntry.event_id,
            PointsEntry.case_id,
            PointsEntry.handler_id,
            PointsEntry.team_id,
            PointsEntry.points,
            PointsEntry.occurred_at,
        )
        .join(CaseEventRow, CaseEventRow.event_id == PointsEntry.event_id)
        .where(within(CaseEventRow, topic, up_to))
    )
    result = connection.execute(query, execution_options={"yield_per": fetch_rows})
    for rule, event_id, case_id, handler_id, team_id, points, occurred_at in result:
        yield rule, event_id, case_id, handler_id, team_id, float(points), to_epoch(occurred_at)
