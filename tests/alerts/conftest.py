"""Fixtures of the alerting tests: a mutable clock, a real SMTP server on loopback
(the mail catcher), a migrated database, and events fed through the real sinks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from alerts.mailcatcher import MailCatcher
from alerts.service import AlertService
from alerts.smtp import SmtpConfig, SmtpTransport
from complaintops.embedded import find_free_port
from complaintops.runtime import Runtime
from config import DEFAULTS_DIR, load_settings
from events.batch import RawRecord
from events.timeutil import parse_rfc3339
from metrics.sink import RedisSink
from store.db import make_engine
from store.migrate import upgrade
from store.sink import SqlSink
from tests.events.factory import SHANGHAI, encode

NOW = parse_rfc3339("2026-12-01T10:00:00+08:00")
SECRET = "test-secret-key"
DASHBOARD = "https://ops.example.com"


class FakeClock:
    """'now' for the code under test; tests move it instead of sleeping."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture(autouse=True)
def _no_complaintops_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("COMPLAINTOPS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Catcher:
    """A mail catcher on a fixed port that can be stopped and started again."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = find_free_port()
        self.server: MailCatcher | None = None

    def start(self) -> Catcher:
        self.server = MailCatcher(self.folder, port=self.port).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def messages(self) -> list[Any]:
        from alerts.mailcatcher import read_mail_dir

        return read_mail_dir(self.folder)


@pytest.fixture
def catcher(tmp_path: Path) -> Iterator[Catcher]:
    server = Catcher(tmp_path / "mail").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def migrated_url(database_url: str) -> str:
    upgrade(database_url, "heads")
    return database_url


def write_rules(folder: Path, alerts: Mapping[str, Any] | None = None, **files: Any) -> Path:
    """A rules dir with alerts.yaml = the shipped default updated by ``alerts`` (deeply)."""
    folder.mkdir(parents=True, exist_ok=True)
    document = yaml.safe_load((DEFAULTS_DIR / "alerts.yaml").read_text(encoding="utf-8"))
    _merge(document, dict(alerts or {}))
    (folder / "alerts.yaml").write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    for name, content in files.items():
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(content, allow_unicode=True), "utf-8")
    return folder


def _merge(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


ServiceFactory = Callable[..., AlertService]


@pytest.fixture
def make_runtime(
    valkey_url: str, migrated_url: str, catcher: Catcher, tmp_path: Path
) -> Callable[..., Runtime]:
    def build(alerts: Mapping[str, Any] | None = None, **settings: Any) -> Runtime:
        rules_dir = write_rules(tmp_path / "rules", alerts)
        values: dict[str, Any] = {
            "redis_url": valkey_url,
            "database_url": migrated_url,
            "smtp_host": "127.0.0.1",
            "smtp_port": catcher.port,
            "secret_key": SECRET,
            "dashboard_url": DASHBOARD,
            "rules_dir": rules_dir,
            "data_dir": tmp_path,
        }
        values.update(settings)
        return Runtime.from_settings(load_settings(**values))

    return build


@pytest.fixture
def make_service(
    make_runtime: Callable[..., Runtime], clock: FakeClock, catcher: Catcher
) -> ServiceFactory:
    def build(
        alerts: Mapping[str, Any] | None = None, worker_id: str = "worker-1", **settings: Any
    ) -> AlertService:
        runtime = make_runtime(alerts, **settings)
        transport = SmtpTransport(SmtpConfig("127.0.0.1", catcher.port, timeout=5))
        return AlertService.from_runtime(
            runtime, transport=transport, clock=clock, worker_id=worker_id
        )

    return build


class EventFeed:
    """Puts contract-valid events through the metrics sink (Redis) and the store sink (SQL)."""

    def __init__(self, client: redis.Redis, database_url: str | None, clock: FakeClock) -> None:
        self.redis_sink = RedisSink(client, "complaintops-metrics", SHANGHAI, clock=clock)
        self.redis_sink.prepare(group_has_committed=False)
        self.engine = make_engine(database_url) if database_url else None
        self.sql_sink = (
            SqlSink(self.engine, "complaintops-store", SHANGHAI) if self.engine else None
        )
        self.offset = 0

    def apply(self, events: Iterable[Mapping[str, Any]]) -> None:
        records = []
        for event in events:
            records.append(
                RawRecord(
                    "complaints.case-events",
                    0,
                    self.offset,
                    encode(event),
                    str(event["case_id"]).encode(),
                )
            )
            self.offset += 1
        summary = self.redis_sink.apply(records)
        assert not summary.invalid, summary.invalid
        if self.sql_sink is not None:
            stored = self.sql_sink.apply(records)
            assert not stored.invalid, stored.invalid

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


@pytest.fixture
def feed(redis_client: redis.Redis, migrated_url: str, clock: FakeClock) -> Iterator[EventFeed]:
    events = EventFeed(redis_client, migrated_url, clock)
    try:
        yield events
    finally:
        events.close()
