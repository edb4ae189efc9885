"""``complaintops users add|list|disable|enable``: who may sign in to the dashboard.

- ``add USERNAME --role leader|manager|admin [--team TEAM]``: the password is
  read from standard input with ``--password-stdin``, else asked twice at a prompt;
- ``list``: every user with role, team, state and last sign-in;
- ``disable USERNAME`` / ``enable USERNAME``: a disabled user cannot sign in
  and is signed out within a minute.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from config import load_settings

EXIT_BAD_INPUT = 2
NOT_MIGRATED = "the users table is missing: run `complaintops db upgrade` first"


def register(subparsers: Any) -> None:
    from dashboard.auth.roles import ROLES

    parser = subparsers.add_parser("users", help="dashboard users: add, list, disable, enable")
    actions = parser.add_subparsers(dest="users_action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add a user (password from --password-stdin or a prompt)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--team", default=None, help="the team of a team leader (from teams.yaml)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(func=run_add)

    listing = actions.add_parser("list", help="list the users")
    listing.set_defaults(func=run_list)

    for name, active in (("disable", False), ("enable", True)):
        action = actions.add_parser(name, help=f"{name} a user")
        action.add_argument("username")
        action.set_defaults(func=run_set_active, active=active)


def _runtime() -> Runtime:
    return Runtime.from_settings(load_settings())


def read_password(from_stdin: bool, stdin: TextIO | None = None) -> str:
    """The new password: the first line of standard input, or typed twice at a prompt."""
    if from_stdin:
        return (stdin or sys.stdin).readline().rstrip("\r\n")
    first = getpass.getpass("password: ")
    second = getpass.getpass("password again: ")
    if first != second:
        raise ValueError("the passwords differ")
    return first


def run_add(args: argparse.Namespace) -> int:
    from dashboard.auth.users import UserError, create_user

    runtime = _runtime()
    try:
        password = read_password(args.password_stdin)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        with Session(runtime.engine) as session, session.begin():
            user = create_user(
                session,
                args.username,
                password,
                args.role,
                args.team,
                known_teams=runtime.rules.teams.team_ids(),
            )
            name, role = user.username, user.role
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OperationalError, ProgrammingError):
        print(f"error: {NOT_MIGRATED}", file=sys.stderr)
        return 1
    print(f"added {role} {name}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from dashboard.auth.users import list_users

    runtime = _runtime()
    try:
        with Session(runtime.engine) as session:
            users = list_users(session)
            rows = [
                (
                    u.username,
                    u.role,
                    u.team_id or "-",
                    "active" if u.active else "disabled",
                    u.last_login_at.astimezone(runtime.tz).strftime("%Y-%m-%d %H:%M")
                    if u.last_login_at
                    else "never",
                )
                for u in users
            ]
    except (OperationalError, ProgrammingError):
        print(f"error: {NOT_MIGRATED}", file=sys.stderr)
        return 1
    header = ("USERNAME", "ROLE", "TEAM", "STATE", "LAST SIGN-IN")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


def run_set_active(args: argparse.Namespace) -> int:
    from dashboard.auth.users import UserError, set_active

    runtime = _runtime()
    try:
        with Session(runtime.engine) as session, session.begin():
            user = set_active(session, args.username, args.active)
            name = user.username
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (OperationalError, ProgrammingError):
        print(f"error: {NOT_MIGRATED}", file=sys.stderr)
        return 1
    print(f"{'enabled' if args.active else 'disabled'} {name}")
    return 0
