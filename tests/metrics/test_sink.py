"""The Redis sink against a real Valkey: atomic batches, idempotence, readiness."""

from __future__ import annotations

import itertools

import pytest
import redis

from consumers.sink import SinkNotReady, SinkUnavailable
from events import contract as c
from events.batch import RawRecord
from metrics import keys
from metrics.delta import award_stamp
from metrics.query import MetricsQuery
from metrics.sink import APPLY_SCRIPT, RedisSink
from tests.events.factory import SHANGHAI, CaseScript, encode, instant

TOPIC = "complaints.case-events"
NOW = instant("2026-11-26T12:00:00+08:00")


def records(values: list[bytes], partition: int = 0, start: int = 0) -> list[RawRecord]:
    return [RawRecord(TOPIC, partition, start + i, value) for i, value in enumerate(values)]


def stream() -> list[bytes]:
    a, b = CaseScript("C-A"), CaseScript("C-B")
    events = [
        a.opened("2026-11-24T09:30:00+08:00"),
        b.opened("2026-11-24T10:00:00+08:00", team_id="claims-north", handler_id="h-002"),
        a.next(c.STAGE_CHANGED, "2026-11-24T11:00:00+08:00", to_stage="investigation"),
        a.next(
            c.FOLLOW_UP_SCHEDULED, "2026-11-24T12:00:00+08:00", due_at="2026-11-25T12:00:00+08:00"
        ),
        b.next(c.CLOCK_PAUSED, "2026-11-24T13:00:00+08:00", reason="mediation"),
        b.next(c.DECISION_MADE, "2026-11-25T09:00:00+08:00"),
    ]
    return [encode(e) for e in events]


@pytest.fixture
def sink(redis_client: redis.Redis) -> RedisSink:
    s = RedisSink(redis_client, "complaintops-metrics", SHANGHAI, clock=lambda: NOW)
    s.prepare(group_has_committed=False)
    return s


def test_batch_builds_the_metrics(sink: RedisSink, redis_client: redis.Redis) -> None:
    summary = sink.apply(records(stream()))
    assert (summary.applied, summary.duplicates, len(summary.invalid), summary.gaps) == (6, 0, 0, 0)
    overview = MetricsQuery(redis_client, SHANGHAI, clock=lambda: NOW).overview()
    assert overview.open_cases == 2
    assert overview.wip["intake"] == 1 and overview.wip["investigation"] == 1
    assert overview.follow_ups_overdue == 1  # due 11-25 12:00, now 11-26 12:00
    assert overview.events == {"applied": 6, "duplicates": 0, "invalid": 0, "gaps": 0}
    assert sink.stored_offsets(TOPIC) == {0: 5}


def test_redelivered_records_change_nothing(sink: RedisSink, redis_client: redis.Redis) -> None:
    batch = records(stream())
    sink.apply(batch)
    before = {k: redis_client.dump(k) for k in redis_client.keys("co:*")}
    again = sink.apply(batch[2:])
    assert again.skipped == 4 and again.applied == 0
    after = {k: redis_client.dump(k) for k in redis_client.keys("co:*")}
    assert before == after


def test_duplicates_at_new_offsets_are_counted_not_applied(
    sink: RedisSink, redis_client: redis.Redis
) -> None:
    values = stream()
    sink.apply(records(values))
    summary = sink.apply(records([values[2], values[0]], start=100))
    assert summary.duplicates == 2 and summary.applied == 0
    q = MetricsQuery(redis_client, SHANGHAI, clock=lambda: NOW).overview()
    assert q.events["duplicates"] == 2 and q.events["applied"] == 6
    assert q.wip["investigation"] == 1


def test_invalid_records_are_reported_and_change_no_metric(
    sink: RedisSink, redis_client: redis.Redis
) -> None:
    sink.apply(records(stream()))
    a = CaseScript("C-A")
    a.seq = 3  # C-A has seq 1..3; the invalid event takes 4
    bad = [
        b"not json",
        encode(a.next(c.STAGE_CHANGED, "2026-11-25T10:00:00+08:00", to_stage="investigation")),
        encode(CaseScript("C-UNKNOWN").next(c.DECISION_MADE, "2026-11-25T10:00:00+08:00")),
    ]
    wip_before = redis_client.hgetall(keys.WIP)
    summary = sink.apply(records(bad, start=50))
    reasons = [reason for _, reason in summary.invalid]
    assert len(reasons) == 3
    assert reasons[0].startswith("not JSON")
    assert reasons[1] == "case 'C-A' is already in stage 'investigation'"
    assert reasons[2].startswith("unknown case 'C-UNKNOWN'")
    assert redis_client.hgetall(keys.WIP) == wip_before
    assert int(redis_client.hget(keys.EVENT_COUNTERS, "invalid") or 0) == 3
    # The invalid event did not advance C-A's seq: seq 4 is still free, no gap.
    follow = CaseScript("C-A")
    follow.seq = 3
    ok = sink.apply(
        records(
            [
                encode(
                    follow.next(c.STAGE_CHANGED, "2026-11-25T11:00:00+08:00", to_stage="resolution")
                )
            ],
            start=60,
        )
    )
    assert ok.applied == 1 and ok.gaps == 0


def test_a_gap_is_applied_and_counted(sink: RedisSink) -> None:
    sink.apply(records(stream()))
    a = CaseScript("C-A")
    a.seq = 5  # seq 4 and 5 never arrive
    summary = sink.apply(
        records(
            [encode(a.next(c.STAGE_CHANGED, "2026-11-25T11:00:00+08:00", to_stage="resolution"))],
            start=10,
        )
    )
    assert summary.applied == 1 and summary.gaps == 1


def test_no_build_marker_means_not_ready(sink: RedisSink, redis_client: redis.Redis) -> None:
    sink.apply(records(stream()[:2]))
    redis_client.delete(keys.META)
    with pytest.raises(SinkNotReady, match="rebuild"):
        sink.apply(records(stream()[2:], start=2))
    # A group that already committed offsets must not silently start afresh.
    sink.prepare(group_has_committed=True)
    assert not redis_client.exists(keys.META)


def test_unreachable_redis_is_unavailable() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    sink = RedisSink(client, "g", SHANGHAI)
    with pytest.raises(SinkUnavailable):
        sink.apply(records(stream()))
    with pytest.raises(SinkUnavailable):
        sink.stored_offsets(TOPIC)


def test_paused_clock_is_evaluated_at_query_time(
    sink: RedisSink, redis_client: redis.Redis
) -> None:
    b = CaseScript("C-P")
    sink.apply(
        records(
            [
                encode(b.opened("2026-11-01T09:00:00+08:00")),
                encode(
                    b.next(c.CLOCK_PAUSED, "2026-11-10T09:00:00+08:00", reason="external_appraisal")
                ),
            ]
        )
    )
    # Deadline before the pause: 2026-11-17 00:00; 6 days were left when paused.
    query = MetricsQuery(redis_client, SHANGHAI)
    much_later = instant("2026-12-31T09:00:00+08:00")
    overview = query.overview(now=much_later)
    assert (overview.decision_at_risk, overview.decision_breached) == (0, 0)
    sink.apply(records([encode(b.next(c.CLOCK_RESUMED, "2026-11-20T09:00:00+08:00"))], start=2))
    # Resumed with 10 days paused: deadline 2026-11-27 00:00.
    at = instant("2026-11-25T09:00:00+08:00")
    assert query.overview(now=at).decision_at_risk == 1
    assert query.overview(now=instant("2026-11-27T00:00:01+08:00")).decision_breached == 1


def test_the_apply_script_refuses_when_offsets_moved(
    sink: RedisSink, redis_client: redis.Redis
) -> None:
    sink.apply(records(stream()[:2]))
    before = {k: redis_client.dump(k) for k in redis_client.keys("co:*")}
    offset_key = keys.offset("complaintops-metrics", TOPIC, 0)
    outcome = redis_client.register_script(APPLY_SCRIPT)(
        keys=[keys.META, offset_key, keys.WIP],
        args=[
            b'["0"]',
            b'["9"]',
            1,
            0,
            b'{"zrem":{},"zadd":{},"hdel":{},"hset":{},"hincr":[["co:{m}:wip","intake","5"]],"zincr":[],"expireat":[]}',
        ],
    )
    assert outcome == b"MOVED"  # the stored offset is 1, not 0
    assert {k: redis_client.dump(k) for k in redis_client.keys("co:*")} == before


def test_scores_keep_sub_second_precision(sink: RedisSink, redis_client: redis.Redis) -> None:
    a = CaseScript("C-PRECISE")
    sink.apply(records([encode(a.opened("2026-11-24T09:30:00.123456+08:00"))]))
    score = redis_client.zscore(keys.OPENED, "C-PRECISE")
    assert score == instant("2026-11-24T09:30:00.123456+08:00")


def test_a_fresh_group_does_not_create_the_marker_while_a_rebuild_runs(
    redis_client: redis.Redis,
) -> None:
    sink = RedisSink(redis_client, "complaintops-metrics", SHANGHAI, clock=lambda: NOW)
    redis_client.set(keys.REBUILDING, "1", ex=60)
    sink.prepare(group_has_committed=False)
    assert not redis_client.exists(keys.META)
    redis_client.delete(keys.REBUILDING)
    sink.prepare(group_has_committed=False)
    assert redis_client.exists(keys.META)


def test_dead_letters_wait_in_their_partitions_outbox_until_cleared(
    redis_client: redis.Redis,
) -> None:
    sink = RedisSink(redis_client, "g-outbox", SHANGHAI, dead_letter_outbox=True)
    sink.prepare(group_has_committed=False)
    sink.apply([RawRecord("t", 0, 0, b"{broken"), RawRecord("t", 1, 0, b"[]")])
    sink.apply([RawRecord("t", 1, 1, b"7")])

    assert [(r.partition, r.offset) for r, _ in sink.pending_dead_letters([1])] == [(1, 0), (1, 1)]
    both = sink.pending_dead_letters([0, 1])
    assert [(r.partition, r.offset) for r, _ in both] == [(0, 0), (1, 0), (1, 1)]
    assert sink.pending_dead_letters([2]) == []

    sink.clear_dead_letters(both[:2])  # partition 0's letter and partition 1's first
    assert [(r.partition, r.offset) for r, _ in sink.pending_dead_letters([0, 1])] == [(1, 1)]


def test_clearing_letters_another_owner_already_cleared_keeps_the_newer_ones(
    redis_client: redis.Redis,
) -> None:
    # A consumer lost partition 0 in a rebalance after reading its outbox; the
    # new owner published and cleared the same letters and stored a new one.
    old = RedisSink(redis_client, "g-rebalance", SHANGHAI, dead_letter_outbox=True)
    new = RedisSink(redis_client, "g-rebalance", SHANGHAI, dead_letter_outbox=True)
    old.prepare(group_has_committed=False)
    old.apply([RawRecord("t", 0, 0, b"{broken")])
    read_by_old = old.pending_dead_letters([0])
    new.clear_dead_letters(new.pending_dead_letters([0]))
    new.apply([RawRecord("t", 0, 1, b"[]")])

    old.clear_dead_letters(read_by_old)

    assert [(r.partition, r.offset) for r, _ in new.pending_dead_letters([0])] == [(0, 1)]


# -- a handler's team in a leaderboard period --------------------------------------------

DAY_TEAMS = keys.leaderboard_teams("day", "2026-11-24")
DAY_STAMPS = keys.leaderboard_team_stamps("day", "2026-11-24")


def reworked(case_id: str, team: str, at: str, event_id: str) -> list[bytes]:
    """A case of handler h-1 in ``team`` whose rework at ``at`` (event ``event_id``)
    costs the handler points."""
    s = CaseScript(case_id)
    return [
        encode(e)
        for e in (
            s.opened("2026-11-24T08:00:00+08:00", team_id=team, handler_id="h-1"),
            s.next(c.STAGE_CHANGED, "2026-11-24T08:30:00+08:00", to_stage="investigation"),
            s.next(c.STAGE_CHANGED, f"2026-11-24T{at}+08:00", to_stage="intake", event_id=event_id),
        )
    ]


def teams_after(redis_client: redis.Redis, cases: list[list[bytes]]) -> tuple[dict, dict]:
    """The day's teams and stamps after feeding ``cases`` in this order, one
    record per batch, into an emptied read model."""
    redis_client.flushall()
    sink = RedisSink(redis_client, "complaintops-metrics", SHANGHAI, clock=lambda: NOW)
    sink.prepare(group_has_committed=False)
    values = [value for case in cases for value in case]
    for i, value in enumerate(values):
        sink.apply(records([value], start=i))
    return redis_client.hgetall(DAY_TEAMS), redis_client.hgetall(DAY_STAMPS)


def test_a_handlers_team_is_that_of_the_latest_award_in_any_arrival_order(
    redis_client: redis.Redis,
) -> None:
    cases = [
        reworked("C-1", "claims-north", "12:00:00", "e-late"),
        reworked("C-2", "claims-east", "10:00:00", "e-early"),
        reworked("C-3", "claims-west", "11:59:59.999999", "e-just-before"),
    ]
    seen = {
        str(teams_after(redis_client, [cases[i] for i in order]))
        for order in itertools.permutations(range(3))
    }
    teams, stamps = teams_after(redis_client, cases)
    assert seen == {str((teams, stamps))}
    assert teams == {b"h-1": b"claims-north"}
    assert stamps == {b"h-1": award_stamp(instant("2026-11-24T12:00:00+08:00"), "e-late").encode()}


def test_at_the_same_instant_event_ids_compare_byte_by_byte(redis_client: redis.Redis) -> None:
    # Byte by byte "e-a" > "e-B" and "e-é" > "e-z", whatever the server's locale collates.
    for winner, loser in (("e-a", "e-B"), ("e-é", "e-z"), ("e-10", "e-1")):
        for order in ((0, 1), (1, 0)):
            cases = [
                reworked("C-1", "claims-north", "12:00:00", winner),
                reworked("C-2", "claims-east", "12:00:00", loser),
            ]
            teams, _ = teams_after(redis_client, [cases[i] for i in order])
            assert teams == {b"h-1": b"claims-north"}, (winner, loser, order)


def test_the_same_stamp_in_two_teams_keeps_the_greater_team(redis_client: redis.Redis) -> None:
    # An event id reused by two cases (against the contract) at the same instant.
    for order in ((0, 1), (1, 0)):
        cases = [
            reworked("C-1", "claims-east", "12:00:00", "e-1"),
            reworked("C-2", "claims-west", "12:00:00", "e-1"),
        ]
        teams, _ = teams_after(redis_client, [cases[i] for i in order])
        assert teams == {b"h-1": b"claims-west"}


def test_a_team_without_a_stamp_is_replaced_by_the_next_award(
    sink: RedisSink, redis_client: redis.Redis
) -> None:
    # As written before the stamps were kept: a team and no stamp.
    redis_client.hset(DAY_TEAMS, "h-1", "claims-south")
    sink.apply(records(reworked("C-1", "claims-east", "10:00:00", "e-1")))
    assert redis_client.hgetall(DAY_TEAMS) == {b"h-1": b"claims-east"}
    assert (
        redis_client.hget(DAY_STAMPS, "h-1")
        == award_stamp(instant("2026-11-24T10:00:00+08:00"), "e-1").encode()
    )
