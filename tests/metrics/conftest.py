"""Fixtures shared by the rebuild and reconcile tests: a migrated database and
the two sinks of the scripted stream's groups."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine

from metrics.sink import RedisSink
from store.db import make_engine
from store.migrate import upgrade
from store.sink import STORE_GROUP, SqlSink
from tests.events.factory import SHANGHAI
from tests.metrics.test_reconcile import METRICS_GROUP, NOW


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url, "heads")
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def metrics_sink(redis_client: redis.Redis) -> RedisSink:
    sink = RedisSink(redis_client, METRICS_GROUP, SHANGHAI, clock=lambda: NOW)
    sink.prepare(group_has_committed=False)
    return sink


@pytest.fixture
def store_sink(engine: Engine) -> SqlSink:
    return SqlSink(engine, STORE_GROUP, SHANGHAI)
