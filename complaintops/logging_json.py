"""Structured logs: one JSON object per line, for log collectors (Loki, ELK, Cloud Logging).

Each line carries ``ts`` (RFC 3339, UTC), ``level``, ``logger`` and
``message``, the exception as ``exc_info`` when there is one, and every
field passed through ``extra=`` (``log.info("batch", extra={"group": g})``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final, TextIO

RESERVED_ATTRIBUTES: Final = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)
"""Attributes every LogRecord has; anything else on a record came from ``extra=``."""

FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _json_default(value: object) -> str:
    return str(value)


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON (UTF-8 text kept as is, e.g. 投诉)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in RESERVED_ATTRIBUTES and not name.startswith("_"):
                document.setdefault(name, value)
        if record.exc_info:
            document["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(document, ensure_ascii=False, default=_json_default)


def configure(level: int = logging.INFO, fmt: str = "text", stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one writing ``fmt`` ('text' or 'json')."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}, expected one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
