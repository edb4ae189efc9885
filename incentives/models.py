"""The table of published scoring rule sets (on the store's one metadata)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Final

from sqlalchemy import Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models import ID_LENGTH, Base, BigId
from store.types import UTCDateTime

RULESET_TABLE: Final = "scoring_rulesets"


class ScoringRuleSet(Base):
    """A scoring rule set published by a manager, in force from ``effective_from``
    (00:00 in the business time zone) until a later one takes over."""

    __tablename__ = RULESET_TABLE
    __table_args__ = (Index("ix_scoring_rulesets_effective_from", "effective_from"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # The name the points ledger records (points_ledger.ruleset).
    name: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True)
    effective_from: Mapped[date] = mapped_column(Date)
    # The rules as a scoring.yaml document in JSON (every value explicit).
    rules_json: Mapped[str] = mapped_column(Text)
    # The YAML text as it was given, comments included.
    source_yaml: Mapped[str] = mapped_column(Text)
    published_by: Mapped[str] = mapped_column(String(ID_LENGTH))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
