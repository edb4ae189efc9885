"""``complaintops serve``: the dashboard and the JSON API."""

from __future__ import annotations

import argparse
from typing import Any

from complaintops.runtime import Runtime
from config import load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="serve the dashboard and the /api/v1 read API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8050)
    parser.add_argument("--threads", type=int, default=8, help="worker threads of the server")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import waitress

    from complaintops.observability import instrument_flask, start_metrics_server
    from dashboard.app import create_app

    settings = load_settings()
    settings.require_production_secrets()
    runtime = Runtime.from_settings(settings)
    app = create_app(runtime)
    instrument_flask(app.server)
    if settings.metrics_port is not None:
        start_metrics_server(settings.metrics_port)
    print(
        f"dashboard on http://{args.host}:{args.port}/  API on http://{args.host}:{args.port}/api/v1/"
    )
    waitress.serve(
        app.server, host=args.host, port=args.port, threads=args.threads, ident="complaintops"
    )
    return 0
