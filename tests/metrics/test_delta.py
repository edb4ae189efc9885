"""MetricsDelta: a case's move writes only the difference of its contributions,
and the cached local hours and days equal the direct computation."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.projection import footprint
from events.scoring import Award
from events.state import CLOSED, OPEN, CaseState, DecisionClock
from events.timeutil import hour_start, local_date
from metrics import keys
from metrics.delta import (
    LatestTeam,
    MetricsDelta,
    TeamsKeys,
    _contributions,
    _hour_start,
    _local_day,
    award_stamp,
)
from metrics.writer import delta_payload, state_writes, written_keys
from tests.events.factory import instant

TZ = ZoneInfo("Asia/Shanghai")
NOW = 1_795_000_000.0
STAGES = ("intake", "investigation", "resolution", "feedback", "follow_up", "review")


@st.composite
def case_states(draw: st.DrawFn) -> CaseState | None:
    if draw(st.booleans()) and draw(st.booleans()):
        return None
    paused = draw(st.booleans())
    decided = draw(st.booleans())
    return CaseState(
        case_id="C-1",
        last_seq=draw(st.integers(1, 40)),
        status=draw(st.sampled_from((OPEN, OPEN, OPEN, CLOSED))),
        stage=draw(st.sampled_from(STAGES)),
        stage_entered_at=NOW,
        team_id=draw(st.sampled_from(("team-a", "team-b"))),
        handler_id=draw(st.sampled_from(("h-1", "h-2", "h-3"))),
        opened_at=draw(st.sampled_from((NOW - 86_400, NOW - 7 * 86_400))),
        channel="phone",
        category="claims",
        product_line="auto",
        priority=draw(st.sampled_from(("normal", "urgent", "major"))),
        group_size=draw(st.sampled_from((None, 3, 25))),
        clock=DecisionClock(
            start=draw(st.sampled_from((NOW - 86_400, NOW - 3 * 86_400))),
            limit_days=draw(st.sampled_from((15, 30, 60))),
            paused_total=draw(st.sampled_from((0.0, 3_600.0))),
            paused_since=NOW - 600 if paused else None,
            decided_at=NOW if decided else None,
        ),
        follow_up_due=draw(st.sampled_from((None, NOW + 86_400, NOW + 2 * 86_400))),
        follow_up_done=draw(st.booleans()),
        escalated_to_regulator=draw(st.booleans()),
    )


def everything_of(state: CaseState | None) -> tuple[Counter[tuple[str, str]], dict[str, float]]:
    counts, indexed = _contributions(footprint(state, TZ))
    return Counter(counts), indexed


def replay(
    counters: Counter[tuple[str, str]], indexes: dict[str, dict[str, float]], delta: MetricsDelta
) -> None:
    """Apply a delta as the apply script does: removals before additions."""
    for pair, amount in delta.hincr.items():
        counters[pair] += amount
    for key, members in delta.zrem.items():
        for member in members:
            indexes.get(key, {}).pop(member, None)
    for key, scores in delta.zadd.items():
        indexes.setdefault(key, {}).update(scores)


@settings(max_examples=400, deadline=None)
@given(before=case_states(), after=case_states())
def test_a_move_leaves_exactly_the_contributions_of_the_state_after(
    before: CaseState | None, after: CaseState | None
) -> None:
    counters, indexed_before = everything_of(before)
    indexes = {key: {"C-1": score} for key, score in indexed_before.items()}
    delta = MetricsDelta()
    delta.move_case("C-1", before, after, TZ)
    replay(counters, indexes, delta)

    expected_counts, expected_indexed = everything_of(after)
    assert +counters == expected_counts
    assert {k: v["C-1"] for k, v in indexes.items() if "C-1" in v} == expected_indexed


def test_a_stage_move_touches_only_the_stage_counters() -> None:
    state = CaseState(
        "C-1", 3, OPEN, "investigation", NOW, "team-a", "h-1", NOW - 86_400,
        "phone", "claims", "auto", "normal", None, DecisionClock(NOW - 86_400, 15),
    )  # fmt: skip
    moved = state.copy()
    moved.stage = "resolution"
    delta = MetricsDelta()
    delta.move_case("C-1", state, moved, TZ)

    changed = {pair: n for pair, n in delta.hincr.items() if n}
    assert changed == {
        (keys.WIP, "investigation"): -1,
        (keys.WIP, "resolution"): 1,
        (keys.TEAM_WIP.format("team-a"), "investigation"): -1,
        (keys.TEAM_WIP.format("team-a"), "resolution"): 1,
    }
    assert not delta.zadd and not delta.zrem
    assert list(delta.states) == [keys.case("C-1")]


ZONES = ("Asia/Shanghai", "Asia/Kathmandu", "Australia/Lord_Howe", "Africa/Monrovia", "UTC")


@settings(max_examples=500, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    # From 1970 (Monrovia kept local mean time, -0:44:30, until 1972) to 2100.
    at=st.floats(0, 4_102_444_800, allow_nan=False),
)
def test_cached_local_hours_and_days_equal_the_direct_computation(zone: str, at: float) -> None:
    tz = ZoneInfo(zone)
    assert _hour_start(at, tz) == hour_start(at, tz)
    assert _local_day(at, tz) == local_date(at, tz)


def test_written_keys_name_every_key_the_payload_writes() -> None:
    delta = MetricsDelta()
    delta.hincr[("co:{m}:a", "x")] += 1
    delta.hincr[("co:{m}:zero", "x")] += 0
    delta.zincr[("co:{m}:b", "h-1")] += 2.0
    delta.zadd["co:{m}:c"]["C-1"] = 1.0
    delta.zrem["co:{m}:d"].add("C-2")
    delta.hset["co:{m}:e"]["h-1"] = "t-1"
    delta.hdel["co:{m}:f"].add("h-2")
    delta.states["co:{m}:case:C-1"] = b"[]"
    delta.rpush["co:{m}:g"].append(b"{}")
    delta.expire_at["co:{m}:h"] = 1
    payload = orjson.loads(delta_payload(delta))
    in_payload = {
        *payload["zrem"],
        *payload["zadd"],
        *payload["hdel"],
        *payload["hset"],
        *payload["rpush"],
        *(item[0] for item in payload["hincr"]),
        *(item[0] for item in payload["zincr"]),
        *(item[0] for item in payload["expireat"]),
        *(name for item in payload["teams"] for name in item[:2]),
    }
    assert set(written_keys(delta)) == in_payload
    assert "co:{m}:zero" not in in_payload
    # The states travel beside the payload, not in it.
    assert "states" not in payload
    assert state_writes(delta) == (["co:{m}:case:C-1"], [b"[]"])


# -- the handler -> team hashes ----------------------------------------------------------

DAY_TEAMS = (
    keys.leaderboard_teams("day", "2026-11-24"),
    keys.leaderboard_team_stamps("day", "2026-11-24"),
)


def award(team: str, at: str, event_id: str, handler: str = "h-1") -> Award:
    return Award("rework", -2, event_id, "C-1", handler, team, instant(f"2026-11-24T{at}+08:00"))


def teams_of(awards: Sequence[Award]) -> dict[TeamsKeys, dict[str, LatestTeam]]:
    delta = MetricsDelta()
    for item in awards:
        delta.add_award(item, TZ)
    return dict(delta.teams)


def test_award_stamps_have_a_fixed_width_time_then_the_event_id() -> None:
    assert award_stamp(0.0, "e-1") == "000000000000000000:e-1"
    assert award_stamp(1_795_000_000.25, "e-1") == "001795000000250000:e-1"
    # The last microsecond before the year 9000.
    assert len(award_stamp(instant("8999-12-31T23:59:59.999999Z"), "e").split(":")[0]) == 18
    with pytest.raises(ValueError, match="out of range"):
        award_stamp(-1.0, "e-1")


@settings(max_examples=500, deadline=None)
@given(
    times=st.tuples(*[st.integers(0, 4_102_444_800_000_000)] * 2),
    ids=st.tuples(*[st.text(st.characters(exclude_categories=["Cs"]), min_size=1)] * 2),
)
def test_stamps_compare_as_the_time_then_the_event_id_byte_by_byte(
    times: tuple[int, int], ids: tuple[str, str]
) -> None:
    # Awarded at whole microseconds, as decoded events and ledger rows are.
    (a, b), (x, y) = [datetime_of(t) for t in times], ids
    key_a = (round(a * 1_000_000), x.encode())
    key_b = (round(b * 1_000_000), y.encode())
    assert (award_stamp(a, x) < award_stamp(b, y)) == (key_a < key_b)
    assert (award_stamp(a, x) == award_stamp(b, y)) == (key_a == key_b)


def datetime_of(micros: int) -> float:
    """Epoch seconds of a whole number of microseconds, as decoded events hold them."""
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)).timestamp()


def test_a_handlers_team_is_that_of_the_latest_award_in_any_order() -> None:
    awards = [
        award("claims-east", "10:00:00", "e-9"),
        award("claims-north", "11:00:00", "e-1"),  # the latest time
        award("claims-west", "10:59:59.999999", "e-99"),
        award("claims-east", "09:00:00", "e-5", handler="h-2"),
        award("claims-west", "09:00:00", "e-4", handler="h-2"),
    ]
    results = [teams_of(order) for order in itertools.permutations(awards)]
    assert all(result == results[0] for result in results)
    assert results[0][DAY_TEAMS] == {
        "h-1": (award_stamp(awards[1].occurred_at, "e-1"), "claims-north"),
        "h-2": (award_stamp(awards[3].occurred_at, "e-5"), "claims-east"),
    }
    # Each period containing the day (day, week, month, quarter) holds the same.
    assert len(results[0]) == 4
    assert {frozenset(v.items()) for v in results[0].values()} == {
        frozenset(results[0][DAY_TEAMS].items())
    }


def test_at_the_same_instant_the_greater_event_id_then_the_greater_team_wins() -> None:
    same = [
        award("claims-east", "10:00:00", "e-B"),
        award("claims-north", "10:00:00", "e-a"),  # "a" > "B" byte by byte
        award("claims-west", "10:00:00", "e-A"),
    ]
    for order in itertools.permutations(same):
        assert teams_of(order)[DAY_TEAMS]["h-1"][1] == "claims-north"
    # The same event id in two teams (reused, against the contract): the greater team.
    reused = [award("claims-west", "10:00:00", "e-1"), award("claims-east", "10:00:00", "e-1")]
    for order in itertools.permutations(reused):
        assert teams_of(order)[DAY_TEAMS]["h-1"][1] == "claims-west"


def test_merged_deltas_keep_the_latest_team_of_both() -> None:
    early, late = award("claims-east", "09:00:00", "e-1"), award("claims-north", "12:00:00", "e-2")
    for first, second in ((early, late), (late, early)):
        one, other = MetricsDelta(), MetricsDelta()
        one.add_award(first, TZ)
        other.add_award(second, TZ)
        one.merge_teams(other)
        assert one.teams[DAY_TEAMS]["h-1"][1] == "claims-north"


def test_the_payload_carries_each_handlers_team_and_stamp_with_both_hashes() -> None:
    delta = MetricsDelta()
    delta.add_award(award("claims-east", "10:00:00", "e-1"), TZ)
    delta.add_award(award("claims-north", "09:00:00", "e-2"), TZ)
    payload = orjson.loads(delta_payload(delta))
    stamp = award_stamp(instant("2026-11-24T10:00:00+08:00"), "e-1")
    assert [*DAY_TEAMS, "h-1", stamp, "claims-east"] in payload["teams"]
    assert len(payload["teams"]) == 4
    assert not payload["hset"]
    assert set(DAY_TEAMS) <= set(written_keys(delta))
