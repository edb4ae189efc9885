"""The read side of the store, and the team directory from configuration.

Plain functions taking a Session (or an Engine for streaming reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, Engine, RowMapping, Select, and_, func, select
from sqlalchemy.orm import Session

from events.state import CaseState
from store.models import (
    REJECTED_DUPLICATE,
    REJECTED_INVALID,
    Case,
    CaseEventRow,
    ConsumerOffset,
    Handler,
    RejectedEvent,
    Team,
)

CLOCK_RUNNING: Final = "running"
CLOCK_PAUSED: Final = "paused"
CLOCK_DECIDED: Final = "decided"
CLOCK_CLOSED: Final = "closed"
CLOCK_FILTERS: Final = (CLOCK_RUNNING, CLOCK_PAUSED, CLOCK_DECIDED)
DEFAULT_PAGE_SIZE: Final = 50
EVENT_LOG_CHUNK: Final = 10_000

EventLogEntry = tuple[str, int, bytes, str, int, int]
"""(case_id, seq, payload JSON bytes, topic, partition, offset)"""


# -- cases ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    seq: int
    type: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class CaseRow:
    """A case as stored; ``timeline`` is filled by ``get_case`` only."""

    case_id: str
    status: str
    stage: str
    team_id: str
    handler_id: str
    channel: str
    category: str
    product_line: str
    priority: str
    group_size: int | None
    gender: str | None
    age_band: str | None
    occupation: str | None
    repeat_complainant: bool | None
    opened_at: datetime
    received_at: datetime
    stage_entered_at: datetime
    closed_at: datetime | None
    decided_at: datetime | None
    decision_deadline: datetime | None
    clock_paused_since: datetime | None
    follow_up_due: datetime | None
    follow_up_done: bool
    outcome: str | None
    first_satisfaction: int | None
    resolution: str | None
    escalated_to: str | None
    reopen_count: int
    rework_count: int
    last_seq: int
    updated_at: datetime
    # CaseState.to_json() as text: the authoritative state for the event core.
    state: str
    timeline: tuple[TimelineEntry, ...] = ()

    @property
    def case_state(self) -> CaseState:
        return CaseState.from_json(self.state)

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def clock_state(self) -> str:
        """running | paused | decided for an open case, closed otherwise."""
        if not self.is_open:
            return CLOCK_CLOSED
        if self.decided_at is not None:
            return CLOCK_DECIDED
        if self.clock_paused_since is not None:
            return CLOCK_PAUSED
        return CLOCK_RUNNING


_CASE_COLUMNS: Final = tuple(f.name for f in fields(CaseRow) if f.name != "timeline")


@dataclass(frozen=True, slots=True)
class CaseFilters:
    """Filters of the cases page; None means "any". ``search`` is a case_id
    prefix (case-insensitive); ``clock`` is running, paused or decided."""

    team_id: str | None = None
    handler_id: str | None = None
    stage: str | None = None
    status: str | None = None
    category: str | None = None
    channel: str | None = None
    priority: str | None = None
    clock: str | None = None
    search: str | None = None

    def __post_init__(self) -> None:
        if self.clock is not None and self.clock not in CLOCK_FILTERS:
            raise ValueError(f"clock must be one of {', '.join(CLOCK_FILTERS)}, got {self.clock!r}")


@dataclass(frozen=True, slots=True)
class CasePage:
    rows: list[CaseRow]
    total: int  # cases matching the filters, over all pages


def _case_select() -> Select[Any]:
    return select(*(getattr(Case, name) for name in _CASE_COLUMNS))


def _case_row(mapping: RowMapping, timeline: tuple[TimelineEntry, ...] = ()) -> CaseRow:
    return CaseRow(**{name: mapping[name] for name in _CASE_COLUMNS}, timeline=timeline)


def get_case(session: Session, case_id: str) -> CaseRow | None:
    """A case with its timeline (ordered by seq), or None when unknown."""
    row = session.execute(_case_select().where(Case.case_id == case_id)).mappings().first()
    if row is None:
        return None
    events = session.execute(
        select(CaseEventRow.seq, CaseEventRow.type, CaseEventRow.occurred_at)
        .where(CaseEventRow.case_id == case_id)
        .order_by(CaseEventRow.seq)
    )
    timeline = tuple(TimelineEntry(seq, etype, at) for seq, etype, at in events)
    return _case_row(row, timeline)


def _conditions(filters: CaseFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    equal = {
        Case.team_id: filters.team_id,
        Case.handler_id: filters.handler_id,
        Case.stage: filters.stage,
        Case.status: filters.status,
        Case.category: filters.category,
        Case.channel: filters.channel,
        Case.priority: filters.priority,
    }
    conditions.extend(column == value for column, value in equal.items() if value is not None)
    if filters.clock is not None:
        conditions.append(_clock_condition(filters.clock))
    if filters.search:
        conditions.append(Case.case_id.istartswith(filters.search.strip(), autoescape=True))
    return conditions


def _clock_condition(clock: str) -> ColumnElement[bool]:
    is_open = Case.status == "open"
    if clock == CLOCK_DECIDED:
        return and_(is_open, Case.decided_at.is_not(None))
    if clock == CLOCK_PAUSED:
        return and_(is_open, Case.decided_at.is_(None), Case.clock_paused_since.is_not(None))
    return and_(is_open, Case.decided_at.is_(None), Case.clock_paused_since.is_(None))


def list_cases(
    session: Session,
    filters: CaseFilters | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    offset: int = 0,
) -> CasePage:
    """One page of cases matching ``filters``, newest opened first."""
    if limit < 0 or offset < 0:
        raise ValueError("limit and offset must not be negative")
    conditions = _conditions(filters or CaseFilters())
    query = (
        _case_select()
        .where(*conditions)
        .order_by(Case.opened_at.desc(), Case.case_id)
        .limit(limit)
        .offset(offset)
    )
    rows = [_case_row(row) for row in session.execute(query).mappings()]
    total = session.execute(select(func.count()).select_from(Case).where(*conditions)).scalar_one()
    return CasePage(rows=rows, total=total)


# -- the event log ---------------------------------------------------------------


def event_counters(session: Session) -> dict[str, int]:
    """applied (events in the log), duplicates and invalid (rejected records
    by kind), gaps (logged events that skipped seq numbers)."""
    applied = session.execute(select(func.count()).select_from(CaseEventRow)).scalar_one()
    gaps = session.execute(
        select(func.count()).select_from(CaseEventRow).where(CaseEventRow.gap > 0)
    ).scalar_one()
    rejected = select(RejectedEvent.kind, func.count()).group_by(RejectedEvent.kind)
    by_kind: dict[str, int] = {kind: count for kind, count in session.execute(rejected)}
    return {
        "applied": applied,
        "duplicates": by_kind.get(REJECTED_DUPLICATE, 0),
        "invalid": by_kind.get(REJECTED_INVALID, 0),
        "gaps": gaps,
    }


def iter_event_log(engine: Engine, chunk: int = EVENT_LOG_CHUNK) -> Iterator[EventLogEntry]:
    """Every logged event ordered by (case_id, seq), streamed ``chunk`` rows at
    a time (a server-side cursor on PostgreSQL) from one consistent snapshot."""
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    query = select(
        CaseEventRow.case_id,
        CaseEventRow.seq,
        CaseEventRow.payload,
        CaseEventRow.topic,
        CaseEventRow.partition,
        CaseEventRow.offset,
    ).order_by(CaseEventRow.case_id, CaseEventRow.seq)
    with engine.connect() as connection:
        result = connection.execution_options(yield_per=chunk).execute(query)
        for case_id, seq, payload, topic, partition, offset in result:
            yield case_id, seq, payload.encode("utf-8"), topic, partition, offset


# -- consumer offsets ------------------------------------------------------------


def stored_offsets(session: Session, group: str) -> dict[str, dict[int, int]]:
    """topic → partition → last stored offset of a consumer group."""
    query = select(ConsumerOffset.topic, ConsumerOffset.partition, ConsumerOffset.offset).where(
        ConsumerOffset.group == group, ConsumerOffset.offset >= 0
    )
    offsets: dict[str, dict[int, int]] = {}
    for topic, partition, offset in session.execute(query):
        offsets.setdefault(topic, {})[partition] = offset
    return offsets


# -- the team directory ------------------------------------------------------------


def _get(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


def _team_list(teams: Any) -> list[Any]:
    nested = _get(teams, "teams") if isinstance(teams, Mapping) or hasattr(teams, "teams") else None
    return list(nested if nested is not None else teams)


def sync_directory(session: Session, teams: Iterable[Any] | Any) -> None:
    """Make the teams and handlers tables match the configuration.

    ``teams`` is a list of teams (dicts or objects) with ``id``, ``name.zh``,
    ``name.en``, ``manager_email`` and ``handlers`` (each with ``id``,
    ``name``, ``capacity``); an object with a ``teams`` attribute (the teams
    configuration) works too. Handlers no longer configured are kept but
    marked inactive; teams are never deleted (cases and points refer to them).
    The caller commits.
    """
    configured: set[str] = set()
    for team in _team_list(teams):
        team_id = str(_get(team, "id"))
        name = _get(team, "name")
        row = session.get(Team, team_id) or Team(team_id=team_id)
        row.name_zh = str(_get(name, "zh"))
        row.name_en = str(_get(name, "en"))
        row.manager_email = _get(team, "manager_email")
        session.add(row)
        for handler in _get(team, "handlers") or ():
            handler_id = str(_get(handler, "id"))
            configured.add(handler_id)
            entry = session.get(Handler, handler_id) or Handler(handler_id=handler_id)
            entry.team_id = team_id
            entry.display_name = _get(handler, "name")
            entry.capacity = _get(handler, "capacity")
            entry.active = True
            session.add(entry)
    for entry in session.scalars(select(Handler).where(Handler.handler_id.not_in(configured))):
        entry.active = False
    session.flush()
