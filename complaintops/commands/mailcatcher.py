"""``complaintops mailcatcher``: a loopback SMTP server that keeps every message as a .eml file."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from alerts.mailcatcher import DEFAULT_PORT, LOOPBACK


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "mailcatcher", help="catch alert emails on a loopback SMTP port into .eml files"
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="folder of the .eml files (default: <data dir>/mail)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alerts.mailcatcher import MailCatcher
    from config import load_settings

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-connection chatter
    folder: Path = args.dir or load_settings().data_dir / "mail"
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    with MailCatcher(folder.resolve(), host=args.host, port=args.port):
        print(f"mail catcher on smtp://{args.host}:{args.port}, writing {folder.resolve()}")
        stop.wait()
    return 0
