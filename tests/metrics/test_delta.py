"""MetricsDelta: a case's move writes only the difference of its contributions,
and the cached local hours and days equal the direct computation."""

from __future__ import annotations

from collections import Counter
from zoneinfo import ZoneInfo

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from events.projection import footprint
from events.state import CLOSED, OPEN, CaseState, DecisionClock
from events.timeutil import hour_start, local_date
from metrics import keys
from metrics.delta import MetricsDelta, _contributions, _hour_start, _local_day
from metrics.writer import delta_payload, written_keys

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
        *payload["states"][::2],
    }
    assert set(written_keys(delta)) == in_payload
    assert "co:{m}:zero" not in in_payload
