"""Scenario 4: the database refuses every connection for a while.

The store consumer writes to a fresh PostgreSQL database. Part way through
the stream the database is closed to everyone, as an outage looks from the
consumer's side: ``ALTER DATABASE … ALLOW_CONNECTIONS false`` and
``pg_terminate_backend`` on its sessions (their transactions roll back, and
new connections are refused with "database … is not currently accepting
connections"). For 30 s (quick: 8 s) the group's committed offsets must not
move and the consumer must stay up, retrying. Then the database is opened
again, the rest of the stream is produced, and the ``cases`` table, the event
log and the rejected records must equal the oracle.

Without a reachable PostgreSQL (``COMPLAINTOPS_TEST_POSTGRES``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) the scenario is
skipped and says so.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL, make_url

from bench.faults.stage import (
    Findings,
    Stage,
    compare_store,
    log_lines,
    new_stream,
    wait_until_committed,
    wait_until_count,
)
from store.migrate import upgrade
from store.models import REJECTED_DUPLICATE, REJECTED_INVALID
from tests.pipeline.helpers import (
    Pipeline,
    rejected_positions,
    running_consumers,
    wait_until_stored,
)

NAME: Final = "database_outage"
SEED: Final = 20_261_204
POSTGRES_ENV: Final = "COMPLAINTOPS_TEST_POSTGRES"
DEFAULT_POSTGRES: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FIRST_PART: Final = 0.6
OUTAGE_AT_SHARE: Final = 0.2  # of the first part, stored by the store consumer
SETTLE_SECONDS: Final = 1.5
WATCH_EVERY: Final = 0.5
UNAVAILABLE_LOG: Final = "database unavailable"


def sizes(quick: bool) -> tuple[int, float]:
    """(records, seconds the database refuses connections)."""
    return (20_000, 8.0) if quick else (60_000, 30.0)


def server_url() -> URL:
    return make_url(os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES))


def admin_connection(url: URL) -> psycopg.Connection[TupleRow]:
    return psycopg.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
        connect_timeout=3,
        autocommit=True,
    )


def reachable(url: URL) -> bool:
    try:
        with admin_connection(url):
            return True
    except psycopg.Error:
        return False


@contextmanager
def scratch_database(url: URL) -> Iterator[tuple[URL, str]]:
    """A new empty database on the server; dropped (with its sessions) afterwards."""
    name = f"complaintops_faults_{uuid.uuid4().hex[:12]}"
    with admin_connection(url) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url, name
    finally:
        with admin_connection(url) as connection:
            connection.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
            )
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def close_database(url: URL, name: str) -> int:
    """Refuse new connections and end the open ones; how many sessions were ended."""
    with admin_connection(url) as connection:
        connection.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name))
        )
        ended = connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    return int(ended[0]) if ended else 0


def open_database(url: URL, name: str) -> None:
    with admin_connection(url) as connection:
        connection.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(name))
        )


def watch_outage(findings: Findings, pipeline: Pipeline, seconds: float) -> None:
    """While the database is closed: the store group's committed offsets stay still."""
    time.sleep(SETTLE_SECONDS)
    committed = pipeline.committed_offsets("store")
    moved: list[dict[int, int]] = []
    samples = 0
    deadline = time.monotonic() + max(0.0, seconds - SETTLE_SECONDS)
    while time.monotonic() < deadline:
        now_committed = pipeline.committed_offsets("store")
        if now_committed != committed:
            moved.append(now_committed)
        samples += 1
        time.sleep(WATCH_EVERY)
    findings.check(
        "database closed: the store group's committed offsets did not move",
        not moved and samples > 0,
        committed=committed,
        moved_to=moved[:3],
        samples=samples,
    )


def run(stage: Stage, records: int | None = None) -> Findings:
    default_records, outage = sizes(stage.quick)
    records = records or default_records
    findings = Findings()
    url = server_url()
    if not reachable(url):
        findings.skipped = (
            f"no PostgreSQL reachable at {url.render_as_string(hide_password=True)} "
            f"(set {POSTGRES_ENV})"
        )
        return findings
    stage.empty_redis()
    with scratch_database(url) as (server, name):
        database_url = server.set(database=name).render_as_string(hide_password=False)
        upgrade(database_url)
        stream = new_stream(stage, "faults-db", records, SEED)
        first = stream.produce_until(FIRST_PART)
        first_count = sum(o + 1 for o in first.values())
        findings.figure("records", stream.size)
        findings.figure("database", "PostgreSQL, closed with ALLOW_CONNECTIONS false")
        pipeline = stage.pipeline(stream, database_url)
        with running_consumers(pipeline, stage.folder(NAME)) as consumers:
            store = consumers.start("store")
            closed_at = wait_until_count(pipeline, store, round(first_count * OUTAGE_AT_SHARE))
            ended = close_database(server, name)
            try:
                watch_outage(findings, pipeline, outage)
            finally:
                open_database(server, name)
            findings.figure(
                "outage",
                {"seconds": outage, "sessions_ended": ended, "store_stored_at_outage": closed_at},
            )
            findings.check(
                "the database closed while the store consumer was still consuming",
                closed_at < first_count,
                stored=closed_at,
                produced=first_count,
            )
            unavailable = log_lines(store, UNAVAILABLE_LOG)
            findings.figure("retries_logged", unavailable)
            findings.check(
                "the store consumer saw the outage and retried (logged)", unavailable > 0
            )
            findings.check("the store consumer stayed up through the outage", store.alive)
            last = stream.produce_until(1.0)
            wait_until_stored(pipeline, "store", last, store, timeout=900.0)
            findings.check(
                "the store group commits again after the outage",
                wait_until_committed(pipeline, "store", last),
                committed=pipeline.committed_offsets("store"),
            )
            findings.check(
                "the same store consumer process caught up",
                store.alive and len(consumers.started) == 1,
            )
        oracle = stream.oracle()
        compare_store(findings, database_url, oracle)
        for kind, expected in (
            (REJECTED_INVALID, oracle.invalid_positions),
            (REJECTED_DUPLICATE, oracle.duplicate_positions),
        ):
            found = rejected_positions(database_url, kind)
            findings.check(
                f"rejected_events holds every {kind} record once",
                found == sorted(expected),
                found=len(found),
                expected=len(expected),
            )
    return findings
