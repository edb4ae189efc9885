"""``complaintops demo``: the whole stack on embedded defaults, in one command.

Starts the embedded broker (Tansu) and Valkey unless Kafka or Redis URLs are
configured, SQLite in the data directory unless a database URL is, creates
the topics, migrates the database, then runs both consumers, the web server
and (unless --no-simulate) the simulator with a backfilled history. Ctrl-C
stops every child process.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from complaintops.embedded import (
    EmbeddedService,
    create_topics,
    ensure_port_free,
    start_broker,
    start_valkey,
)
from complaintops.supervisor import ChildSpec, Supervisor
from config import load_settings

TOPIC_PARTITIONS = 6


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the whole stack on embedded defaults with simulated events"
    )
    parser.add_argument(
        "--no-simulate", action="store_true", help="start no simulator (produce your own events)"
    )
    parser.add_argument("--kafka-port", type=int, default=9092)
    parser.add_argument("--redis-port", type=int, default=6390)
    parser.add_argument("--http-port", type=int, default=8050)
    parser.add_argument("--data-dir", type=Path, default=Path(".complaintops"))
    parser.add_argument(
        "--smtp-port", type=int, default=2525, help="port of the demo's mail catcher"
    )
    parser.add_argument("--backfill-days", type=int, default=21, help="days of simulated history")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.004,
        help="simulated events per second (0.004 is about 30 new complaints a day; raise it for a busier centre)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.set_defaults(func=run)


def child_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "complaintops", *args]


def demo_children(args: argparse.Namespace, data_dir: Path) -> list[ChildSpec]:
    """The long-running parts of the stack, in start order."""
    from alerts.demo import demo_children_alerts

    children = [
        ChildSpec("metrics", child_argv("consume", "metrics")),
        ChildSpec("store", child_argv("consume", "store")),
        ChildSpec("web", child_argv("serve", "--port", str(args.http_port))),
    ]
    if not args.no_simulate:
        simulate = [
            "simulate",
            "--backfill-days",
            str(args.backfill_days),
            "--rate",
            str(args.rate),
            # Speed 1: simulated time is the wall clock, so deadlines, overdue
            # return visits and the hourly flow on the dashboard are real.
            "--speed",
            "1",
        ]
        if args.seed is not None:
            simulate += ["--seed", str(args.seed)]
        children.append(ChildSpec("simulator", child_argv(*simulate)))
    # The alert scheduler, and a mail catcher unless SMTP is configured.
    children += demo_children_alerts(args, data_dir)
    return children


def run(args: argparse.Namespace) -> int:
    env_settings = load_settings()
    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    started: list[EmbeddedService] = []
    environment: dict[str, str] = {
        "COMPLAINTOPS_DATA_DIR": str(data_dir),
        "COMPLAINTOPS_EMBEDDED": "true",
        "PYTHONUNBUFFERED": "1",
    }
    ensure_port_free(args.http_port, "dashboard web server", "--http-port")
    notes: list[str] = []
    try:
        if env_settings.kafka_bootstrap is None:
            ensure_port_free(args.kafka_port, "Kafka broker", "--kafka-port")
            broker = start_broker(args.kafka_port, data_dir / "logs")
            started.append(broker)
            environment["COMPLAINTOPS_KAFKA_BOOTSTRAP"] = broker.address
            notes.append(f"Kafka broker (embedded Tansu, in memory)  {broker.address}")
            if env_settings.database_url is None:
                # The embedded broker starts empty: start the store empty too,
                # or its stored offsets would skip the new broker's records.
                _remove_database(data_dir)
                notes.append(
                    "a fresh SQLite store (the embedded broker keeps no history between runs)"
                )
        else:
            notes.append(f"Kafka broker (configured)  {env_settings.kafka_bootstrap}")
        if env_settings.redis_url is None:
            ensure_port_free(args.redis_port, "Redis (Valkey)", "--redis-port")
            valkey = start_valkey(args.redis_port, data_dir / "valkey", log_dir=data_dir / "logs")
            started.append(valkey)
            environment["COMPLAINTOPS_REDIS_URL"] = valkey.address
            notes.append(f"Redis (embedded Valkey)  {valkey.address}")
        else:
            notes.append(f"Redis (configured)  {env_settings.redis_url}")
        if not env_settings.api_tokens:
            environment["COMPLAINTOPS_API_TOKENS"] = "demo-" + secrets.token_urlsafe(16)
        if not env_settings.kiosk_tokens:
            environment["COMPLAINTOPS_KIOSK_TOKENS"] = "kiosk-" + secrets.token_urlsafe(12)
        if not env_settings.secret_key:
            environment["COMPLAINTOPS_SECRET_KEY"] = secrets.token_urlsafe(32)
        os.environ.update(environment)
        settings = load_settings()
        create_topics(
            settings.kafka_bootstrap or "",
            {settings.topic: TOPIC_PARTITIONS, settings.dlq_topic: 1},
        )
        from complaintops.commands.db import sync_teams
        from complaintops.runtime import Runtime
        from store import migrate

        migrate.upgrade(settings.resolved_database_url)
        runtime = Runtime.from_settings(settings)
        sync_teams(runtime)
        from dashboard.auth.users import ensure_demo_admin

        admin_password = ensure_demo_admin(runtime)
        if admin_password is not None:
            notes.append(f"sign-in         admin / {admin_password}  (generated for this demo)")
        notes.append(f"database  {settings.resolved_database_url}")
        return _supervise(
            args, data_dir, environment, notes, settings.api_tokens, settings.kiosk_tokens
        )
    finally:
        for service in reversed(started):
            service.stop()


def _remove_database(data_dir: Path) -> None:
    for name in ("complaintops.db", "complaintops.db-wal", "complaintops.db-shm"):
        path = data_dir / name
        if path.exists():
            path.unlink()
    shutil.rmtree(data_dir / "valkey", ignore_errors=True)


def _supervise(
    args: argparse.Namespace,
    data_dir: Path,
    environment: dict[str, str],
    notes: list[str],
    api_tokens: list[str],
    kiosk_tokens: list[str],
) -> int:
    supervisor = Supervisor(data_dir / "logs")
    base = f"http://127.0.0.1:{args.http_port}"
    print("ComplaintOps demo")
    for note in notes:
        print(f"  {note}")
    print(f"  wall display   {base}/wall?token={kiosk_tokens[0]}")
    print(f"  dashboard      {base}/")
    print(f"  API            {base}/api/v1/overview   (Authorization: Bearer {api_tokens[0]})")
    print("  demo tokens and secret key were generated for this run; set COMPLAINTOPS_API_TOKENS,")
    print("  COMPLAINTOPS_KIOSK_TOKENS and COMPLAINTOPS_SECRET_KEY to choose your own.")
    print(f"  logs           {data_dir / 'logs'}")
    if not os.environ.get("COMPLAINTOPS_SMTP_HOST"):
        print(f"  alert emails   {data_dir / 'mail'} (mail catcher on 127.0.0.1:{args.smtp_port})")
    print("Press Ctrl-C to stop everything.")
    try:
        for spec in demo_children(args, data_dir):
            supervisor.start(ChildSpec(spec.name, spec.argv, {**environment, **(spec.env or {})}))
        exited = supervisor.wait()
        if exited is not None:
            print(f"stopping: {exited.describe()}", file=sys.stderr)
            return 1
        return 0
    finally:
        supervisor.stop_all()
