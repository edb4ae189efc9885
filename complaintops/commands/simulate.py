"""``complaintops simulate``: produce a realistic stream of case events into Kafka."""

from __future__ import annotations

import argparse
from typing import Any

from config import load_settings


def register(subparsers: Any) -> None:
    from complaintops import simulate as simulation

    parser = subparsers.add_parser(
        "simulate", help="produce simulated case events (history and live)"
    )
    simulation.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from complaintops import simulate as simulation

    return int(simulation.main(args, load_settings()) or 0)
