"""The initial schema: cases, event log, rejected records, offsets, directory, points ledger.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = 64
TOPIC = 255
NAME = 200


def _instant() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("handler_id", sa.String(ID), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("product_line", sa.String(32), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("group_size", sa.Integer(), nullable=True),
        sa.Column("gender", sa.String(8), nullable=True),
        sa.Column("age_band", sa.String(8), nullable=True),
        sa.Column("occupation", sa.String(64), nullable=True),
        sa.Column("repeat_complainant", sa.Boolean(), nullable=True),
        sa.Column("opened_at", _instant(), nullable=False),
        sa.Column("received_at", _instant(), nullable=False),
        sa.Column("stage_entered_at", _instant(), nullable=False),
        sa.Column("closed_at", _instant(), nullable=True),
        sa.Column("decided_at", _instant(), nullable=True),
        sa.Column("decision_deadline", _instant(), nullable=True),
        sa.Column("clock_paused_since", _instant(), nullable=True),
        sa.Column("follow_up_due", _instant(), nullable=True),
        sa.Column("follow_up_done", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("first_satisfaction", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(32), nullable=True),
        sa.Column("escalated_to", sa.String(32), nullable=True),
        sa.Column("reopen_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("rework_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_cases")),
    )
    for column in (
        "status",
        "stage",
        "team_id",
        "handler_id",
        "channel",
        "category",
        "priority",
        "opened_at",
    ):
        op.create_index(op.f(f"ix_cases_{column}"), "cases", [column])

    op.create_table(
        "case_events",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("occurred_at", _instant(), nullable=False),
        sa.Column("topic", sa.String(TOPIC), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("gap", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("stored_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_case_events_event_id")),
        sa.UniqueConstraint(
            "topic", "partition", "offset", name=op.f("uq_case_events_topic_partition_offset")
        ),
    )
    op.create_index("ix_case_events_case_id_seq", "case_events", ["case_id", "seq"], unique=True)

    op.create_table(
        "rejected_events",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(TOPIC), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("case_id", sa.String(ID), nullable=True),
        sa.Column("event_id", sa.String(ID), nullable=True),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("stored_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_events")),
        sa.UniqueConstraint(
            "topic", "partition", "offset", name=op.f("uq_rejected_events_topic_partition_offset")
        ),
    )
    op.create_index(op.f("ix_rejected_events_kind"), "rejected_events", ["kind"])
    op.create_index(op.f("ix_rejected_events_case_id"), "rejected_events", ["case_id"])

    op.create_table(
        "consumer_offsets",
        sa.Column("group", sa.String(TOPIC), nullable=False),
        sa.Column("topic", sa.String(TOPIC), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _instant(), nullable=False),
        sa.PrimaryKeyConstraint("group", "topic", "partition", name=op.f("pk_consumer_offsets")),
    )

    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("name_zh", sa.String(NAME), nullable=False),
        sa.Column("name_en", sa.String(NAME), nullable=False),
        sa.Column("manager_email", sa.String(320), nullable=True),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
    )

    op.create_table(
        "handlers",
        sa.Column("handler_id", sa.String(ID), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("display_name", sa.String(NAME), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.team_id"], name=op.f("fk_handlers_team_id_teams")
        ),
        sa.PrimaryKeyConstraint("handler_id", name=op.f("pk_handlers")),
    )
    op.create_index(op.f("ix_handlers_team_id"), "handlers", ["team_id"])

    op.create_table(
        "points_ledger",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(ID), nullable=False),
        sa.Column("rule", sa.String(ID), nullable=False),
        sa.Column("case_id", sa.String(ID), nullable=False),
        sa.Column("handler_id", sa.String(ID), nullable=False),
        sa.Column("team_id", sa.String(ID), nullable=False),
        sa.Column("points", sa.Numeric(12, 2), nullable=False),
        sa.Column("occurred_at", _instant(), nullable=False),
        sa.Column("ruleset", sa.String(ID), server_default="default", nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["case_events.event_id"],
            name=op.f("fk_points_ledger_event_id_case_events"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
        sa.UniqueConstraint("event_id", "rule", name=op.f("uq_points_ledger_event_id_rule")),
    )
    op.create_index(op.f("ix_points_ledger_case_id"), "points_ledger", ["case_id"])
    op.create_index(
        "ix_points_ledger_handler_id_occurred_at", "points_ledger", ["handler_id", "occurred_at"]
    )
    op.create_index(
        "ix_points_ledger_team_id_occurred_at", "points_ledger", ["team_id", "occurred_at"]
    )


def downgrade() -> None:
    op.drop_table("points_ledger")
    op.drop_table("handlers")
    op.drop_table("teams")
    op.drop_table("consumer_offsets")
    op.drop_table("rejected_events")
    op.drop_table("case_events")
    op.drop_table("cases")
