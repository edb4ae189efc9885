"""Tables of alerting, on the store's metadata (migration 0002_alerts).

- ``alerts``: one row per alert instance, from firing to resolved; at most one
  unresolved row per fingerprint (a partial unique index guards it).
- ``alert_events``: the history of each alert (fired, acknowledged, notified, ...).
- ``alert_groups``: per notification group, when it last sent and when it reminds next.
- ``notifications``: the durable outbox of composed emails.
- ``silences`` and ``acknowledgements``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import ID_LENGTH, NAME_LENGTH, Base, BigId, Case
from store.types import UTCDateTime

ACTIVE: Final = "active"
ACKNOWLEDGED: Final = "acknowledged"
RESOLVED: Final = "resolved"
ALERT_STATES: Final = (ACTIVE, ACKNOWLEDGED, RESOLVED)

PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
OUTBOX_STATES: Final = (PENDING, SENT, FAILED)

FINGERPRINT_LENGTH: Final = 40
GROUP_KEY_LENGTH: Final = 160
EMAIL_LENGTH: Final = 320

_UNRESOLVED = text("resolved_at IS NULL")


class Alert(Base):
    """One alert instance: a rule's condition for one case, handler, team or consumer."""

    __tablename__ = "alerts"
    __table_args__ = (
        Index(
            "ux_alerts_unresolved_fingerprint",
            "fingerprint",
            unique=True,
            sqlite_where=_UNRESOLVED,
            postgresql_where=_UNRESOLVED,
        ),
        Index("ix_alerts_state_rule", "state", "rule"),
        Index("ix_alerts_state_resolved_notified_at", "state", "resolved_notified_at"),
        Index("ix_alerts_team_id_state", "team_id", "state"),
        Index("ix_alerts_started_at", "started_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(FINGERPRINT_LENGTH))
    rule: Mapped[str] = mapped_column(String(ID_LENGTH))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    team_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    handler_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    subject: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    # JSON of the rule's figures (due time, open cases, lag, ...) at the last evaluation.
    details: Mapped[str] = mapped_column(Text, server_default="{}")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # First firing notice queued; resolved notice queued.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertEvent(Base):
    """One step in an alert's history."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_id_at", "alert_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # fired | acknowledged | resolved | superseded | notified | resolved_notified | reminded
    # | escalated
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH))
    detail: Mapped[str | None] = mapped_column(Text)


class AlertGroup(Base):
    """A notification group (rule × team): its send and reminder schedule.

    ``version`` is bumped by every send; a writer that read an older version
    sends nothing (two schedulers can never queue the same email twice).
    """

    __tablename__ = "alert_groups"

    group_key: Mapped[str] = mapped_column(String(GROUP_KEY_LENGTH), primary_key=True)
    rule: Mapped[str] = mapped_column(String(ID_LENGTH))
    team_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    version: Mapped[int] = mapped_column(Integer, server_default=text("0"))


class Notification(Base):
    """An email in the durable outbox: queued with the decision to send it, sent at most once
    per successful SMTP transaction, retried with back-off while the server is unreachable."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_state_next_attempt_at", "state", "next_attempt_at"),
        Index("ix_notifications_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    group_key: Mapped[str | None] = mapped_column(String(GROUP_KEY_LENGTH))
    # firing | reminder | resolved | escalation
    kind: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[str] = mapped_column(Text)  # JSON list of addresses
    subject: Mapped[str] = mapped_column(Text)
    mime: Mapped[str] = mapped_column(Text)  # the whole message, Message-ID included
    alert_ids: Mapped[str] = mapped_column(Text, server_default="[]")  # JSON list
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Silence(Base):
    """Mutes the alerts of a rule, a team and/or a case from ``starts_at`` until ``ends_at``."""

    __tablename__ = "silences"
    __table_args__ = (Index("ix_silences_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rule: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    team_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    case_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(NAME_LENGTH))
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Acknowledgement(Base):
    """Someone acknowledged an alert (dashboard, email link or command line)."""

    __tablename__ = "acknowledgements"
    __table_args__ = (Index("ix_acknowledgements_alert_id", "alert_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    by: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    via: Mapped[str] = mapped_column(String(16))  # web | email | cli


# The stage-target rule reads open cases by stage and entry time; this index
# (created by migration 0002_alerts) makes that a range scan.
CASES_STAGE_ENTERED_INDEX = Index(
    "ix_cases_status_stage_stage_entered_at",
    Case.status,
    Case.stage,
    Case.stage_entered_at,
)
