"""A migrated SQLite store, the session's Valkey and the web server's test client."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from config import load_settings
from dashboard.app import create_app
from dashboard.auth.users import create_user
from store import migrate
from store.db import make_engine

KIOSK_TOKEN = "kiosk-unit-token-0123456789"
PASSWORD = "correct horse battery"


class FakeClock:
    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(scope="session")
def store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the test users (leader of claims-east, manager,
    admin, and a disabled leader "gone"), copied for each test: migrating and
    hashing once keeps the tests quick."""
    path = tmp_path_factory.mktemp("auth-store") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url, "heads")
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            create_user(session, "leader", PASSWORD, "leader", "claims-east")
            create_user(session, "manager", PASSWORD, "manager")
            create_user(session, "admin", PASSWORD, "admin")
            gone = create_user(session, "gone", PASSWORD, "leader")
            gone.active = False
    finally:
        engine.dispose()
    return path


@pytest.fixture
def auth_runtime(
    store_template: Path, tmp_path: Path, valkey_url: str, redis_client: redis.Redis
) -> Iterator[Runtime]:
    database = tmp_path / "store.db"
    shutil.copyfile(store_template, database)
    settings = load_settings(
        redis_url=valkey_url,
        database_url=f"sqlite:///{database}",
        secret_key="unit-test-secret-key-0123456789",
        kiosk_tokens=[KIOSK_TOKEN],
        api_tokens=["api-unit-token"],
        mode="production",
    )
    runtime = Runtime.from_settings(settings)
    try:
        yield runtime
    finally:
        runtime.engine.dispose()


@dataclass
class Web:
    client: FlaskClient
    clock: FakeClock
    runtime: Runtime


@pytest.fixture
def web(auth_runtime: Runtime) -> Web:
    """The dashboard's test client with the template's users and a fake clock."""
    clock = FakeClock()
    app = create_app(auth_runtime, clock=clock)
    return Web(app.server.test_client(), clock, auth_runtime)
