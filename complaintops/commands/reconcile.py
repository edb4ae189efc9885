"""``complaintops reconcile``: compare the Redis read model with the SQL store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import redis
from sqlalchemy.exc import SQLAlchemyError

from complaintops.commands import first_line
from complaintops.runtime import Runtime
from config import load_settings
from metrics.reconcile import WAIT_SECONDS, reconcile
from metrics.snapshot import SnapshotUnstable


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="compare the Redis read model with the SQL store; exit 1 on drift, "
        "3 when the store is too far behind to compare",
    )
    parser.add_argument(
        "--max-diffs",
        type=int,
        default=50,
        metavar="N",
        help="print at most N differences (default 50; 0 prints only the count)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=WAIT_SECONDS,
        metavar="SECONDS",
        help=f"how long to wait for the store to catch up with Redis (default {WAIT_SECONDS:g})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.max_diffs < 0 or args.wait < 0:
        print("--max-diffs and --wait must not be negative", file=sys.stderr)
        return 2
    runtime = Runtime.from_settings(load_settings())
    settings = runtime.settings
    try:
        report = reconcile(
            runtime.redis,
            runtime.engine,
            group=settings.metrics_group,
            store_group=settings.store_group,
            topic=settings.topic,
            tz=runtime.tz,
            rules=runtime.rule_source(),
            wait_seconds=args.wait,
        )
    except (redis.RedisError, SQLAlchemyError, SnapshotUnstable) as exc:
        print(f"reconcile failed: {first_line(exc)}", file=sys.stderr)
        return 2
    for line in report.lines(args.max_diffs):
        print(line)
    return report.exit_code
