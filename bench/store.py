"""Store: the SQL sink against a bare bulk insert of the same rows.

The sink decodes, validates, applies the state machine, writes the event
log, the cases, the rejects, the points ledger and the offsets in one
transaction per batch. The reference inserts the same event-log rows in the
same batch sizes with one executemany per batch, into the same kind of
database, in the same run.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
from sqlalchemy import delete, insert

from bench.common import TZ, simulated
from events.batch import RawRecord
from store import migrate
from store.db import make_engine
from store.models import CaseEventRow
from store.sink import SqlSink

BATCH = 2000


def run(records: int = 60_000, database_url: str | None = None) -> dict[str, float]:
    events = simulated(records, seed=11)
    raw = [RawRecord("bench", hash(e.case_id) % 6, i, e.value) for i, e in enumerate(events)]
    batches = [raw[i : i + BATCH] for i in range(0, len(raw), BATCH)]
    with tempfile.TemporaryDirectory(prefix="complaintops-bench-store-") as tmp:
        ours_url = database_url or f"sqlite:///{Path(tmp) / 'sink.db'}"
        bare_url = f"sqlite:///{Path(tmp) / 'bare.db'}" if database_url is None else database_url
        migrate.upgrade(ours_url)
        engine = make_engine(ours_url)
        sink = SqlSink(engine, "bench-store", TZ)
        started = time.perf_counter()
        applied = 0
        for batch in batches:
            applied += sink.apply(batch).applied
        ours = time.perf_counter() - started
        engine.dispose()

        # The same applied rows, bare.
        rows = []
        now = datetime.now(UTC)
        for record in raw:
            assert record.value is not None
            try:
                body = orjson.loads(record.value)
            except orjson.JSONDecodeError:
                continue
            if not isinstance(body, dict):
                continue
            rows.append(
                {
                    "event_id": str(body.get("event_id")),
                    "case_id": str(body.get("case_id")),
                    "seq": body.get("seq") if isinstance(body.get("seq"), int) else 0,
                    "type": str(body.get("type"))[:32],
                    "occurred_at": now,
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "gap": 0,
                    "payload": record.value.decode("utf-8", "replace"),
                    "stored_at": now,
                }
            )
        if database_url is not None:
            bare_engine = make_engine(bare_url)
            with bare_engine.begin() as connection:
                connection.execute(delete(CaseEventRow))
        else:
            migrate.upgrade(bare_url)
            bare_engine = make_engine(bare_url)
        unique: dict[str, dict[str, object]] = {}
        for row in rows:
            unique.setdefault(str(row["event_id"]), row)
        seen_keys: set[tuple[object, object]] = set()
        bare_rows = []
        for row in unique.values():
            key = (row["case_id"], row["seq"])
            if key not in seen_keys:
                seen_keys.add(key)
                bare_rows.append(row)
        started = time.perf_counter()
        for i in range(0, len(bare_rows), BATCH):
            with bare_engine.begin() as connection:
                connection.execute(insert(CaseEventRow), bare_rows[i : i + BATCH])
        bare = time.perf_counter() - started
        bare_engine.dispose()
    return {
        "records": len(raw),
        "events_per_s": round(len(raw) / ours),
        "bare_rows_per_s": round(len(bare_rows) / bare),
        "ratio": round((len(raw) / ours) / (len(bare_rows) / bare), 3),
    }
