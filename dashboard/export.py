"""CSV export of the desk pages' tables, for ``dcc.Download``.

Files are UTF-8 with a byte-order mark and CRLF line ends, so Excel opens
Chinese text correctly by double-click.
"""

from __future__ import annotations

import base64
import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

BOM: Final = "\ufeff"
MEDIA_TYPE: Final = "text/csv; charset=utf-8"
# Spreadsheet programs run a cell starting with these as a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_UNSAFE_NAME: Final = re.compile(r"[^\w.-]+", re.UNICODE)

Cell = str | int | float | bool | None


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text  # shown as text, never evaluated
    return text


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The table as CSV bytes: BOM, header row, then one line per row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_cell(h) for h in headers])
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return (BOM + buffer.getvalue()).encode("utf-8")


def file_name(stem: str, moment: datetime) -> str:
    """``<stem>-YYYYmmdd-HHMM.csv`` with anything unsafe in the stem replaced by '-'."""
    safe = _UNSAFE_NAME.sub("-", stem).strip("-") or "export"
    return f"{safe}-{moment:%Y%m%d-%H%M}.csv"


def download(
    stem: str, headers: Sequence[str], rows: Iterable[Sequence[Cell]], moment: datetime
) -> dict[str, Any]:
    """The ``data`` of a ``dcc.Download`` carrying the table as a CSV file."""
    return {
        "content": base64.b64encode(to_csv(headers, rows)).decode("ascii"),
        "filename": file_name(stem, moment),
        "type": MEDIA_TYPE,
        "base64": True,
    }
