"""Engines and sessions for SQLite and PostgreSQL (psycopg 3).

SQLite gets WAL journaling, foreign keys, a busy timeout, and transactions
begun by SQLAlchemy itself (so a transaction's SELECTs are repeatable and
savepoints work). A connection that is going to write can ask for
``BEGIN IMMEDIATE`` with the execution options in ``WRITE_OPTIONS``: it then
takes the write lock up front instead of failing on lock upgrade.
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from store.errors import UnsupportedDatabase

POSTGRES_DRIVER: Final = "postgresql+psycopg"
SQLITE_BUSY_TIMEOUT_SECONDS: Final = 30.0
POSTGRES_CONNECT_TIMEOUT_SECONDS: Final = 5

SQLITE_BEGIN_OPTION: Final = "complaintops_sqlite_begin"
WRITE_OPTIONS: Final[dict[str, Any]] = {SQLITE_BEGIN_OPTION: "IMMEDIATE"}
"""Execution options of a connection that writes: on SQLite it begins with
``BEGIN IMMEDIATE``; elsewhere they do nothing."""

_POSTGRES_ALIASES: Final = frozenset(
    {"postgres", "postgresql", "postgresql+psycopg", "postgres+psycopg"}
)


def normalise_url(url: str | URL) -> URL:
    """The URL with its driver made explicit: ``postgres://`` and
    ``postgresql://`` become ``postgresql+psycopg://``; SQLite stays as is."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in _POSTGRES_ALIASES:
        return parsed.set(drivername=POSTGRES_DRIVER)
    if driver in ("sqlite", "sqlite+pysqlite"):
        return parsed
    raise UnsupportedDatabase(
        f"unsupported database URL scheme '{driver}': use sqlite:/// or postgresql://"
    )


def is_sqlite(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "sqlite"


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def make_engine(url: str | URL, *, echo: bool = False) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, set up for the store."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo)
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = POSTGRES_CONNECT_TIMEOUT_SECONDS
    return create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine``; objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def _is_memory(url: URL) -> bool:
    return (url.database or "") in ("", ":memory:")


def _sqlite_engine(url: URL, echo: bool) -> Engine:
    options: dict[str, Any] = {
        "echo": echo,
        "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
    }
    if _is_memory(url):
        # One connection shared by every checkout: an in-memory database
        # exists only inside its connection.
        options["poolclass"] = StaticPool
    engine = create_engine(url, **options)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _begin_sqlite_transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")
