"""``complaintops db upgrade|current``: schema migrations of the SQL store."""

from __future__ import annotations

import argparse
from typing import Any

from complaintops.runtime import Runtime
from config import load_settings
from store import migrate


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "db", help="database schema: upgrade to the latest migration, show the current one"
    )
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade", help="apply every pending migration and load teams/handlers"
    )
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(func=run_upgrade)
    current = actions.add_parser("current", help="print the current revision")
    current.set_defaults(func=run_current)


def run_upgrade(args: argparse.Namespace) -> int:
    runtime = Runtime.from_settings(load_settings())
    url = runtime.settings.resolved_database_url
    migrate.upgrade(url, args.revision)
    sync_teams(runtime)
    print(f"database at revision {migrate.current(url)}")
    return 0


def sync_teams(runtime: Runtime) -> None:
    from sqlalchemy.orm import Session

    from store.repository import sync_directory

    with Session(runtime.engine) as session, session.begin():
        sync_directory(session, runtime.rules.teams.teams)


def run_current(args: argparse.Namespace) -> int:
    settings = load_settings()
    print(migrate.current(settings.resolved_database_url) or "(empty database)")
    return 0
