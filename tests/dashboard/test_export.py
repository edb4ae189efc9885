"""CSV export: UTF-8 with BOM, CRLF, safe cells, a dcc.Download payload."""

from __future__ import annotations

import base64
import csv
import io
from datetime import datetime

from dashboard import export


def test_csv_starts_with_a_bom_and_keeps_chinese() -> None:
    data = export.to_csv(["渠道", "件数"], [["电话", 3], ["网络", 1]])
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text == "渠道,件数\r\n电话,3\r\n网络,1\r\n"


def test_cells_are_quoted_and_typed() -> None:
    data = export.to_csv(
        ["a", "b", "c", "d", "e"], [["x,y", 'say "hi"', None, True, 0.25], ["", "", 1.0, False, 3]]
    )
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1] == ["x,y", 'say "hi"', "", "true", "0.25"]
    assert rows[2] == ["", "", "1", "false", "3"]


def test_formula_like_text_is_neutralised() -> None:
    data = export.to_csv(["v"], [["=HYPERLINK(1)"], ["-2"], ["@x"], [-2]])
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(1)", "'-2", "'@x", "-2"]


def test_download_payload() -> None:
    payload = export.download("渠道 分布/1", ["a"], [[1]], datetime(2026, 11, 30, 14, 5))
    assert payload["filename"] == "渠道-分布-1-20261130-1405.csv"
    assert payload["base64"] is True
    assert payload["type"] == "text/csv; charset=utf-8"
    assert base64.b64decode(payload["content"]) == "\ufeffa\r\n1\r\n".encode()
