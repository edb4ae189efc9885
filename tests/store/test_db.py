"""Engines: URL normalisation, SQLite pragmas and write locking, PostgreSQL via psycopg 3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text

from store.db import WRITE_OPTIONS, make_engine, normalise_url, session_factory
from store.errors import UnsupportedDatabase


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/ops", "postgresql+psycopg://u:p@db:5432/ops"),
        ("postgresql://u@db/ops", "postgresql+psycopg://u@db/ops"),
        ("postgresql+psycopg://u@db/ops", "postgresql+psycopg://u@db/ops"),
        ("sqlite:////var/lib/ops/complaintops.db", "sqlite:////var/lib/ops/complaintops.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@db/ops", "postgresql+psycopg2://u@db/ops", "oracle://x"]
)
def test_unsupported_database_is_refused(url: str) -> None:
    with pytest.raises(UnsupportedDatabase, match="unsupported database URL scheme"):
        normalise_url(url)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_sqlite_transactions_are_real_and_roll_back(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with sqlite_engine.connect() as connection:
        connection.execute(text("INSERT INTO t VALUES (1)"))
        connection.rollback()
    with sqlite_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_sqlite_write_options_take_the_write_lock_up_front(sqlite_engine: Engine) -> None:
    writer = sqlite_engine.execution_options(**WRITE_OPTIONS)
    with writer.connect() as holder, sqlite_engine.connect() as other:
        other.exec_driver_sql("PRAGMA busy_timeout=0")
        other.commit()
        holder.begin()  # BEGIN IMMEDIATE: the write lock, before any write
        # A reader is not blocked (WAL) ...
        assert other.execute(text("SELECT 1")).scalar() == 1
        other.commit()
        # ... but a second writer is.
        with pytest.raises(exc.OperationalError, match="database is locked"):
            other.execution_options(**WRITE_OPTIONS).begin()
        holder.rollback()


def test_sqlite_in_memory_database_is_shared_by_the_pool() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_sqlite_database_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    engine.dispose()
    assert path.exists()


def test_postgres_engine_uses_psycopg3(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    engine = make_engine(plain)
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as connection:
            assert connection.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_session_factory_keeps_objects_readable_after_commit(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        factory = session_factory(engine)
        with factory() as session:
            assert factory.kw["expire_on_commit"] is False
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()
