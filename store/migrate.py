"""Schema migrations (Alembic), configured in code so they run from any
directory and from an installed wheel.

The revisions form one root (``0001``, the store) with a branch per feature
(alerts, users, rule sets...), so the schema has several heads: "head"
means all of them here.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

from store.db import make_engine

MIGRATIONS_DIR: Final = Path(__file__).resolve().with_name("migrations")

MODEL_MODULES: Final = (
    "store.models",
    "alerts.models",
    "dashboard.auth.models",
    "incentives.models",
)
"""Every module declaring tables on ``store.models.Base``: the migrations
must create exactly these tables (checked by the store's tests)."""


def target_metadata() -> MetaData:
    """The metadata of every table of the database, with all model modules loaded."""
    for module in MODEL_MODULES:
        importlib.import_module(module)
    from store.models import Base

    return Base.metadata


def alembic_config() -> Config:
    """The Alembic configuration of the store, without an ini file."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR.as_posix())
    return config


def head_revisions() -> tuple[str, ...]:
    """The newest revision of every branch the code knows, sorted."""
    return tuple(sorted(ScriptDirectory.from_config(alembic_config()).get_heads()))


def _alembic_target(revision: str) -> str:
    return "heads" if revision == "head" else revision


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: every branch's newest)."""
    engine = make_engine(url)
    try:
        upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def upgrade_engine(engine: Engine, revision: str = "head") -> None:
    """Like ``upgrade``, on an existing engine."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, _alembic_target(revision))


def downgrade(url: str, revision: str) -> None:
    """Take the database at ``url`` back to ``revision`` ("base": empty)."""
    engine = make_engine(url)
    try:
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def current_heads(url: str) -> tuple[str, ...]:
    """The revisions the database at ``url`` is at, sorted (empty: not migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    finally:
        engine.dispose()


def current(url: str) -> str | None:
    """The revision(s) of the database at ``url``, comma-separated (None: not migrated)."""
    heads = current_heads(url)
    return ",".join(heads) if heads else None


def is_current(url: str) -> bool:
    """True when the database is at the newest revision of every branch."""
    return current_heads(url) == head_revisions()
