"""``complaintops rebuild``: rebuild the Redis read model from the SQL store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import redis
from kafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from complaintops.commands import first_line
from complaintops.runtime import Runtime
from config import load_settings
from consumers.committed import committed_offsets
from metrics.rebuild import CASES_PER_WRITE, rebuild


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "rebuild",
        help="rebuild the Redis read model from the SQL event log "
        "(the metrics consumer pauses meanwhile and resumes after the store's offsets)",
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=CASES_PER_WRITE,
        metavar="CASES",
        help=f"cases written to Redis per pipeline (default {CASES_PER_WRITE})",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.chunk < 1:
        print("--chunk must be at least 1", file=sys.stderr)
        return 2
    runtime = Runtime.from_settings(load_settings())
    settings = runtime.settings
    print("rebuilding the read model; the metrics consumer waits until it is done")
    committed: dict[int, int] | None
    try:
        committed = committed_offsets(
            runtime.kafka_bootstrap, settings.metrics_group, settings.topic
        )
    except KafkaError as exc:
        committed = None
        print(
            f"warning: the metrics group's committed offsets are unknown ({first_line(exc)}); "
            "invalid records it had not handled will not be dead-lettered "
            "(they stay in the store's rejected_events)",
            file=sys.stderr,
        )
    try:
        report = rebuild(
            runtime.redis,
            runtime.engine,
            group=settings.metrics_group,
            store_group=settings.store_group,
            topic=settings.topic,
            tz=runtime.tz,
            rules=runtime.rule_source(),
            chunk=args.chunk,
            committed=committed,
        )
    except (redis.RedisError, SQLAlchemyError) as exc:
        print(f"rebuild failed: {first_line(exc)}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    return 0
