"""The users of the dashboard (migration 0003_users), on the store's metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import Boolean, CheckConstraint, String, true
from sqlalchemy.orm import Mapped, mapped_column

from store.models import ID_LENGTH, Base, BigId
from store.types import UTCDateTime

USERNAME_LENGTH: Final = 64
ROLE_CHECK: Final = "role IN ('leader', 'manager', 'admin')"


class User(Base):
    """Someone who signs in to the dashboard: a team leader, a manager or an admin."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(ROLE_CHECK, name="role"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    # The leader's own team (their default view); NULL for managers and admins.
    team_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
