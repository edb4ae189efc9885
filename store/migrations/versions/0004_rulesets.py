"""Published scoring rule sets (scoring_rulesets).

Revision ID: 0004_rulesets
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_rulesets"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("rulesets",)
depends_on: str | Sequence[str] | None = None

ID = 64


def upgrade() -> None:
    op.create_table(
        "scoring_rulesets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(ID), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("rules_json", sa.Text(), nullable=False),
        sa.Column("source_yaml", sa.Text(), nullable=False),
        sa.Column("published_by", sa.String(ID), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_rulesets")),
        sa.UniqueConstraint("name", name=op.f("uq_scoring_rulesets_name")),
    )
    op.create_index("ix_scoring_rulesets_effective_from", "scoring_rulesets", ["effective_from"])


def downgrade() -> None:
    op.drop_index("ix_scoring_rulesets_effective_from", table_name="scoring_rulesets")
    op.drop_table("scoring_rulesets")
