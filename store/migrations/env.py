"""Alembic environment of the store.

``store.migrate`` hands over an open connection in
``config.attributes["connection"]``. Run from the command line
(``alembic -c store/alembic.ini``), the URL comes from ``sqlalchemy.url`` in
the ini file or the ``COMPLAINTOPS_DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from store.db import make_engine, normalise_url
from store.migrate import target_metadata as load_target_metadata

DATABASE_URL_ENV = "COMPLAINTOPS_DATABASE_URL"

config = context.config
if config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = load_target_metadata()


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite alters tables by copying them; later revisions need it.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(DATABASE_URL_ENV)
    if not url:
        raise RuntimeError(f"no database URL: set sqlalchemy.url or {DATABASE_URL_ENV}")
    engine = make_engine(url)
    try:
        with engine.connect() as own_connection:
            _configure(own_connection)
            with context.begin_transaction():
                context.run_migrations()
            own_connection.commit()
    finally:
        engine.dispose()


def _run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get(DATABASE_URL_ENV)
    if not url:
        raise RuntimeError(f"no database URL: set sqlalchemy.url or {DATABASE_URL_ENV}")
    context.configure(
        url=normalise_url(url),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
