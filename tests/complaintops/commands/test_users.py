from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from complaintops.cli import main
from dashboard.auth.users import authenticate
from store import migrate
from store.db import make_engine

PASSWORD = "correct horse battery"


@pytest.fixture
def database(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    migrate.upgrade(sqlite_url, "heads")
    monkeypatch.setenv("COMPLAINTOPS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COMPLAINTOPS_DATA_DIR", str(tmp_path))
    return sqlite_url


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def test_add_list_disable_enable(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            monkeypatch,
            "users",
            "add",
            "Li.Na",
            "--role",
            "leader",
            "--team",
            "claims-east",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
        == 0
    )
    assert "added leader li.na" in capsys.readouterr().out
    assert run(monkeypatch, "users", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].split() == ["USERNAME", "ROLE", "TEAM", "STATE", "LAST", "SIGN-IN"]
    assert listing[1].split() == ["li.na", "leader", "claims-east", "active", "never"]

    engine = make_engine(database)
    try:
        with Session(engine) as session:
            assert authenticate(session, "li.na", PASSWORD) is not None
        assert run(monkeypatch, "users", "disable", "li.na") == 0
        assert "disabled li.na" in capsys.readouterr().out
        with Session(engine) as session:
            assert authenticate(session, "li.na", PASSWORD) is None
        assert run(monkeypatch, "users", "enable", "LI.NA") == 0
        with Session(engine) as session:
            assert authenticate(session, "li.na", PASSWORD) is not None
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("users", "add", "wang", "--role", "leader", "--password-stdin"), "at least 10"),
        (
            ("users", "add", "wang", "--role", "leader", "--team", "mars", "--password-stdin"),
            "unknown team",
        ),
        (("users", "disable", "nobody"), "no user"),
    ],
)
def test_bad_input_exits_2_with_the_reason(
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    message: str,
) -> None:
    stdin = "short\n" if "mars" not in argv else PASSWORD + "\n"
    assert run(monkeypatch, *argv, stdin=stdin) == 2
    assert message in capsys.readouterr().err


def test_a_duplicate_user_is_refused(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            monkeypatch,
            "users",
            "add",
            "wang",
            "--role",
            "admin",
            "--password-stdin",
            stdin=PASSWORD,
        )
        == 0
    )
    assert (
        run(
            monkeypatch,
            "users",
            "add",
            "Wang",
            "--role",
            "admin",
            "--password-stdin",
            stdin=PASSWORD,
        )
        == 2
    )
    assert "already exists" in capsys.readouterr().err


def test_prompt_asks_twice(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run(monkeypatch, "users", "add", "wang", "--role", "admin") == 2
    assert "passwords differ" in capsys.readouterr().err


def test_without_migrations_it_says_what_to_do(
    sqlite_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COMPLAINTOPS_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COMPLAINTOPS_DATA_DIR", str(tmp_path))
    assert run(monkeypatch, "users", "list") == 1
    assert "complaintops db upgrade" in capsys.readouterr().err
