"""The event simulator: deterministic, contract-true, realistic enough to watch.

Every record is replayed through the real decode and state machine, so the
simulator's labels ('valid', 'duplicate', 'invalid') are checked against what
the pipeline will make of them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest

from events import contract as c
from events import scoring as s
from events.decode import decode
from events.errors import InvalidEvent
from events.machine import Outcome, Transition, apply
from events.model import CaseEvent
from events.simulator import (
    DUPLICATE,
    FORM_INVALID_KINDS,
    INVALID,
    INVALID_KINDS,
    STATE_INVALID_KINDS,
    VALID,
    SimEvent,
    SimulationConfig,
    Simulator,
    simulate_to_list,
)
from events.state import CaseState
from events.timeutil import DAY_SECONDS, parse_rfc3339

SHANGHAI = ZoneInfo("Asia/Shanghai")
TEAMS = (
    ("claims-east", ("h-001", "h-002", "h-003", "h-004", "h-005", "h-006")),
    ("claims-north", ("h-007", "h-008", "h-009")),
    ("sales-service", ("h-020", "h-021", "h-022", "h-023")),
)
# 2026-11-24T12:00:00+08:00, a Tuesday.
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=SHANGHAI).timestamp()
CASE_ID_PATTERN = re.compile(r"^C\d{4}-\d{6}$")
OFFSET_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")


def config(**overrides: object) -> SimulationConfig:
    values: dict[str, object] = {"teams": TEAMS, "seed": 7, "arrivals_per_hour": 4.0}
    values.update(overrides)
    return SimulationConfig(**values)  # type: ignore[arg-type]


@dataclass
class Replayed:
    record: SimEvent
    outcome: Outcome
    event: CaseEvent | None
    transition: Transition | None
    reason: str | None


def replay(records: Sequence[SimEvent], tz: ZoneInfo = SHANGHAI) -> list[Replayed]:
    """Each record through decode and the state machine, case by case, in emission order."""
    states: dict[str, CaseState] = {}
    out: list[Replayed] = []
    for record in records:
        try:
            event = decode(record.value)
        except InvalidEvent as exc:
            out.append(Replayed(record, Outcome.INVALID, None, None, exc.reason))
            continue
        transition = apply(states.get(event.case_id), event, tz)
        if transition.outcome is Outcome.APPLIED:
            assert transition.state is not None
            states[event.case_id] = transition.state
        out.append(Replayed(record, transition.outcome, event, transition, transition.reason))
    return out


@pytest.fixture(scope="module")
def month() -> list[SimEvent]:
    """A 30-day backfill: about 22,000 records."""
    return simulate_to_list(config(), 30, NOW)


@pytest.fixture(scope="module")
def month_replayed(month: list[SimEvent]) -> list[Replayed]:
    return replay(month)


def applied(replayed: list[Replayed]) -> list[CaseEvent]:
    return [r.event for r in replayed if r.outcome is Outcome.APPLIED and r.event is not None]


# -- determinism -------------------------------------------------------------------


def test_same_seed_gives_identical_bytes() -> None:
    first = simulate_to_list(config(), 3, NOW)
    second = simulate_to_list(config(), 3, NOW)
    assert len(first) > 500
    assert first == second


def test_another_seed_gives_another_stream() -> None:
    assert simulate_to_list(config(seed=8), 3, NOW) != simulate_to_list(config(), 3, NOW)


def test_valid_stream_does_not_depend_on_the_noise_shares() -> None:
    noisy = simulate_to_list(config(invalid_share=0.1, duplicate_share=0.1), 3, NOW)
    clean = simulate_to_list(config(invalid_share=0, duplicate_share=0), 3, NOW)
    assert [r for r in noisy if r.kind == VALID] == clean


# -- every label agrees with the pipeline ---------------------------------------------


def test_the_month_is_large_enough_for_the_share_checks(month: list[SimEvent]) -> None:
    assert len(month) >= 20_000


def test_every_valid_event_is_applied_without_gaps(month_replayed: list[Replayed]) -> None:
    valid = [r for r in month_replayed if r.record.kind == VALID]
    wrong = [
        (r.record.detail, r.outcome, r.reason) for r in valid if r.outcome is not Outcome.APPLIED
    ]
    assert wrong == []
    assert all(r.transition is not None and r.transition.gap == 0 for r in valid)


def test_every_duplicate_is_a_duplicate(month_replayed: list[Replayed]) -> None:
    duplicates = [r for r in month_replayed if r.record.kind == DUPLICATE]
    assert duplicates
    assert {r.outcome for r in duplicates} == {Outcome.DUPLICATE}


def test_every_invalid_event_is_invalid(month_replayed: list[Replayed]) -> None:
    invalid = [r for r in month_replayed if r.record.kind == INVALID]
    assert invalid
    assert {r.outcome for r in invalid} == {Outcome.INVALID}


def test_some_duplicates_come_after_later_events_of_their_case(
    month_replayed: list[Replayed],
) -> None:
    last_seq: dict[str, int] = {}
    late = 0
    for r in month_replayed:
        if r.event is None:
            continue
        if r.record.kind == VALID:
            last_seq[r.event.case_id] = r.event.seq
        elif r.record.kind == DUPLICATE and r.event.seq < last_seq[r.event.case_id]:
            late += 1
    assert late > 0


@pytest.fixture(scope="module")
def noisy_week() -> list[Replayed]:
    """A week with many invalid events, to see every kind of invalidity."""
    return replay(simulate_to_list(config(invalid_share=0.3, duplicate_share=0.05), 7, NOW))


def test_every_kind_of_invalid_event_appears(noisy_week: list[Replayed]) -> None:
    kinds = {r.record.detail for r in noisy_week if r.record.kind == INVALID}
    assert kinds == set(INVALID_KINDS)


@pytest.mark.parametrize("kind", FORM_INVALID_KINDS)
def test_form_invalid_kinds_fail_decoding(noisy_week: list[Replayed], kind: str) -> None:
    records = [r for r in noisy_week if r.record.kind == INVALID and r.record.detail == kind]
    assert records
    assert all(r.event is None and r.outcome is Outcome.INVALID for r in records)


@pytest.mark.parametrize("kind", STATE_INVALID_KINDS)
def test_state_invalid_kinds_fail_the_state_rules(noisy_week: list[Replayed], kind: str) -> None:
    records = [r for r in noisy_week if r.record.kind == INVALID and r.record.detail == kind]
    assert records
    assert all(r.event is not None and r.outcome is Outcome.INVALID for r in records)


def test_noisy_valid_events_are_still_applied(noisy_week: list[Replayed]) -> None:
    outcomes = {r.outcome for r in noisy_week if r.record.kind == VALID}
    assert outcomes == {Outcome.APPLIED}


# -- shares and rhythms ---------------------------------------------------------------


def test_shares_are_roughly_as_configured(month: list[SimEvent]) -> None:
    kinds = Counter(r.kind for r in month)
    total = len(month)
    assert 0.003 <= kinds[INVALID] / total <= 0.007
    assert 0.0075 <= kinds[DUPLICATE] / total <= 0.0125


def test_higher_shares_are_honoured() -> None:
    records = simulate_to_list(config(invalid_share=0.05, duplicate_share=0.1), 10, NOW)
    kinds = Counter(r.kind for r in records)
    assert 0.04 <= kinds[INVALID] / len(records) <= 0.06
    assert 0.09 <= kinds[DUPLICATE] / len(records) <= 0.11


def opened_local_times(replayed: list[Replayed]) -> list[datetime]:
    return [
        datetime.fromtimestamp(e.occurred_at, SHANGHAI)
        for e in applied(replayed)
        if e.type == c.OPENED
    ]


def test_busy_hours_have_more_arrivals_than_night(month_replayed: list[Replayed]) -> None:
    by_hour = Counter(t.hour for t in opened_local_times(month_replayed))
    busy = sum(by_hour[h] for h in (9, 10, 14, 15, 16)) / 5
    night = sum(by_hour[h] for h in (0, 1, 2, 3, 4, 5)) / 6
    assert busy > 8 * night
    assert by_hour[10] > by_hour[13] > by_hour[2]


def test_weekdays_have_more_arrivals_than_weekends(month_replayed: list[Replayed]) -> None:
    days = Counter(t.date() for t in opened_local_times(month_replayed))
    weekday = [n for d, n in days.items() if d.weekday() < 5]
    weekend = [n for d, n in days.items() if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 1.5 * sum(weekend) / len(weekend)


def test_arrival_rate_matches_the_configuration(month_replayed: list[Replayed]) -> None:
    opened = len(opened_local_times(month_replayed))
    expected = 4.0 * 24 * 30
    assert 0.85 * expected <= opened <= 1.15 * expected


def test_all_twelve_event_types_appear(month_replayed: list[Replayed]) -> None:
    assert {e.type for e in applied(month_replayed)} == set(c.EVENT_TYPES)


# -- the shape of the records --------------------------------------------------------


def test_records_come_in_time_order_within_the_window(month: list[SimEvent]) -> None:
    times = [r.occurred_at for r in month]
    assert times == sorted(times)
    assert times[0] >= NOW - 30 * DAY_SECONDS and times[-1] <= NOW


def test_valid_records_carry_their_event_time_and_case_key(
    month_replayed: list[Replayed],
) -> None:
    for r in month_replayed:
        if r.record.kind != VALID:
            continue
        assert r.event is not None
        assert OFFSET_TIME.match(r.event.occurred_at_text)
        assert r.record.occurred_at == r.event.occurred_at
        assert r.record.case_id == r.event.case_id
        assert r.record.detail == r.event.type


def test_case_ids_and_event_ids(month_replayed: list[Replayed]) -> None:
    events = applied(month_replayed)
    assert all(CASE_ID_PATTERN.match(e.case_id) for e in events)
    valid_ids = {e.event_id for e in events}
    assert len(valid_ids) == len(events)
    for r in month_replayed:
        if r.record.kind == DUPLICATE:
            assert r.event is not None and r.event.event_id in valid_ids
        elif r.record.kind == INVALID and r.event is not None:
            assert r.event.event_id not in valid_ids


def test_case_ids_number_from_the_configured_start() -> None:
    records = simulate_to_list(config(first_case_number=500_001), 1, NOW)
    first = next(r for r in records if r.kind == VALID)
    assert first.case_id == "C2026-500001"


def test_seq_starts_at_one_and_rises_by_one_per_case(month_replayed: list[Replayed]) -> None:
    seqs: dict[str, list[int]] = {}
    for e in applied(month_replayed):
        seqs.setdefault(e.case_id, []).append(e.seq)
    assert all(seq == list(range(1, len(seq) + 1)) for seq in seqs.values())


# -- a plausible complaint centre ---------------------------------------------------


def test_mix_of_channels_categories_and_products(month_replayed: list[Replayed]) -> None:
    opened = [e for e in applied(month_replayed) if e.type == c.OPENED]
    categories = Counter(e.category for e in opened)
    products = Counter(e.product_line for e in opened)
    channels = Counter(e.channel for e in opened)
    assert categories.most_common(1)[0][0] == "claims"
    assert products.most_common(1)[0][0] == "auto"
    assert set(channels) == c.CHANNELS
    assert 0 < channels["regulator_referral"] < 0.06 * len(opened)
    assert {e.team_id for e in opened} == {team for team, _ in TEAMS}


def test_priorities_groups_and_profiles(month_replayed: list[Replayed]) -> None:
    opened = [e for e in applied(month_replayed) if e.type == c.OPENED]
    priorities = Counter(e.priority for e in opened)
    assert priorities["normal"] > 0.8 * len(opened)
    assert 0 < priorities["major"] < priorities["urgent"] < priorities["normal"]
    groups = [e for e in opened if (e.group_size or 0) >= c.GROUP_COMPLAINT_SIZE]
    assert 0 < len(groups) < 0.03 * len(opened)
    without_profile = [e for e in opened if e.complainant is None]
    assert 0.05 * len(opened) < len(without_profile) < 0.4 * len(opened)
    assert any(e.received_at is not None and e.received_at < e.occurred_at for e in opened)


def test_decisions_are_mostly_on_time_and_some_late(month_replayed: list[Replayed]) -> None:
    rules = Counter(
        award.rule
        for r in month_replayed
        if r.transition is not None and r.outcome is Outcome.APPLIED
        for award in r.transition.awards
    )
    decided = rules[s.DECISION_ON_TIME] + rules[s.DECISION_LATE]
    assert rules[s.DECISION_LATE] > 0
    assert rules[s.DECISION_ON_TIME] > 0.9 * decided
    visits = rules[s.FOLLOW_UP_ON_TIME] + rules[s.FOLLOW_UP_LATE]
    assert 0 < rules[s.FOLLOW_UP_LATE] < 0.3 * visits
    assert rules[s.REWORK] > 0
    assert rules[s.REOPENED] > 0
    assert rules[s.ESCALATED_TO_REGULATOR] > 0


def test_decisions_come_within_days_not_minutes(month_replayed: list[Replayed]) -> None:
    opened_at: dict[str, float] = {}
    days: list[float] = []
    for e in applied(month_replayed):
        if e.type == c.OPENED:
            opened_at[e.case_id] = e.received_at or e.occurred_at
        elif e.type == c.DECISION_MADE:
            days.append((e.occurred_at - opened_at[e.case_id]) / DAY_SECONDS)
    days.sort()
    median = days[len(days) // 2]
    assert 3 <= median <= 10
    assert days[0] > 0.1


def test_extensions_pauses_escalations_and_reopenings(month_replayed: list[Replayed]) -> None:
    events = applied(month_replayed)
    extensions = [e for e in events if e.type == c.DEADLINE_EXTENDED]
    assert {e.tier for e in extensions} == {1, 2}
    assert Counter(e.tier for e in extensions)[2] < Counter(e.tier for e in extensions)[1]
    assert all(e.approved_by for e in extensions if e.tier == 2)
    assert {e.reason for e in events if e.type == c.CLOCK_PAUSED} == c.PAUSE_REASONS
    escalations = Counter(e.to for e in events if e.type == c.ESCALATED)
    assert set(escalations) == c.ESCALATION_TARGETS
    assert escalations["regulator"] < escalations["senior_management"]
    assert any(e.new_facts for e in events if e.type == c.REOPENED)
    satisfaction = {e.satisfaction for e in events if e.satisfaction is not None}
    assert satisfaction == {1, 2, 3, 4, 5}
    resolutions = {e.resolution for e in events if e.type == c.CLOSED}
    assert resolutions == c.RESOLUTIONS


def test_teams_get_their_kind_of_complaints_without_being_swamped(
    month_replayed: list[Replayed],
) -> None:
    opened = [e for e in applied(month_replayed) if e.type == c.OPENED]
    claims = [e for e in opened if e.category == "claims"]
    to_claims_teams = [e for e in claims if e.team_id is not None and "claims" in e.team_id]
    assert len(to_claims_teams) > 0.7 * len(claims)
    states: dict[str, CaseState] = {}
    for r in month_replayed:
        if r.outcome is Outcome.APPLIED and r.transition and r.transition.state:
            states[r.transition.state.case_id] = r.transition.state
    open_by_team = Counter(st.team_id for st in states.values() if st.is_open)
    per_handler = [open_by_team[team] / len(handlers) for team, handlers in TEAMS]
    assert max(per_handler) <= 1.4 * min(per_handler) + 3


def test_reassignments_mostly_stay_in_the_team(month_replayed: list[Replayed]) -> None:
    team_of: dict[str, str] = {}
    moves: Counter[str] = Counter()
    for e in applied(month_replayed):
        if e.type == c.ASSIGNED:
            moves["same" if e.team_id == team_of[e.case_id] else "other"] += 1
        if e.team_id is not None:
            team_of[e.case_id] = e.team_id
    assert moves["same"] > moves["other"] > 0


def test_most_events_happen_in_working_hours(month_replayed: list[Replayed]) -> None:
    hours = Counter(
        datetime.fromtimestamp(e.occurred_at, SHANGHAI).hour
        for e in applied(month_replayed)
        if e.type != c.OPENED
    )
    office = sum(n for h, n in hours.items() if 8 <= h < 19)
    assert office > 0.85 * sum(hours.values())


# -- backfill, live and memory ------------------------------------------------------------


def test_live_continues_after_the_backfill() -> None:
    simulator = Simulator(config())
    history = list(simulator.backfill(5, NOW))
    assert simulator.clock == NOW
    live = list(simulator.live(NOW, NOW + DAY_SECONDS))
    assert live and all(NOW < r.occurred_at <= NOW + DAY_SECONDS for r in live)
    more = list(simulator.live(NOW, NOW + 2 * DAY_SECONDS))
    assert more and all(r.occurred_at > NOW + DAY_SECONDS for r in more)
    replayed = replay(history + live + more)
    expected = {VALID: Outcome.APPLIED, DUPLICATE: Outcome.DUPLICATE, INVALID: Outcome.INVALID}
    assert all(r.outcome is expected[r.record.kind] for r in replayed)


def test_live_without_backfill_starts_with_an_empty_centre_at_now() -> None:
    simulator = Simulator(config())
    records = list(simulator.live(NOW, NOW + 2 * DAY_SECONDS))
    first = next(r for r in records if r.kind == VALID)
    assert orjson.loads(first.value)["type"] == c.OPENED
    assert records[0].occurred_at > NOW
    assert simulator.cases_opened > 0


def test_backfill_comes_first() -> None:
    simulator = Simulator(config())
    list(simulator.live(NOW, NOW + 3600))
    with pytest.raises(RuntimeError):
        simulator.backfill(1, NOW)


def test_closed_cases_are_let_go() -> None:
    simulator = Simulator(config(arrivals_per_hour=2.0))
    for _ in simulator.backfill(120, NOW):
        pass
    assert simulator.cases_opened > 5000
    assert simulator.tracked_cases < 0.3 * simulator.cases_opened


def test_other_time_zones_give_their_offset() -> None:
    london = ZoneInfo("Europe/London")
    records = simulate_to_list(config(tz=london), 2, NOW)
    events = applied(replay(records, london))
    assert events
    assert all(e.occurred_at_text.endswith(("+00:00", "+01:00")) for e in events)
    assert all(parse_rfc3339(e.occurred_at_text) == e.occurred_at for e in events)


# -- configuration -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"teams": ()}, "at least one team"),
        ({"teams": (("claims-east", ()),)}, "has no handlers"),
        ({"arrivals_per_hour": 0}, "arrivals_per_hour"),
        ({"invalid_share": -0.1}, "invalid_share"),
        ({"duplicate_share": 0.5}, "duplicate_share"),
        ({"first_case_number": 0}, "first_case_number"),
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**overrides)


def test_teams_given_as_lists_are_accepted() -> None:
    listed = SimulationConfig(teams=[("claims-east", ["h-001", "h-002"])], seed=1)
    assert listed.teams == (("claims-east", ("h-001", "h-002")),)
