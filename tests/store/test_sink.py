"""SqlSink against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.engine import make_url

from consumers.sink import Sink, SinkNotReady, SinkUnavailable
from events.decode import decode
from events.errors import InvalidEvent
from events.scoring import ScoringRules
from incentives.rulebook import RuleBook
from store.db import make_engine
from store.migrate import upgrade
from store.models import Case, CaseEventRow, ConsumerOffset, PointsEntry, RejectedEvent
from store.sink import REUSED_EVENT_ID, STORE_GROUP, SqlSink, decision_deadline
from tests.store.builders import SHANGHAI, TOPIC, Records, at, encode, event, opened

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sink(engine: Engine) -> SqlSink:
    return SqlSink(engine, STORE_GROUP, SHANGHAI, now=lambda: NOW)


def test_sql_sink_is_a_sink(sink: SqlSink) -> None:
    as_protocol: Sink = sink  # checked by mypy
    assert as_protocol.name == "store"
    assert as_protocol.ping() is True


def _rows(engine: Engine, model: type[Any], order: Any) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(model).order_by(order)).mappings())


def _count(engine: Engine, model: type[Any]) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def _case(engine: Engine, case_id: str) -> Any:
    with engine.connect() as connection:
        return connection.execute(select(Case).where(Case.case_id == case_id)).mappings().one()


def _end_of_day_utc(year: int, month: int, day: int) -> datetime:
    """24:00 of a Shanghai day, as UTC."""
    return (datetime(year, month, day, tzinfo=SHANGHAI) + timedelta(days=1)).astimezone(UTC)


# -- a whole case ------------------------------------------------------------


def test_a_batch_stores_events_case_points_and_offsets(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    bodies = [
        opened(
            "C1",
            at(0),
            group_size=3,
            complainant={"gender": "m", "age_band": "60+", "occupation": "teacher", "repeat": True},
        ),
        event("C1", 2, "case.stage_changed", at(1), to_stage="investigation"),
        event("C1", 3, "case.decision_made", at(5), outcome="partially_upheld"),
        event("C1", 4, "case.follow_up_scheduled", at(6), due_at=at(8).isoformat()),
        event("C1", 5, "case.follow_up_done", at(7), satisfaction=5),
        event("C1", 6, "case.escalated", at(7, hours=1), to="regulator"),
        event("C1", 7, "case.closed", at(9), resolution="resolved", satisfaction=1),
    ]
    batch = records.many(bodies)

    summary = sink.apply(batch)

    assert (summary.applied, summary.duplicates, summary.gaps, summary.skipped) == (7, 0, 0, 0)
    assert summary.invalid == []
    assert summary.offsets == {0: 6}
    assert sink.stored_offsets(TOPIC) == {0: 6}

    logged = _rows(engine, CaseEventRow, CaseEventRow.seq)
    assert [(r["seq"], r["type"], r["offset"], r["gap"]) for r in logged] == [
        (i + 1, body["type"], i, 0) for i, body in enumerate(bodies)
    ]
    assert [r["payload"].encode() for r in logged] == [record.value for record in batch]
    assert logged[0]["occurred_at"] == at(0).astimezone(UTC)
    assert logged[0]["stored_at"] == NOW

    case = _case(engine, "C1")
    assert case["status"] == "closed"
    assert case["stage"] == "investigation"
    assert (case["team_id"], case["handler_id"]) == ("claims-east", "h-017")
    assert (case["channel"], case["category"], case["product_line"], case["priority"]) == (
        "phone",
        "claims",
        "auto",
        "normal",
    )
    assert case["group_size"] == 3
    assert (case["gender"], case["age_band"], case["occupation"], case["repeat_complainant"]) == (
        "m",
        "60+",
        "teacher",
        True,
    )
    assert case["opened_at"] == at(0) and case["received_at"] == at(0)
    assert case["stage_entered_at"] == at(1)
    assert case["closed_at"] == at(9)
    assert case["decided_at"] == at(5)
    assert case["decision_deadline"] == _end_of_day_utc(2026, 12, 9)
    assert case["clock_paused_since"] is None
    assert case["follow_up_due"] == at(8)
    assert case["follow_up_done"] is True
    assert case["outcome"] == "partially_upheld"
    assert case["first_satisfaction"] == 5
    assert case["resolution"] == "resolved"
    assert case["escalated_to"] == "regulator"
    assert (case["reopen_count"], case["rework_count"], case["last_seq"]) == (0, 0, 7)
    assert case["updated_at"] == NOW

    points = _rows(engine, PointsEntry, PointsEntry.id)
    assert [(p["rule"], p["points"], p["handler_id"], p["team_id"]) for p in points] == [
        ("decision_on_time", 10, "h-017", "claims-east"),
        ("follow_up_on_time", 3, "h-017", "claims-east"),
        ("satisfaction", 5, "h-017", "claims-east"),
        ("escalated_to_regulator", -20, "h-017", "claims-east"),
    ]
    assert points[0]["event_id"] == bodies[2]["event_id"]
    assert points[0]["occurred_at"] == at(5)
    assert {p["ruleset"] for p in points} == {"default"}


def test_case_state_column_is_what_the_core_reads_back(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    sink.apply(
        records.many(
            [opened("C1"), event("C1", 2, "case.assigned", at(1), team_id="t2", handler_id="h2")]
        )
    )

    sink.apply([records.make(event("C1", 3, "case.stage_changed", at(2), to_stage="resolution"))])

    case = _case(engine, "C1")
    assert (case["team_id"], case["handler_id"], case["stage"], case["last_seq"]) == (
        "t2",
        "h2",
        "resolution",
        3,
    )
    # Event-derived columns survive later batches.
    assert (case["gender"], case["received_at"]) == ("f", at(0))


def test_reapplying_the_same_records_is_a_no_op(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    batch = records.many([opened("C1"), event("C1", 2, "case.decision_made", at(1))])
    sink.apply(batch)

    again = sink.apply(batch)

    assert (again.applied, again.duplicates, again.skipped) == (0, 0, 2)
    assert again.offsets == {0: 1}
    assert _count(engine, CaseEventRow) == 2
    assert _count(engine, RejectedEvent) == 0
    assert _count(engine, PointsEntry) == 1


def test_a_batch_partly_stored_before_applies_only_the_new_records(
    engine: Engine, sink: SqlSink
) -> None:
    records = Records()
    first = records.many(
        [opened("C1"), event("C1", 2, "case.stage_changed", at(1), to_stage="review")]
    )
    sink.apply(first[:1])

    summary = sink.apply(first)

    assert (summary.applied, summary.skipped) == (1, 1)
    assert _case(engine, "C1")["stage"] == "review"


def test_duplicate_seq_at_a_new_offset_is_rejected_as_duplicate(
    engine: Engine, sink: SqlSink
) -> None:
    records = Records()
    body = opened("C1")
    sink.apply([records.make(body)])

    summary = sink.apply([records.make(body)])

    assert (summary.applied, summary.duplicates) == (0, 1)
    (rejected,) = _rows(engine, RejectedEvent, RejectedEvent.id)
    assert (rejected["kind"], rejected["reason"], rejected["offset"]) == ("duplicate", None, 1)
    assert (rejected["case_id"], rejected["event_id"]) == ("C1", body["event_id"])
    assert rejected["raw"] == encode(body)
    assert _count(engine, CaseEventRow) == 1
    assert sink.stored_offsets(TOPIC) == {0: 1}


def test_stale_event_after_later_ones_is_a_duplicate(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    stale = event("C1", 2, "case.stage_changed", at(1), to_stage="investigation")
    summary = sink.apply(
        records.many([opened("C1"), stale, event("C1", 3, "case.decision_made", at(2)), stale])
    )
    assert (summary.applied, summary.duplicates) == (3, 1)


def _core_reason(raw: bytes) -> str:
    with pytest.raises(InvalidEvent) as caught:
        decode(raw)
    return caught.value.reason


def test_invalid_records_are_kept_with_the_core_reason(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    not_json = b'{"schema": "case-event/v1", "case_id": "C9", '
    bad_form = encode({**opened("C7"), "channel": "fax"})
    batch = [
        records.make(not_json),
        records.make(None),
        records.make(bad_form),
        records.make(event("C2", 2, "case.assigned", at(1), team_id="t", handler_id="h")),
        records.make(opened("C1")),
        records.make(event("C1", 2, "case.clock_paused", at(1), reason="mediation")),
        records.make(event("C1", 3, "case.clock_paused", at(2), reason="external_appraisal")),
    ]

    summary = sink.apply(batch)

    assert summary.applied == 2
    expected = [
        (0, _core_reason(not_json), None, None, not_json),
        (1, "empty record value (tombstone)", None, None, None),
        (2, _core_reason(bad_form), "C7", orjson_event_id(bad_form), bad_form),
        (3, "unknown case 'C2': case.assigned before case.opened", "C2", None, batch[3].value),
        (6, "the decision clock of case 'C1' is already paused", "C1", None, batch[6].value),
    ]
    assert [(r.offset, reason) for r, reason in summary.invalid] == [(e[0], e[1]) for e in expected]
    rejected = _rows(engine, RejectedEvent, RejectedEvent.offset)
    assert [(r["offset"], r["kind"], r["reason"], r["case_id"], r["raw"]) for r in rejected] == [
        (e[0], "invalid", e[1], e[2], e[4]) for e in expected
    ]
    assert rejected[2]["event_id"] == orjson_event_id(bad_form)
    assert "field 'channel'" in rejected[2]["reason"]
    # An invalid event does not advance the case's seq.
    assert _case(engine, "C1")["last_seq"] == 2
    assert sink.stored_offsets(TOPIC) == {0: 6}


def orjson_event_id(raw: bytes) -> str:
    value: str = orjson.loads(raw)["event_id"]
    return value


def test_event_id_already_in_the_log_is_rejected_and_not_applied(
    engine: Engine, sink: SqlSink
) -> None:
    records = Records()
    sink.apply([records.make(opened("C1", event_id="same-id"))])

    summary = sink.apply(
        [
            records.make(opened("C2", event_id="same-id")),
            records.make(event("C1", 2, "case.decision_made", at(1), event_id="same-id")),
            records.make(opened("C3")),
        ]
    )

    assert (summary.applied, summary.duplicates) == (1, 2)
    rejected = _rows(engine, RejectedEvent, RejectedEvent.offset)
    assert [(r["kind"], r["reason"], r["case_id"], r["event_id"]) for r in rejected] == [
        ("duplicate", REUSED_EVENT_ID, "C2", "same-id"),
        ("duplicate", REUSED_EVENT_ID, "C1", "same-id"),
    ]
    with engine.connect() as connection:
        cases = connection.execute(select(Case.case_id).order_by(Case.case_id)).scalars().all()
    assert cases == ["C1", "C3"]
    assert _case(engine, "C1")["last_seq"] == 1


def test_event_id_repeated_within_one_batch_applies_once(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    summary = sink.apply(
        records.many(
            [
                opened("C1", event_id="twice"),
                opened("C2", event_id="twice"),
                event("C1", 2, "case.stage_changed", at(1), to_stage="review"),
            ]
        )
    )
    assert (summary.applied, summary.duplicates) == (2, 1)
    (rejected,) = _rows(engine, RejectedEvent, RejectedEvent.id)
    assert (rejected["case_id"], rejected["reason"]) == ("C2", REUSED_EVENT_ID)
    assert _case(engine, "C1")["stage"] == "review"


def test_redelivered_event_with_its_own_id_is_an_ordinary_duplicate(
    engine: Engine, sink: SqlSink
) -> None:
    records = Records()
    body = opened("C1")
    sink.apply([records.make(body)])
    sink.apply([records.make(body)])
    (rejected,) = _rows(engine, RejectedEvent, RejectedEvent.id)
    assert (rejected["kind"], rejected["reason"]) == ("duplicate", None)


def test_nul_characters_are_rejected_in_ids_and_replaced_in_free_text(
    engine: Engine, sink: SqlSink
) -> None:
    records = Records()
    body = opened("C1", complainant={"occupation": "x\x00y"})
    bad = opened("C2", event_id="bad\x00id", handler_id="h\x00")
    summary = sink.apply(records.many([body, bad]))
    assert summary.applied == 1 and len(summary.invalid) == 1
    case = _case(engine, "C1")
    assert case["occupation"] == "x\ufffdy"
    (rejected,) = _rows(engine, RejectedEvent, RejectedEvent.id)
    assert rejected["kind"] == "invalid"
    assert rejected["event_id"] == "bad\ufffdid"
    assert rejected["reason"] == _core_reason(encode(bad)).replace("\x00", "\ufffd")
    assert "printable" in rejected["reason"]


def test_seq_gap_is_applied_and_counted(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    summary = sink.apply(
        records.many([opened("C1"), event("C1", 4, "case.stage_changed", at(1), to_stage="review")])
    )
    assert (summary.applied, summary.gaps) == (2, 1)
    logged = _rows(engine, CaseEventRow, CaseEventRow.seq)
    assert [(r["seq"], r["gap"]) for r in logged] == [(1, 0), (4, 2)]


def test_partitions_and_topics_keep_their_own_offsets(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    other = Records("other-topic")
    batch = [
        records.make(opened("C1"), partition=0),
        records.make(opened("C2"), partition=2),
        records.make(opened("C3"), partition=2),
        other.make(opened("C4"), partition=0),
    ]
    summary = sink.apply(batch)
    assert summary.applied == 4
    assert sink.stored_offsets(TOPIC) == {0: 0, 2: 1}
    assert sink.stored_offsets("other-topic") == {0: 0}
    other_group = SqlSink(engine, "another-group", SHANGHAI)
    assert other_group.stored_offsets(TOPIC) == {}
    assert _count(engine, ConsumerOffset) == 3


# -- the decision clock columns ------------------------------------------------


def test_decision_deadline_follows_the_clock(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    sink.apply([records.make(opened("C1", received_at=at(-1).isoformat()))])
    case = _case(engine, "C1")
    assert case["received_at"] == at(-1)
    assert case["decision_deadline"] == _end_of_day_utc(2026, 12, 8)

    sink.apply([records.make(event("C1", 2, "case.clock_paused", at(2), reason="mediation"))])
    case = _case(engine, "C1")
    assert case["decision_deadline"] is None
    assert case["clock_paused_since"] == at(2)

    sink.apply([records.make(event("C1", 3, "case.clock_resumed", at(5)))])
    case = _case(engine, "C1")
    assert case["clock_paused_since"] is None
    assert case["decision_deadline"] == _end_of_day_utc(2026, 12, 11)

    sink.apply(
        records.many(
            [
                event("C1", 4, "case.deadline_extended", at(6), tier=1),
                event("C1", 5, "case.decision_made", at(40)),
            ]
        )
    )
    case = _case(engine, "C1")
    assert case["decided_at"] == at(40)
    assert case["decision_deadline"] == _end_of_day_utc(2026, 12, 26)
    assert case["outcome"] is None
    with engine.connect() as connection:
        rules = connection.execute(select(PointsEntry.rule)).scalars().all()
    assert rules == ["decision_late"]


def test_reopening_counts_and_keeps_the_latest_close(engine: Engine, sink: SqlSink) -> None:
    records = Records()
    sink.apply(
        records.many(
            [
                opened("C1"),
                event("C1", 2, "case.stage_changed", at(1), to_stage="review"),
                event("C1", 3, "case.stage_changed", at(2), to_stage="resolution"),
                event("C1", 4, "case.decision_made", at(3), outcome="rejected"),
                event("C1", 5, "case.closed", at(4), resolution="unresolved"),
                event("C1", 6, "case.reopened", at(10), new_facts=True),
            ]
        )
    )
    case = _case(engine, "C1")
    assert (case["status"], case["stage"], case["reopen_count"], case["rework_count"]) == (
        "open",
        "investigation",
        1,
        1,
    )
    assert case["resolution"] == "unresolved"
    assert case["outcome"] == "rejected"
    assert case["closed_at"] is None and case["decided_at"] is None
    # New facts restart a 15-day limit from the reopening (rule R4).
    assert case["decision_deadline"] == _end_of_day_utc(2026, 12, 19)


def test_decision_deadline_helper_is_none_while_paused(sink: SqlSink, engine: Engine) -> None:
    from events.machine import apply as apply_event

    state = apply_event(None, decode(encode(opened("C1"))), SHANGHAI).state
    paused = apply_event(
        state,
        decode(encode(event("C1", 2, "case.clock_paused", at(1), reason="mediation"))),
        SHANGHAI,
    ).state
    assert state is not None and paused is not None
    assert decision_deadline(paused, SHANGHAI) is None
    assert decision_deadline(state, SHANGHAI) == _end_of_day_utc(2026, 12, 9).timestamp()


def test_scoring_rules_and_ruleset_are_used(engine: Engine) -> None:
    rules = RuleBook.constant(ScoringRules(category_weights={"claims": 1.5}), name="pilot")
    sink = SqlSink(engine, STORE_GROUP, SHANGHAI, rules)
    records = Records()
    sink.apply(records.many([opened("C1"), event("C1", 2, "case.decision_made", at(1))]))
    (entry,) = _rows(engine, PointsEntry, PointsEntry.id)
    assert (entry["points"], entry["ruleset"]) == (15, "pilot")


# -- failures ------------------------------------------------------------------


UNREACHABLE = [
    "postgresql://postgres@127.0.0.1:1/complaintops?connect_timeout=2",
    "sqlite:////nonexistent-directory/for/sure/store.db",
]


@pytest.mark.parametrize("url", UNREACHABLE, ids=["postgres-bogus-port", "sqlite-bad-path"])
def test_unreachable_database_raises_sink_unavailable(url: str) -> None:
    engine = make_engine(url)
    sink = SqlSink(engine, STORE_GROUP, SHANGHAI)
    try:
        assert sink.ping() is False
        with pytest.raises(SinkUnavailable):
            sink.apply([Records().make(opened("C1"))])
        with pytest.raises(SinkUnavailable):
            sink.stored_offsets(TOPIC)
    finally:
        sink.close()


def test_database_without_schema_raises_sink_not_ready(database_url: str) -> None:
    engine = make_engine(database_url)
    sink = SqlSink(engine, STORE_GROUP, SHANGHAI)
    try:
        assert sink.ping() is True
        with pytest.raises(SinkNotReady):
            sink.apply([Records().make(opened("C1"))])
    finally:
        sink.close()


def test_connection_lost_mid_batch_stores_nothing(postgres_url: str) -> None:
    upgrade(postgres_url)
    engine = make_engine(postgres_url)
    sink = SqlSink(engine, STORE_GROUP, SHANGHAI)
    killer = psycopg.connect(_libpq(postgres_url), autocommit=True)

    def kill_own_backend(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith("INSERT INTO points_ledger"):
            pid = cursor.connection.info.backend_pid
            killer.execute("SELECT pg_terminate_backend(%s)", (pid,))

    sa_event.listen(engine, "before_cursor_execute", kill_own_backend)
    batch = Records().many([opened("C1"), event("C1", 2, "case.decision_made", at(1))])
    try:
        with pytest.raises(SinkUnavailable):
            sink.apply(batch)
        sa_event.remove(engine, "before_cursor_execute", kill_own_backend)
        assert _count(engine, CaseEventRow) == 0
        assert _count(engine, Case) == 0
        assert sink.stored_offsets(TOPIC) == {}
        # The pool recovers: the same batch applies once the database answers.
        assert sink.apply(batch).applied == 2
    finally:
        killer.close()
        sink.close()


def _libpq(url: str) -> str:
    parsed = make_url(url)
    return f"host={parsed.host} port={parsed.port or 5432} user={parsed.username} dbname={parsed.database}"


def _wait_for_lock_wait(engine: Engine, deadline_seconds: float = 30.0) -> None:
    """Return once a session of this database waits for a lock (polls pg_stat_activity)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    finished = threading.Event()
    ticks = 0
    while not finished.wait(0.02):
        with engine.connect() as connection:
            if connection.execute(query).scalar_one() > 0:
                return
        ticks += 1
        if ticks * 0.02 > deadline_seconds:
            raise AssertionError("no session ever waited for the offsets lock")


def test_consumer_waits_for_the_partition_owner_then_skips_its_records(
    postgres_url: str,
) -> None:
    """Rebalance: while another consumer's transaction holds the partition's
    offsets, this one waits; once that commits, it skips what was stored."""
    upgrade(postgres_url)
    owner_engine = make_engine(postgres_url)
    owner = SqlSink(owner_engine, STORE_GROUP, SHANGHAI)
    records = Records()
    owner.apply([records.make(opened("C1"))])
    waiting = SqlSink(make_engine(postgres_url), STORE_GROUP, SHANGHAI)
    batch = [records.make(event("C1", 2, "case.decision_made", at(1)))]
    outcome: list[Any] = []
    try:
        with owner_engine.begin() as holding:
            holding.execute(
                text(
                    'UPDATE consumer_offsets SET "offset" = 1 '
                    'WHERE "group" = :g AND topic = :t AND partition = 0'
                ),
                {"g": STORE_GROUP, "t": TOPIC},
            )
            thread = threading.Thread(target=lambda: outcome.append(_try_apply(waiting, batch)))
            thread.start()
            _wait_for_lock_wait(owner_engine)
        thread.join()
        (summary,) = outcome
        assert not isinstance(summary, BaseException), summary
        assert (summary.applied, summary.skipped) == (0, 1)
        assert _count(owner_engine, CaseEventRow) == 1
    finally:
        owner.close()
        waiting.close()


def _try_apply(sink: SqlSink, batch: list[Any]) -> Any:
    try:
        return sink.apply(batch)
    except Exception as exc:
        return exc


def test_two_consumers_racing_for_one_partition_apply_it_once(postgres_url: str) -> None:
    upgrade(postgres_url)
    records = Records()
    batch = records.many(
        [opened(f"C{i}") for i in range(50)]
        + [event(f"C{i}", 2, "case.decision_made", at(1)) for i in range(50)]
    )
    engines = [make_engine(postgres_url) for _ in range(2)]
    sinks = [SqlSink(e, STORE_GROUP, SHANGHAI) for e in engines]
    start = threading.Barrier(2)
    summaries: list[Any] = []
    errors: list[BaseException] = []

    def run(sink: SqlSink) -> None:
        start.wait()
        try:
            summaries.append(sink.apply(batch))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in sinks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted((s.applied, s.skipped) for s in summaries) == [(0, 100), (100, 0)]
        assert _count(engines[0], CaseEventRow) == 100
        assert _count(engines[0], PointsEntry) == 50
    finally:
        for sink in sinks:
            sink.close()
