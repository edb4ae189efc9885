"""Shared fixtures: the embedded broker and Valkey (once per session), databases, topics.

Tests isolate from each other by topic and consumer-group names (``new_topic``,
``topic_factory``, ``new_group_id``) and by ``FLUSHALL`` (``redis_client``).
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL, make_url

from complaintops.embedded import (
    EmbeddedService,
    EmbeddedStartError,
    PortInUseError,
    create_topics,
    find_free_port,
    start_broker,
    start_valkey,
)
from complaintops.embedded_cluster import EmbeddedCluster, start_valkey_cluster

DEFAULT_TEST_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTGRES_ENV = "COMPLAINTOPS_TEST_POSTGRES"
BROWSER_BINARIES = (Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver"))
TOPIC_PARTITIONS = 3

_SERVICE_FIXTURES = {
    "kafka_bootstrap",
    "valkey_url",
    "redis_client",
    "valkey_cluster",
    "cluster_client",
    "new_topic",
    "topic_factory",
}


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A command run in-process replaces the root logger's handler with one on
    the test's captured stderr, which pytest closes after the test: restore the
    root logger so later tests' threads (e.g. the browser tests' server) do not
    log into a closed stream."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


# -- hooks ---------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests by what they need, so ``-m "not integration"`` runs the fast ones."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & _SERVICE_FIXTURES:
            item.add_marker(pytest.mark.integration)
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        if "postgres_url" in fixtures or params.get("database_url") == "postgres":
            item.add_marker(pytest.mark.postgres)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip ``browser`` tests when Chromium is missing; on CI (env CI set) fail instead."""
    if item.get_closest_marker("browser") is None:
        return
    missing = [str(path) for path in BROWSER_BINARIES if not path.exists()]
    if not missing:
        return
    reason = (
        f"browser test needs {' and '.join(missing)} (Debian packages chromium, chromium-driver)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; CI must install them", pytrace=False)
    pytest.skip(reason)


# -- embedded services -------------------------------------------------------


def _start_on_free_port(start: Callable[[int], EmbeddedService]) -> EmbeddedService:
    """Start a service on a free port, trying again if another process grabs the port first."""
    attempts = 3
    for attempt in range(attempts):
        try:
            return start(find_free_port())
        except PortInUseError:
            if attempt == attempts - 1:
                raise
    raise EmbeddedStartError("unreachable")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded Tansu broker for the whole session; yields "127.0.0.1:PORT"."""
    log_dir = tmp_path_factory.mktemp("kafka")
    broker = _start_on_free_port(lambda port: start_broker(port, log_dir))
    try:
        yield broker.address
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def valkey_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded valkey-server for the whole session; yields "redis://127.0.0.1:PORT/0"."""
    data_dir = tmp_path_factory.mktemp("valkey")
    server = _start_on_free_port(lambda port: start_valkey(port, data_dir))
    try:
        yield server.address
    finally:
        server.stop()


@pytest.fixture
def redis_client(valkey_url: str) -> Iterator[redis.Redis]:
    """A client on the session's Valkey (bytes replies), emptied before the test."""
    client = redis.Redis.from_url(valkey_url, decode_responses=False)
    client.flushall()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """An embedded Valkey Cluster of three primaries for the whole session."""
    cluster = start_valkey_cluster(tmp_path_factory.mktemp("valkey-cluster"))
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_client(valkey_cluster: EmbeddedCluster) -> Iterator[redis.RedisCluster]:
    """A cluster client on the session's cluster (bytes replies), emptied before the test."""
    client = valkey_cluster.client(decode_responses=False)
    client.flushall(target_nodes=redis.RedisCluster.PRIMARIES)
    try:
        yield client
    finally:
        client.close()


# -- topics and groups -------------------------------------------------------


def _unique_name(prefix: str, request: pytest.FixtureRequest) -> str:
    test_name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-")[:80]
    return f"{prefix}.{test_name}.{uuid.uuid4().hex[:8]}"


TopicFactory = Callable[[], str]


@pytest.fixture
def topic_factory(kafka_bootstrap: str, request: pytest.FixtureRequest) -> TopicFactory:
    """Call it to get a fresh topic (3 partitions) whose ``<topic>.dlq`` exists too."""

    def make_topic() -> str:
        topic = _unique_name("test", request)
        create_topics(kafka_bootstrap, {topic: TOPIC_PARTITIONS, f"{topic}.dlq": TOPIC_PARTITIONS})
        return topic

    return make_topic


@pytest.fixture
def new_topic(topic_factory: TopicFactory) -> str:
    """A fresh topic name (3 partitions) on the session broker; ``<topic>.dlq`` exists too."""
    return topic_factory()


@pytest.fixture
def new_group_id(request: pytest.FixtureRequest) -> str:
    """A consumer-group id no other test uses."""
    return _unique_name("group", request)


# -- databases ---------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _psycopg_connect(url: URL) -> psycopg.Connection[TupleRow]:
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        connect_timeout=3,
        autocommit=True,
    )


@pytest.fixture(scope="session")
def postgres_server_url() -> URL:
    """The SQLAlchemy URL of a reachable PostgreSQL maintenance database, or skip."""
    url = make_url(os.environ.get(POSTGRES_ENV, DEFAULT_TEST_POSTGRES))
    try:
        with _psycopg_connect(url):
            pass
    except psycopg.Error:
        pytest.skip(
            f"no PostgreSQL server reachable at {url.render_as_string(hide_password=True)} "
            f"(set {POSTGRES_ENV} to use another)"
        )
    return url


@pytest.fixture
def postgres_url(postgres_server_url: URL) -> Iterator[str]:
    """A fresh empty database ``complaintops_test_<random>``, dropped afterwards."""
    database = f"complaintops_test_{uuid.uuid4().hex[:12]}"
    with _psycopg_connect(postgres_server_url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        yield postgres_server_url.set(database=database).render_as_string(hide_password=False)
    finally:
        with _psycopg_connect(postgres_server_url) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )


@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL (skipped when unreachable)."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url
