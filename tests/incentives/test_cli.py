"""``complaintops scoring show|whatif|publish`` against a real SQLite store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from complaintops.cli import main
from config import DEFAULTS_DIR
from events import contract as c
from store.db import make_engine
from store.migrate import upgrade
from tests.incentives.builders import SHANGHAI, Log, Script, by_time, store_sink

SHIPPED = (DEFAULTS_DIR / "scoring.yaml").read_text(encoding="utf-8")


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in list(os.environ):
        if name.upper().startswith("COMPLAINTOPS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COMPLAINTOPS_DATABASE_URL", sqlite_url)
    upgrade(sqlite_url, "heads")
    engine = make_engine(sqlite_url)
    late, quick = Script("LATE"), Script("QUICK")
    late.opened("2026-11-02T09:00:00+08:00", "h-001")
    late.add(c.DECISION_MADE, "2026-11-25T10:00:00+08:00")
    quick.opened("2026-11-24T09:00:00+08:00", "h-002")
    quick.add(c.DECISION_MADE, "2026-11-24T10:00:00+08:00")
    store_sink(engine).apply(Log().records(by_time(late.events + quick.events)))
    engine.dispose()
    yield sqlite_url


def rules_file(tmp_path: Path, **replacements: str) -> Path:
    text = SHIPPED
    for old, new in replacements.items():
        text = text.replace(old, new)
    path = tmp_path / "candidate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_whatif_prints_every_rank_change(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Late decisions cost 25 instead of 10 and on-time decisions give nothing: h-002's
    # only award disappears (out of the ranking), h-001 moves up to first with -25.
    path = rules_file(
        tmp_path,
        **{
            "decision_late: -10": "decision_late: -25",
            "decision_on_time: 10": "decision_on_time: 0",
        },
    )
    assert main(["scoring", "whatif", "--rules", str(path), "--period", "2026-W48"]) == 0
    out = capsys.readouterr().out
    assert "What if" in out and "2026-W48 (2026-11-23 to 2026-11-29)" in out
    assert "3 events of 2 cases replayed from their first event." in out
    assert "decision_late                -10       -25" in out
    assert "handlers: 2 of 2 change" in out
    assert "   2 → 1    ▲1        h-001           claims-east     -10 → -25\n" in out
    assert "   1 → —    out       h-002           claims-east     10 → 0\n" in out
    assert "teams: 1 of 1 change" in out


def test_whatif_with_a_bad_period_or_file(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = rules_file(tmp_path)
    assert main(["scoring", "whatif", "--rules", str(path), "--period", "2026-13"]) == 2
    assert "--period: no such period '2026-13'" in capsys.readouterr().err
    bad = rules_file(tmp_path, **{"rework: -2": "rework: lots"})
    assert main(["scoring", "whatif", "--rules", str(bad), "--period", "2026-11"]) == 2
    assert capsys.readouterr().err == (
        f"configuration error: {bad}: points.rework: must be a number from -1000 to 1000, "
        "got 'lots'\n"
    )


def test_publish_then_show(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = rules_file(tmp_path, **{"rework: -2": "rework: -5"})
    future = (datetime.now(SHANGHAI).date() + timedelta(days=7)).isoformat()
    argv = ["scoring", "publish", "--rules", str(path), "--from", future, "--by", "m-001"]
    assert main([*argv, "--note", "less rework"]) == 0
    assert f"published rules-{future}: in force from {future} 00:00 (Asia/Shanghai), by m-001" in (
        capsys.readouterr().out
    )
    assert main(["scoring", "show"]) == 0
    out = capsys.readouterr().out
    assert "scoring.yaml (in force from the beginning):" in out
    assert f"rules-{future}: in force from {future} (published by m-001 at " in out
    assert "  note: less rework" in out
    assert "  rework                      -5" in out


def test_publish_refuses_today(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    today = datetime.now(SHANGHAI).date().isoformat()
    path = rules_file(tmp_path)
    argv = ["scoring", "publish", "--rules", str(path), "--from", today, "--by", "m-001"]
    assert main(argv) == 2
    assert "not published: the effective-from date must be" in capsys.readouterr().err
    assert main([*argv[:5], "1 Dec", *argv[6:]]) == 2
    assert "--from: must be a date YYYY-MM-DD, got '1 Dec'" in capsys.readouterr().err
    assert date.fromisoformat(today)  # the zone's today is a real date
