"""The SQL system of record: tables of cases, the event log, rejected records,
consumer offsets, the team directory and the points ledger.

Every instant is a ``UTCDateTime`` (aware UTC). No column ever holds a
complainant's name, phone or ID number: the events carry none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from store.types import UTCDateTime

NAMING_CONVENTION: Final = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH: Final = 64
TOPIC_LENGTH: Final = 255
NAME_LENGTH: Final = 200

# A 64-bit identity on PostgreSQL; on SQLite an INTEGER PRIMARY KEY (the rowid).
BigId = BigInteger().with_variant(Integer(), "sqlite")

REJECTED_INVALID: Final = "invalid"
REJECTED_DUPLICATE: Final = "duplicate"
DEFAULT_RULESET: Final = "default"


class Base(DeclarativeBase):
    """Declarative base of every table of the store (one metadata for Alembic)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Case(Base):
    """One complaint case as of its last applied event."""

    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str] = mapped_column(String(32), index=True)
    team_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    handler_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    channel: Mapped[str] = mapped_column(String(32), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    product_line: Mapped[str] = mapped_column(String(32))
    priority: Mapped[str] = mapped_column(String(16), index=True)
    group_size: Mapped[int | None] = mapped_column(Integer)
    # 投诉人画像 (no personal data)
    gender: Mapped[str | None] = mapped_column(String(8))
    age_band: Mapped[str | None] = mapped_column(String(8))
    occupation: Mapped[str | None] = mapped_column(String(64))
    repeat_complainant: Mapped[bool | None] = mapped_column(Boolean)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stage_entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Running clock: its deadline; decided: the deadline at the decision; paused: NULL.
    decision_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clock_paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_done: Mapped[bool] = mapped_column(Boolean, server_default=false())
    outcome: Mapped[str | None] = mapped_column(String(32))
    first_satisfaction: Mapped[int | None] = mapped_column(Integer)
    resolution: Mapped[str | None] = mapped_column(String(32))
    escalated_to: Mapped[str | None] = mapped_column(String(32))
    reopen_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    rework_count: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    last_seq: Mapped[int] = mapped_column(BigInteger)
    # CaseState.to_json(): the authoritative state for the event core.
    state: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseEventRow(Base):
    """The event log: every applied event, with the record it came from."""

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case_id_seq", "case_id", "seq", unique=True),
        UniqueConstraint("topic", "partition", "offset"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    case_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    # How many seq numbers were skipped just before this event.
    gap: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # The event as received (UTF-8 JSON).
    payload: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RejectedEvent(Base):
    """A record that was not applied: invalid (with its reason) or a duplicate."""

    __tablename__ = "rejected_events"
    __table_args__ = (UniqueConstraint("topic", "partition", "offset"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16), index=True)  # 'invalid' | 'duplicate'
    reason: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    event_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsumerOffset(Base):
    """The last offset stored per consumer group, topic and partition."""

    __tablename__ = "consumer_offsets"

    group: Mapped[str] = mapped_column(String(TOPIC_LENGTH), primary_key=True)
    topic: Mapped[str] = mapped_column(String(TOPIC_LENGTH), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Team(Base):
    """A complaint-handling team, from configuration."""

    __tablename__ = "teams"

    team_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(NAME_LENGTH))
    name_en: Mapped[str] = mapped_column(String(NAME_LENGTH))
    manager_email: Mapped[str | None] = mapped_column(String(320))


class Handler(Base):
    """A complaint handler (处理人), from configuration; inactive once removed from it."""

    __tablename__ = "handlers"

    handler_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    team_id: Mapped[str] = mapped_column(ForeignKey("teams.team_id"), index=True)
    display_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH))
    capacity: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class PointsEntry(Base):
    """Points credited to a handler and their team by one rule for one event."""

    __tablename__ = "points_ledger"
    __table_args__ = (
        UniqueConstraint("event_id", "rule"),
        Index("ix_points_ledger_handler_id_occurred_at", "handler_id", "occurred_at"),
        Index("ix_points_ledger_team_id_occurred_at", "team_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("case_events.event_id"))
    rule: Mapped[str] = mapped_column(String(ID_LENGTH))
    case_id: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    handler_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    team_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    points: Mapped[float] = mapped_column(Numeric(12, 2, asdecimal=False))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ruleset: Mapped[str] = mapped_column(String(ID_LENGTH), server_default=DEFAULT_RULESET)
