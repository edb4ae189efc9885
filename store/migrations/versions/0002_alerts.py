"""Alerting: alerts and their history, notification groups, the email outbox,
silences, acknowledgements, and an index of open cases by stage entry time.

Revision ID: 0002_alerts
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_alerts"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("alerts",)
depends_on: str | Sequence[str] | None = None

ID = 64
NAME = 200
EMAIL = 320
GROUP_KEY = 160
UNRESOLVED = sa.text("resolved_at IS NULL")


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(ID), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=True),
        sa.Column("team_id", sa.String(ID), nullable=True),
        sa.Column("handler_id", sa.String(ID), nullable=True),
        sa.Column("subject", sa.String(ID), nullable=True),
        sa.Column("details", sa.Text(), server_default="{}", nullable=False),
        sa.Column("started_at", _instant(), nullable=False),
        sa.Column("last_seen_at", _instant(), nullable=False),
        sa.Column("acknowledged_at", _instant(), nullable=True),
        sa.Column("acknowledged_by", sa.String(EMAIL), nullable=True),
        sa.Column("resolved_at", _instant(), nullable=True),
        sa.Column("notified_at", _instant(), nullable=True),
        sa.Column("resolved_notified_at", _instant(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("escalated_at", _instant(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "ux_alerts_unresolved_fingerprint",
        "alerts",
        ["fingerprint"],
        unique=True,
        sqlite_where=UNRESOLVED,
        postgresql_where=UNRESOLVED,
    )
    op.create_index("ix_alerts_state_rule", "alerts", ["state", "rule"])
    op.create_index(
        "ix_alerts_state_resolved_notified_at", "alerts", ["state", "resolved_notified_at"]
    )
    op.create_index("ix_alerts_team_id_state", "alerts", ["team_id", "state"])
    op.create_index("ix_alerts_started_at", "alerts", ["started_at"])
    op.create_index(op.f("ix_alerts_case_id"), "alerts", ["case_id"])

    op.create_table(
        "alert_events",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("alert_id", _big_id(), nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(EMAIL), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_events_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
    )
    op.create_index("ix_alert_events_alert_id_at", "alert_events", ["alert_id", "at"])

    op.create_table(
        "alert_groups",
        sa.Column("group_key", sa.String(GROUP_KEY), nullable=False),
        sa.Column("rule", sa.String(ID), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=True),
        sa.Column("pending_since", _instant(), nullable=True),
        sa.Column("last_notified_at", _instant(), nullable=True),
        sa.Column("next_reminder_at", _instant(), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("group_key", name=op.f("pk_alert_groups")),
    )

    op.create_table(
        "notifications",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("group_key", sa.String(GROUP_KEY), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("mime", sa.Text(), nullable=False),
        sa.Column("alert_ids", sa.Text(), server_default="[]", nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("next_attempt_at", _instant(), nullable=False),
        sa.Column("claimed_by", sa.String(ID), nullable=True),
        sa.Column("claimed_until", _instant(), nullable=True),
        sa.Column("sent_at", _instant(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("message_id", name=op.f("uq_notifications_message_id")),
    )
    op.create_index(
        "ix_notifications_state_next_attempt_at", "notifications", ["state", "next_attempt_at"]
    )
    op.create_index("ix_notifications_created_at", "notifications", ["created_at"])

    op.create_table(
        "silences",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(ID), nullable=True),
        sa.Column("team_id", sa.String(ID), nullable=True),
        sa.Column("case_id", sa.String(ID), nullable=True),
        sa.Column("starts_at", _instant(), nullable=False),
        sa.Column("ends_at", _instant(), nullable=False),
        sa.Column("created_by", sa.String(NAME), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", _instant(), nullable=False),
        sa.Column("cancelled_at", _instant(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])

    op.create_table(
        "acknowledgements",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("alert_id", _big_id(), nullable=False),
        sa.Column("by", sa.String(EMAIL), nullable=False),
        sa.Column("at", _instant(), nullable=False),
        sa.Column("via", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_acknowledgements_alert_id_alerts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acknowledgements")),
    )
    op.create_index("ix_acknowledgements_alert_id", "acknowledgements", ["alert_id"])

    op.create_index(
        "ix_cases_status_stage_stage_entered_at",
        "cases",
        ["status", "stage", "stage_entered_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_cases_status_stage_stage_entered_at", table_name="cases")
    op.drop_table("acknowledgements")
    op.drop_table("silences")
    op.drop_table("notifications")
    op.drop_table("alert_groups")
    op.drop_table("alert_events")
    op.drop_table("alerts")
