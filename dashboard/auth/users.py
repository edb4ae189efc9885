"""Users in the database: create, find, list, enable/disable, authenticate.

Usernames are stored lower-case; ``Admin`` and ``admin`` are one user.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from dashboard.auth.models import USERNAME_LENGTH, User
from dashboard.auth.passwords import check_strength, hash_password, needs_rehash, verify_password
from dashboard.auth.roles import ROLES
from store.types import from_epoch

log = logging.getLogger(__name__)

USERNAME_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9._@-]*$")
DEMO_ADMIN: Final = "admin"


class UserError(ValueError):
    """A user could not be created or changed (the message says why)."""


def normalise_username(username: str) -> str:
    """The stored form of a username; UserError when it is not allowed."""
    name = username.strip().lower()
    if not 1 <= len(name) <= USERNAME_LENGTH or not USERNAME_PATTERN.match(name):
        raise UserError(
            f"username must be 1 to {USERNAME_LENGTH} characters of a-z 0-9 . _ @ -, "
            f"starting with a letter or digit, got {username!r}"
        )
    return name


def find_user(session: Session, username: str) -> User | None:
    try:
        name = normalise_username(username)
    except UserError:
        return None
    return session.scalar(select(User).where(User.username == name))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    team_id: str | None = None,
    *,
    known_teams: Iterable[str] | None = None,
    now: float | None = None,
) -> User:
    """Add a user (flushed, not committed); UserError for a bad value or a taken name."""
    name = normalise_username(username)
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    teams = list(known_teams) if known_teams is not None else None
    if team_id is not None and teams is not None and team_id not in teams:
        raise UserError(f"unknown team {team_id!r}; the teams are {', '.join(teams)}")
    try:
        check_strength(password)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if find_user(session, name) is not None:
        raise UserError(f"user {name!r} already exists")
    user = User(
        username=name,
        password_hash=hash_password(password),
        role=role,
        team_id=team_id,
        active=True,
        created_at=from_epoch(time.time() if now is None else now),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise UserError(f"user {name!r} already exists") from None
    return user


def set_active(session: Session, username: str, active: bool) -> User:
    user = find_user(session, username)
    if user is None:
        raise UserError(f"no user {username!r}")
    user.active = active
    return user


def authenticate(
    session: Session, username: str, password: str, now: float | None = None
) -> User | None:
    """The active user with this name and password, else None.

    Takes about as long for an unknown name as for a wrong password. On
    success records the sign-in time and upgrades an outdated hash.
    """
    user = find_user(session, username)
    if user is None:
        verify_password(None, password)
        return None
    if not verify_password(user.password_hash, password) or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = from_epoch(time.time() if now is None else now)
    return user


def ensure_demo_admin(
    runtime: Runtime, make_password: Callable[[], str] = lambda: secrets.token_urlsafe(12)
) -> str | None:
    """In demo mode with no user at all, create ``admin`` and return its password.

    The password is logged once (WARNING). Returns None when not in demo mode
    or when any user exists. The users table must exist (migrations applied).
    """
    if runtime.settings.mode != "demo":
        return None
    with Session(runtime.engine) as session, session.begin():
        if count_users(session) > 0:
            return None
        password = make_password()
        create_user(session, DEMO_ADMIN, password, "admin")
    log.warning(
        "demo sign-in created: user %r, password %r (shown once; "
        "add your own users with `complaintops users add`)",
        DEMO_ADMIN,
        password,
    )
    return password
