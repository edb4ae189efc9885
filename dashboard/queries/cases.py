"""The cases page's data: search and filters over the SQL ``cases`` table,
and one case in detail (stage visits, decision clock, return visits).

Decision clocks "at risk" and "breached" are the cases the Redis read model
lists (``MetricsQuery.decisions_at_risk`` / ``decisions_breached``), so the
filtered list always matches the overview's counts. Nothing here reads or
returns personal data; the complainant's free-text occupation is never
selected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, select
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from dashboard.api import views
from events import contract as c
from events.clock import ClockStatus, clock_status, deadline
from events.decode import decode
from events.errors import InvalidEvent
from events.machine import Outcome, StageEntry, StageExit, apply
from events.model import CaseEvent
from events.state import CaseState
from metrics.query import MetricsQuery
from store.models import Case, CaseEventRow

PAGE_SIZE: Final = 25
CLOCK_RUNNING: Final = "running"
CLOCK_PAUSED: Final = "paused"
CLOCK_DECIDED: Final = "decided"
CLOCK_AT_RISK: Final = "at_risk"
CLOCK_BREACHED: Final = "breached"
CLOCK_CLOSED: Final = "closed"
CLOCK_FILTERS: Final = (CLOCK_RUNNING, CLOCK_PAUSED, CLOCK_DECIDED, CLOCK_AT_RISK, CLOCK_BREACHED)
STATUSES: Final = ("open", "closed")


@dataclass(frozen=True, slots=True)
class CaseSearch:
    """The page's search box and filters; None (or "") means any.

    ``search`` is a case id prefix (case-insensitive); ``clock`` one of
    ``CLOCK_FILTERS`` (at risk and breached concern open, undecided cases).
    """

    search: str | None = None
    team_id: str | None = None
    handler_id: str | None = None
    stage: str | None = None
    category: str | None = None
    channel: str | None = None
    priority: str | None = None
    status: str | None = None
    clock: str | None = None

    def __post_init__(self) -> None:
        if self.clock and self.clock not in CLOCK_FILTERS:
            raise ValueError(f"clock must be one of {', '.join(CLOCK_FILTERS)}, got {self.clock!r}")
        if self.status and self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One row of the case list."""

    case_id: str
    status: str
    stage: str
    team_id: str
    handler_id: str
    category: str
    channel: str
    priority: str
    opened_at: float
    clock: str  # running | paused | decided | at_risk | breached | closed
    deadline: float | None


@dataclass(frozen=True, slots=True)
class CaseList:
    rows: list[CaseSummary]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _conditions(criteria: CaseSearch, due_ids: set[str] | None) -> list[ColumnElement[bool]]:
    equal = {
        Case.team_id: criteria.team_id,
        Case.handler_id: criteria.handler_id,
        Case.stage: criteria.stage,
        Case.category: criteria.category,
        Case.channel: criteria.channel,
        Case.priority: criteria.priority,
        Case.status: criteria.status,
    }
    out: list[ColumnElement[bool]] = [col == value for col, value in equal.items() if value]
    if criteria.search and criteria.search.strip():
        out.append(Case.case_id.istartswith(criteria.search.strip(), autoescape=True))
    is_open = Case.status == "open"
    if criteria.clock == CLOCK_DECIDED:
        out.append(and_(is_open, Case.decided_at.is_not(None)))
    elif criteria.clock == CLOCK_PAUSED:
        out.append(and_(is_open, Case.decided_at.is_(None), Case.clock_paused_since.is_not(None)))
    elif criteria.clock == CLOCK_RUNNING:
        out.append(and_(is_open, Case.decided_at.is_(None), Case.clock_paused_since.is_(None)))
    elif criteria.clock in (CLOCK_AT_RISK, CLOCK_BREACHED):
        assert due_ids is not None
        out.append(Case.case_id.in_(sorted(due_ids)) if due_ids else false())
    return out


def due_case_ids(query: MetricsQuery, clock: str, team: str | None, now: float) -> set[str]:
    """Open, undecided cases whose decision clock is at risk or breached (Redis)."""
    if clock == CLOCK_AT_RISK:
        return {d.case_id for d in query.decisions_at_risk(now=now, team=team)}
    return {d.case_id for d in query.decisions_breached(now=now, team=team)}


def search_cases(
    session: Session,
    query: MetricsQuery,
    criteria: CaseSearch,
    now: float,
    page: int = 0,
    page_size: int = PAGE_SIZE,
) -> CaseList:
    """One page (0-based) of matching cases, newest opened first."""
    if page < 0 or page_size < 1:
        raise ValueError("page must be >= 0 and page_size >= 1")
    due_ids = None
    if criteria.clock in (CLOCK_AT_RISK, CLOCK_BREACHED):
        due_ids = due_case_ids(query, criteria.clock, criteria.team_id, now)
    conditions = _conditions(criteria, due_ids)
    total = session.execute(select(func.count()).select_from(Case).where(*conditions)).scalar_one()
    pages = max(1, -(-total // page_size))
    page = min(page, pages - 1)
    rows = session.execute(
        select(Case.case_id, Case.state, Case.category, Case.channel, Case.priority)
        .where(*conditions)
        .order_by(Case.opened_at.desc(), Case.case_id)
        .limit(page_size)
        .offset(page * page_size)
    ).all()
    summaries = [
        summarise(CaseState.from_json(row.state), query.tz, now, query.warning_seconds / 86400)
        for row in rows
    ]
    return CaseList(summaries, int(total), page, page_size)


def summarise(state: CaseState, tz: ZoneInfo, now: float, warning_days: float) -> CaseSummary:
    status = clock_status(state, tz, now, warning_days)
    return CaseSummary(
        case_id=state.case_id,
        status=state.status,
        stage=state.stage,
        team_id=state.team_id,
        handler_id=state.handler_id,
        category=state.category,
        channel=state.channel,
        priority=state.priority,
        opened_at=state.opened_at,
        clock=clock_label(status),
        deadline=status.deadline,
    )


def clock_label(status: ClockStatus) -> str:
    if status.breached:
        return CLOCK_BREACHED
    if status.at_risk:
        return CLOCK_AT_RISK
    return status.state


def filter_options(session: Session) -> dict[str, list[str]]:
    """Distinct teams and handlers that have cases (for the filter menus)."""
    teams = session.execute(select(Case.team_id).distinct().order_by(Case.team_id)).scalars()
    handlers = session.execute(
        select(Case.handler_id).distinct().order_by(Case.handler_id)
    ).scalars()
    return {"team_id": list(teams), "handler_id": list(handlers)}


# -- one case ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageVisit:
    """One stay of the case in a stage; ``end`` None while it is still there."""

    stage: str
    start: float
    end: float | None


@dataclass(frozen=True, slots=True)
class ClockPause:
    start: float
    end: float | None
    reason: str


@dataclass(frozen=True, slots=True)
class Extension:
    at: float
    tier: int
    limit_days: int


@dataclass(frozen=True, slots=True)
class ReturnVisit:
    """A scheduled return visit (回访) and whether it was done in time."""

    scheduled_at: float
    due_at: float
    done_at: float | None
    satisfaction: int | None

    def on_time(self, now: float) -> bool | None:
        """True when done by ``due_at``; False when done late or overdue; None while pending."""
        if self.done_at is not None:
            return self.done_at <= self.due_at
        return False if now > self.due_at else None


@dataclass(slots=True)
class CaseHistory:
    """What the event log tells about a case, replayed through the event core."""

    visits: list[StageVisit] = field(default_factory=list)
    pauses: list[ClockPause] = field(default_factory=list)
    extensions: list[Extension] = field(default_factory=list)
    return_visits: list[ReturnVisit] = field(default_factory=list)
    state: CaseState | None = None


def load_events(session: Session, case_id: str) -> list[CaseEvent]:
    """The case's logged events in seq order, decoded."""
    payloads = session.execute(
        select(CaseEventRow.payload)
        .where(CaseEventRow.case_id == case_id)
        .order_by(CaseEventRow.seq)
    ).scalars()
    events = []
    for payload in payloads:
        try:
            events.append(decode(payload.encode("utf-8")))
        except InvalidEvent:
            continue  # only applied events are logged; nothing to show otherwise
    return events


def replay(events: Iterable[CaseEvent], tz: ZoneInfo) -> CaseHistory:
    """Stage visits, clock pauses, extensions and return visits of a case (pure)."""
    history = CaseHistory()
    for event in events:
        transition = apply(history.state, event, tz)
        if transition.outcome is not Outcome.APPLIED:
            continue
        _record(history, event, transition.exited, transition.entered)
        history.state = transition.state
    return history


def _record(
    history: CaseHistory,
    event: CaseEvent,
    exited: Sequence[StageExit],
    entered: Sequence[StageEntry],
) -> None:
    at = event.occurred_at
    if exited and history.visits and history.visits[-1].end is None:
        last = history.visits[-1]
        history.visits[-1] = StageVisit(last.stage, last.start, at)
    history.visits.extend(StageVisit(entry.stage, entry.at, None) for entry in entered)
    if event.type == c.CLOCK_PAUSED:
        history.pauses.append(ClockPause(at, None, event.reason or ""))
    elif event.type in (c.CLOCK_RESUMED, c.CLOSED) and history.pauses:
        last_pause = history.pauses[-1]
        if last_pause.end is None:
            history.pauses[-1] = ClockPause(last_pause.start, at, last_pause.reason)
    elif event.type == c.DEADLINE_EXTENDED and event.tier is not None:
        history.extensions.append(Extension(at, event.tier, c.TIER_LIMIT_DAYS[event.tier]))
    elif event.type == c.FOLLOW_UP_SCHEDULED and event.due_at is not None:
        history.return_visits.append(ReturnVisit(at, event.due_at, None, None))
    elif event.type == c.FOLLOW_UP_DONE and history.return_visits:
        visit = history.return_visits[-1]
        if visit.done_at is None:
            history.return_visits[-1] = ReturnVisit(
                visit.scheduled_at, visit.due_at, at, event.satisfaction
            )


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case in detail: the API's fields plus the replayed history and clock."""

    detail: dict[str, Any]
    history: CaseHistory
    clock: ClockStatus
    decided_on_time: bool | None
    product_line: str
    profile: dict[str, Any]
    satisfaction: int | None
    outcome: str | None
    resolution: str | None
    opened_at: datetime
    received_at: datetime


def case_view(runtime: Runtime, session: Session, case_id: str, now: float) -> CaseView | None:
    """The case's detail view, or None for an unknown case."""
    detail = views.case_detail(runtime, session, case_id, now=now)
    if detail is None:
        return None
    history = replay(load_events(session, case_id), runtime.tz)
    row = session.execute(
        select(
            Case.state,
            Case.product_line,
            Case.gender,
            Case.age_band,
            Case.repeat_complainant,
            Case.group_size,
            Case.first_satisfaction,
            Case.outcome,
            Case.resolution,
            Case.opened_at,
            Case.received_at,
        ).where(Case.case_id == case_id)
    ).one()
    state = CaseState.from_json(row.state)
    warning_days = runtime.rules.clocks.decision.warning_days
    status = clock_status(state, runtime.tz, now, warning_days)
    decided_at = state.clock.decided_at
    on_time = None
    if decided_at is not None:
        on_time = decided_at <= deadline(state.clock, runtime.tz, decided_at)
    profile = {
        "gender": row.gender,
        "age_band": row.age_band,
        "repeat": row.repeat_complainant,
        "group_size": row.group_size,
    }
    return CaseView(
        detail=detail,
        history=history,
        clock=status,
        decided_on_time=on_time,
        product_line=row.product_line,
        profile=profile,
        satisfaction=row.first_satisfaction,
        outcome=row.outcome,
        resolution=row.resolution,
        opened_at=row.opened_at,
        received_at=row.received_at,
    )
