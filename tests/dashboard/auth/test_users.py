from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from config import load_settings
from dashboard.auth.models import User
from dashboard.auth.users import (
    UserError,
    authenticate,
    count_users,
    create_user,
    ensure_demo_admin,
    find_user,
    list_users,
    normalise_username,
    set_active,
)
from store import migrate
from store.db import make_engine

PASSWORD = "correct horse battery"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Session]:
    migrate.upgrade(sqlite_url, "0003_users")
    engine = make_engine(sqlite_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("Zhang.Wei", "zhang.wei"), (" admin ", "admin"), ("li_na@example.com", "li_na@example.com")],
)
def test_usernames_are_stored_lower_case(raw: str, stored: str) -> None:
    assert normalise_username(raw) == stored


@pytest.mark.parametrize("bad", ["", "-leading", "with space", "x" * 65, "名字"])
def test_bad_usernames_are_refused(bad: str) -> None:
    with pytest.raises(UserError, match="username"):
        normalise_username(bad)


def test_create_find_list(db: Session) -> None:
    create_user(db, "Zhang", PASSWORD, "leader", "claims-east", known_teams=["claims-east"])
    create_user(db, "admin", PASSWORD, "admin")
    db.commit()
    user = find_user(db, "ZHANG")
    assert user is not None
    assert (user.username, user.role, user.team_id, user.active) == (
        "zhang",
        "leader",
        "claims-east",
        True,
    )
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert [u.username for u in list_users(db)] == ["admin", "zhang"]
    assert count_users(db) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role": "owner"}, "role must be one of"),
        ({"team_id": "nowhere"}, "unknown team"),
        ({"password": "short"}, "at least 10"),
    ],
)
def test_create_refuses_bad_values(db: Session, kwargs: dict[str, str], message: str) -> None:
    values = {"username": "wang", "password": PASSWORD, "role": "leader", "team_id": None} | kwargs
    with pytest.raises(UserError, match=message):
        create_user(db, known_teams=["claims-east"], **values)  # type: ignore[arg-type]


def test_usernames_are_unique(db: Session) -> None:
    create_user(db, "wang", PASSWORD, "leader")
    with pytest.raises(UserError, match="already exists"):
        create_user(db, "WANG", PASSWORD, "manager")


def test_authenticate(db: Session) -> None:
    create_user(db, "wang", PASSWORD, "manager")
    assert authenticate(db, "wang", "wrong password") is None
    assert authenticate(db, "nobody", PASSWORD) is None
    user = authenticate(db, "Wang", PASSWORD, now=1_795_000_000)
    assert user is not None
    assert user.last_login_at is not None and user.last_login_at.timestamp() == 1_795_000_000
    set_active(db, "wang", False)
    assert authenticate(db, "wang", PASSWORD) is None
    set_active(db, "wang", True)
    assert authenticate(db, "wang", PASSWORD) is not None
    with pytest.raises(UserError, match="no user"):
        set_active(db, "nobody", False)


def test_database_refuses_an_unknown_role(db: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    from store.types import from_epoch

    db.add(User(username="x", password_hash="h", role="owner", created_at=from_epoch(0)))
    with pytest.raises(IntegrityError):
        db.flush()


def test_migration_matches_the_model_and_goes_down(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url, "0003_users")
    engine = make_engine(sqlite_url)
    try:
        columns = {c["name"]: c for c in inspect(engine).get_columns("users")}
        assert set(columns) == set(User.__table__.columns.keys())
        assert not columns["username"]["nullable"] and columns["team_id"]["nullable"]
        uniques = inspect(engine).get_unique_constraints("users")
        assert [u["column_names"] for u in uniques] == [["username"]]
    finally:
        engine.dispose()
    migrate.downgrade(sqlite_url, "0001")
    engine = make_engine(sqlite_url)
    try:
        assert "users" not in inspect(engine).get_table_names()
        assert "cases" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_demo_admin_is_created_once(
    sqlite_url: str, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    migrate.upgrade(sqlite_url, "0003_users")
    runtime = Runtime.from_settings(
        load_settings(database_url=sqlite_url, mode="demo", data_dir=tmp_path)
    )
    with caplog.at_level(logging.WARNING, logger="dashboard.auth.users"):
        password = ensure_demo_admin(runtime, make_password=lambda: "generated-password-1")
    assert password == "generated-password-1"
    assert "generated-password-1" in caplog.text
    assert ensure_demo_admin(runtime) is None
    with Session(runtime.engine) as session:
        user = authenticate(session, "admin", "generated-password-1")
        assert user is not None and user.role == "admin"
    runtime.engine.dispose()


def test_no_demo_admin_in_production(sqlite_url: str, tmp_path: Path) -> None:
    migrate.upgrade(sqlite_url, "0003_users")
    settings = load_settings(
        database_url=sqlite_url, mode="production", secret_key="k" * 32, data_dir=tmp_path
    )
    runtime = Runtime.from_settings(settings)
    assert ensure_demo_admin(runtime) is None
    with Session(runtime.engine) as session:
        assert count_users(session) == 0
    runtime.engine.dispose()
