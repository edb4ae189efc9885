"""Rebuild: Redis rebuilt from the SQL event log against a bare scan of the same rows.

The event log is filled directly with the valid records of a simulated
centre (1,000,000 events by default). The reference reads the same rows in
the same order with the same query and decodes each payload; the rebuild
also validates, replays the state machine and writes the whole read model.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import insert

from bench.common import TZ, Services, simulated
from metrics.rebuild import rebuild
from metrics.source import iter_logged_events, read_transaction
from store import migrate
from store.db import make_engine
from store.models import CaseEventRow, ConsumerOffset

TOPIC = "complaints.case-events"
STORE_GROUP = "complaintops-store"
INSERT_BATCH = 20_000


def _fill(url: str, events: int) -> int:
    records = [e for e in simulated(int(events * 1.02), seed=31) if e.kind == "valid"][:events]
    engine = make_engine(url)
    now = datetime.now(UTC)
    rows = []
    offsets: dict[int, int] = {}
    for offset, record in enumerate(records):
        body = orjson.loads(record.value)
        partition = hash(record.case_id) % 6
        offsets[partition] = offset
        rows.append(
            {
                "event_id": body["event_id"],
                "case_id": body["case_id"],
                "seq": body["seq"],
                "type": body["type"],
                "occurred_at": datetime.fromtimestamp(record.occurred_at, UTC),
                "topic": TOPIC,
                "partition": partition,
                "offset": offset,
                "gap": 0,
                "payload": record.value.decode(),
                "stored_at": now,
            }
        )
    for i in range(0, len(rows), INSERT_BATCH):
        with engine.begin() as connection:
            connection.execute(insert(CaseEventRow), rows[i : i + INSERT_BATCH])
    with engine.begin() as connection:
        connection.execute(
            insert(ConsumerOffset),
            [
                {
                    "group": STORE_GROUP,
                    "topic": TOPIC,
                    "partition": p,
                    "offset": o,
                    "updated_at": now,
                }
                for p, o in offsets.items()
            ],
        )
    engine.dispose()
    return len(rows)


def run(
    services: Services, events: int = 1_000_000, database_url: str | None = None
) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="complaintops-bench-rebuild-") as tmp:
        url = database_url or f"sqlite:///{Path(tmp) / 'log.db'}"
        migrate.upgrade(url)
        count = _fill(url, events)
        engine = make_engine(url)
        everything = {p: 1 << 62 for p in range(6)}
        started = time.perf_counter()
        scanned = 0
        with read_transaction(engine) as connection:
            for _, payload in iter_logged_events(connection, TOPIC, everything):
                orjson.loads(payload)
                scanned += 1
        bare = time.perf_counter() - started
        client = services.redis()
        client.flushall()
        started = time.perf_counter()
        report = rebuild(
            client, engine, group="bench-metrics", topic=TOPIC, tz=TZ, store_group=STORE_GROUP
        )
        ours = time.perf_counter() - started
        engine.dispose()
        client.flushall()
    return {
        "events": count,
        "scanned": scanned,
        "events_per_s": round(count / ours),
        "bare_events_per_s": round(scanned / bare),
        "ratio": round(bare / ours, 3),
        "replayed": report.totals.applied if hasattr(report.totals, "applied") else count,
    }
