"""The regulatory decision clock (rules R2, R3, R4, R11 of case-events-v1.md).

Deadline: clock start + limit (15, 30 or 60 natural days) + paused time, then
the end of that day (24:00) in the business time zone. Time is always given,
never read from the machine's clock.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from events import contract as c
from events.clock import (
    DECIDED,
    NOT_APPLICABLE,
    PAUSED,
    RUNNING,
    ClockStatus,
    clock_status,
    deadline,
    paused_seconds,
    running_deadline,
)
from events.machine import Outcome, Transition
from events.projection import footprint
from events.scoring import DECISION_LATE, DECISION_ON_TIME
from events.state import CaseState, DecisionClock
from events.timeutil import DAY_SECONDS, add_natural_days, format_rfc3339
from tests.events.factory import LONDON, SHANGHAI, CaseScript, apply_all, instant

RECEIVED = "2026-11-24T09:30:00+08:00"
DEADLINE = "2026-12-10T00:00:00+08:00"
WARNING_DAYS = 3

Step = tuple[str, str, dict[str, Any]]


def run(
    steps: list[Step], opened_at: str = RECEIVED, tz: ZoneInfo = SHANGHAI, **opened: Any
) -> tuple[CaseState, list[Transition]]:
    """Open a case at ``opened_at`` and apply ``steps``; return (state, transitions)."""
    script = CaseScript()
    events = [script.opened(opened_at, **opened)]
    events += [script.next(event_type, at, **fields) for event_type, at, fields in steps]
    state, transitions = apply_all(events, tz)
    assert all(t.outcome is Outcome.APPLIED for t in transitions), [t.reason for t in transitions]
    assert state is not None
    return state, transitions


def local(epoch: float | None, tz: ZoneInfo = SHANGHAI) -> str | None:
    return None if epoch is None else format_rfc3339(epoch, tz)


def deadline_of(state: CaseState, tz: ZoneInfo = SHANGHAI) -> str | None:
    return local(deadline(state.clock, tz), tz)


def status_at(
    state: CaseState, at: str, tz: ZoneInfo = SHANGHAI, warning: float = WARNING_DAYS
) -> ClockStatus:
    return clock_status(state, tz, instant(at), warning)


# -- the 15-day deadline ---------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ("2026-11-24T09:30:00+08:00", "2026-12-10T00:00:00+08:00"),
        # the start day is not counted, the last day counts whole
        ("2026-11-24T00:00:00+08:00", "2026-12-10T00:00:00+08:00"),
        ("2026-11-24T23:59:59+08:00", "2026-12-10T00:00:00+08:00"),
        ("2026-11-25T00:00:00+08:00", "2026-12-11T00:00:00+08:00"),
        # the day is the business zone's day, whatever the offset of the event
        ("2026-11-24T01:30:00Z", "2026-12-10T00:00:00+08:00"),
        ("2026-11-24T16:00:00Z", "2026-12-11T00:00:00+08:00"),
        ("2026-11-23T15:59:59Z", "2026-12-09T00:00:00+08:00"),
        # month and year ends
        ("2026-01-31T10:00:00+08:00", "2026-02-16T00:00:00+08:00"),
        ("2026-02-20T10:00:00+08:00", "2026-03-08T00:00:00+08:00"),
        ("2028-02-20T10:00:00+08:00", "2028-03-07T00:00:00+08:00"),
        ("2028-02-14T10:00:00+08:00", "2028-03-01T00:00:00+08:00"),
        ("2028-02-13T10:00:00+08:00", "2028-02-29T00:00:00+08:00"),
        ("2026-12-20T10:00:00+08:00", "2027-01-05T00:00:00+08:00"),
        ("2026-12-31T23:59:59+08:00", "2027-01-16T00:00:00+08:00"),
    ],
)
def test_the_deadline_is_24_00_of_day_15_in_shanghai(received: str, expected: str) -> None:
    state, _ = run([], opened_at=received)

    assert deadline_of(state) == expected


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        # clocks go forward on 2026-03-29: 15 natural days are 15 days less an hour
        ("2026-03-20T23:30:00+00:00", "2026-04-05T00:00:00+01:00"),
        ("2026-03-20T00:30:00+00:00", "2026-04-05T00:00:00+01:00"),
        ("2026-03-28T12:00:00+00:00", "2026-04-13T00:00:00+01:00"),
        # clocks go back on 2026-10-25: 15 natural days are 15 days and an hour
        ("2026-10-20T00:30:00+01:00", "2026-11-05T00:00:00+00:00"),
        ("2026-10-20T23:30:00+01:00", "2026-11-05T00:00:00+00:00"),
        ("2026-10-24T23:59:59+01:00", "2026-11-09T00:00:00+00:00"),
        # no change of offset
        ("2026-06-01T09:00:00+01:00", "2026-06-17T00:00:00+01:00"),
    ],
)
def test_days_are_natural_days_across_a_daylight_saving_change(
    received: str, expected: str
) -> None:
    state, _ = run([], opened_at=received, tz=LONDON)

    assert deadline_of(state, LONDON) == expected


def test_received_at_before_occurred_at_starts_the_clock() -> None:
    state, _ = run([], opened_at="2026-11-27T15:00:00+08:00", received_at=RECEIVED)

    assert state.clock.start == instant(RECEIVED)
    assert deadline_of(state) == DEADLINE


def test_received_at_after_occurred_at_starts_the_clock_too() -> None:
    state, _ = run([], opened_at=RECEIVED, received_at="2026-11-25T08:00:00+08:00")

    assert deadline_of(state) == "2026-12-11T00:00:00+08:00"


# -- extensions ---------------------------------------------------------------


def extend(tier: int, at: str = "2026-11-30T10:00:00+08:00") -> Step:
    fields: dict[str, Any] = {"tier": tier}
    if tier == 2:
        fields["approved_by"] = "m-001"
    return (c.DEADLINE_EXTENDED, at, fields)


@pytest.mark.parametrize(
    ("tiers", "limit", "expected"),
    [
        ([], 15, "2026-12-10T00:00:00+08:00"),
        ([1], 30, "2026-12-25T00:00:00+08:00"),
        ([2], 60, "2027-01-24T00:00:00+08:00"),
        ([1, 2], 60, "2027-01-24T00:00:00+08:00"),
        ([2, 1], 60, "2027-01-24T00:00:00+08:00"),  # never shrinks
        ([1, 1], 30, "2026-12-25T00:00:00+08:00"),
        ([2, 2, 1], 60, "2027-01-24T00:00:00+08:00"),
    ],
)
def test_extensions_lengthen_the_limit_and_never_shrink_it(
    tiers: list[int], limit: int, expected: str
) -> None:
    state, _ = run([extend(tier) for tier in tiers])

    assert state.clock.limit_days == limit
    assert deadline_of(state) == expected


def test_an_extension_after_the_deadline_passed_lifts_the_breach() -> None:
    state, _ = run([extend(1, at="2026-12-12T10:00:00+08:00")])

    status = status_at(state, "2026-12-12T10:00:00+08:00")
    assert not status.breached
    assert local(status.deadline) == "2026-12-25T00:00:00+08:00"


# -- pauses (rule R3) -----------------------------------------------------------


def pause(at: str, reason: str = "external_appraisal") -> Step:
    return (c.CLOCK_PAUSED, at, {"reason": reason})


def resume(at: str) -> Step:
    return (c.CLOCK_RESUMED, at, {})


@pytest.mark.parametrize(
    ("steps", "paused_hours", "expected"),
    [
        # across the deadline: 4 days 6 hours paused; 12-09 09:30 + 4d6h = 12-13 15:30
        (
            [pause("2026-12-08T12:00:00+08:00"), resume("2026-12-12T18:00:00+08:00")],
            102,
            "2026-12-14T00:00:00+08:00",
        ),
        # 10 hours paused stay inside the last day: end-of-day rounding keeps the deadline
        (
            [pause("2026-11-30T10:00:00+08:00"), resume("2026-11-30T20:00:00+08:00")],
            10,
            "2026-12-10T00:00:00+08:00",
        ),
        # 15 hours paused push 12-09 09:30 past midnight
        (
            [pause("2026-11-30T08:00:00+08:00"), resume("2026-11-30T23:00:00+08:00")],
            15,
            "2026-12-11T00:00:00+08:00",
        ),
        # two pauses: 1 day + 12 hours
        (
            [
                pause("2026-11-25T10:00:00+08:00"),
                resume("2026-11-26T10:00:00+08:00"),
                pause("2026-12-01T08:00:00+08:00", "mediation"),
                resume("2026-12-01T20:00:00+08:00"),
            ],
            36,
            "2026-12-11T00:00:00+08:00",
        ),
        # a pause and an extension
        (
            [
                pause("2026-11-25T10:00:00+08:00"),
                extend(1, at="2026-11-26T09:00:00+08:00"),
                resume("2026-11-27T10:00:00+08:00"),
            ],
            48,
            "2026-12-27T00:00:00+08:00",
        ),
    ],
)
def test_paused_time_moves_the_deadline_before_end_of_day_rounding(
    steps: list[Step], paused_hours: int, expected: str
) -> None:
    state, _ = run(steps)

    assert state.clock.paused_since is None
    assert state.clock.paused_total == paused_hours * 3600
    assert deadline_of(state) == expected


def test_a_pause_across_a_daylight_saving_change_counts_elapsed_time() -> None:
    # 2026-03-20 09:00 + 15 days = 04-04 09:00; 3 days paused across the change
    state, _ = run(
        [pause("2026-03-27T12:00:00+00:00"), resume("2026-03-30T13:00:00+01:00")],
        opened_at="2026-03-20T09:00:00+00:00",
        tz=LONDON,
    )

    assert state.clock.paused_total == 3 * DAY_SECONDS
    assert deadline_of(state, LONDON) == "2026-04-08T00:00:00+01:00"


def test_while_paused_the_deadline_grows_with_the_moment_it_is_seen() -> None:
    state, _ = run([pause("2026-12-08T12:00:00+08:00")])

    assert running_deadline(state.clock, SHANGHAI) is None
    # 12-09 09:30 + 2 days paused by 12-10 12:00
    assert local(deadline(state.clock, SHANGHAI, instant("2026-12-10T12:00:00+08:00"))) == (
        "2026-12-12T00:00:00+08:00"
    )
    assert paused_seconds(state.clock, instant("2026-12-10T12:00:00+08:00")) == 2 * DAY_SECONDS
    # without a moment: as at the start of the pause
    assert deadline_of(state) == DEADLINE


@pytest.mark.parametrize(
    "at",
    [
        "2026-12-10T00:00:01+08:00",  # the deadline of the running clock has passed
        "2026-12-31T00:00:00+08:00",
        "2027-06-01T12:00:00+08:00",
        "2030-01-01T00:00:00+08:00",
    ],
)
def test_a_paused_clock_is_never_breached_by_time_passing(at: str) -> None:
    state, _ = run([pause("2026-11-29T10:00:00+08:00")])

    status = status_at(state, at)

    assert status.state == PAUSED
    assert not status.breached
    assert status.remaining_seconds is not None and status.remaining_seconds > 0
    assert status.paused_seconds == instant(at) - instant("2026-11-29T10:00:00+08:00")


@pytest.mark.parametrize("at", ["2026-04-01T00:30:00+01:00", "2026-11-01T01:30:00+00:00"])
def test_a_paused_clock_is_never_breached_across_daylight_saving_changes(at: str) -> None:
    state, _ = run(
        [pause("2026-03-25T10:00:00+00:00")], opened_at="2026-03-20T23:30:00+00:00", tz=LONDON
    )

    assert not status_at(state, at, LONDON).breached


# -- decisions: on time or late ---------------------------------------------------


@pytest.mark.parametrize(
    ("decided", "rule", "points"),
    [
        ("2026-11-24T09:30:00+08:00", DECISION_ON_TIME, 10),
        ("2026-12-09T23:59:59+08:00", DECISION_ON_TIME, 10),
        ("2026-12-10T00:00:00+08:00", DECISION_ON_TIME, 10),  # exactly at the deadline
        ("2026-12-10T00:00:00.5+08:00", DECISION_LATE, -10),
        ("2026-12-10T00:00:01+08:00", DECISION_LATE, -10),  # one second after
        ("2026-12-09T16:00:00Z", DECISION_ON_TIME, 10),  # the same instant in UTC
        ("2026-12-09T16:00:01Z", DECISION_LATE, -10),
        ("2027-03-01T00:00:00+08:00", DECISION_LATE, -10),
    ],
)
def test_a_decision_at_or_before_the_deadline_is_on_time(
    decided: str, rule: str, points: int
) -> None:
    state, transitions = run([(c.DECISION_MADE, decided, {})])

    assert [(a.rule, a.points) for a in transitions[-1].awards] == [(rule, points)]
    assert state.clock.decided_at == instant(decided)


def test_a_decision_exactly_at_an_extended_deadline_is_on_time() -> None:
    _, transitions = run([extend(2), (c.DECISION_MADE, "2027-01-24T00:00:00+08:00", {})])

    assert [a.rule for a in transitions[-1].awards] == [DECISION_ON_TIME]


def test_a_decision_while_paused_counts_the_pause_up_to_the_decision() -> None:
    # paused 12-08 12:00 to the decision 12-12 18:00: 4 days 6 hours
    state, transitions = run(
        [pause("2026-12-08T12:00:00+08:00"), (c.DECISION_MADE, "2026-12-12T18:00:00+08:00", {})]
    )

    assert [a.rule for a in transitions[-1].awards] == [DECISION_ON_TIME]
    assert state.clock.paused_since is None
    assert state.clock.paused_total == 102 * 3600
    status = status_at(state, "2027-01-01T00:00:00+08:00")
    assert status.state == DECIDED
    assert local(status.deadline) == "2026-12-14T00:00:00+08:00"
    assert not status.breached and not status.at_risk
    assert status.remaining_seconds is None


def test_the_decision_stops_the_clock_for_good() -> None:
    state, _ = run(
        [
            (c.DECISION_MADE, "2026-12-01T10:00:00+08:00", {}),
            pause("2026-12-02T10:00:00+08:00"),
            resume("2026-12-20T10:00:00+08:00"),
            extend(2, at="2026-12-21T10:00:00+08:00"),
        ]
    )

    status = status_at(state, "2027-02-01T00:00:00+08:00")
    assert status.state == DECIDED
    assert status.paused_seconds == 0
    assert not status.breached
    assert running_deadline(state.clock, SHANGHAI) is None


def test_a_pause_after_the_decision_does_not_move_the_decided_deadline() -> None:
    state, _ = run(
        [(c.DECISION_MADE, "2026-12-01T10:00:00+08:00", {}), pause("2026-12-02T10:00:00+08:00")]
    )

    status = status_at(state, "2027-02-01T00:00:00+08:00")
    assert status.state == DECIDED
    assert local(status.deadline) == DEADLINE


def test_an_extension_after_the_decision_keeps_the_deadline_in_force_at_the_decision() -> None:
    # decided two days late (deadline 12-10), then a tier-2 extension: the late
    # decision scored -10 and its deadline stays 12-10 for every reader
    state, transitions = run(
        [
            (c.DECISION_MADE, "2026-12-12T10:00:00+08:00", {}),
            extend(2, at="2026-12-13T10:00:00+08:00"),
        ]
    )

    assert [a.rule for a in transitions[1].awards] == [DECISION_LATE]
    assert state.clock.limit_days == 15
    status = status_at(state, "2026-12-20T00:00:00+08:00")
    assert local(status.deadline) == DEADLINE
    decided_at = state.clock.decided_at
    assert decided_at is not None and decided_at > deadline(state.clock, SHANGHAI, decided_at)


def test_an_extension_after_a_reopening_without_new_facts_applies_again() -> None:
    state, _ = run(
        [
            (c.DECISION_MADE, "2026-12-01T10:00:00+08:00", {}),
            (c.CLOSED, "2026-12-02T10:00:00+08:00", {"resolution": "resolved"}),
            (c.REOPENED, "2026-12-05T10:00:00+08:00", {"new_facts": False}),
            extend(1, at="2026-12-06T10:00:00+08:00"),
        ]
    )

    assert state.clock.limit_days == 30
    assert deadline_of(state) == "2026-12-25T00:00:00+08:00"


def test_pauses_spanning_millennia_clamp_the_deadline_instead_of_overflowing() -> None:
    # Every time is form-valid, but the pause starts 7,000 years before the
    # clock: the deadline lands at the calendar's last day, not in an error.
    state, transitions = run(
        [
            pause("1970-01-02T00:00:00+08:00"),
            resume("8998-12-31T00:00:00+08:00"),
            (c.DECISION_MADE, "8998-12-31T00:00:00+08:00", {}),
        ],
        opened_at="2026-11-24T09:30:00+08:00",
        received_at="8998-12-01T00:00:00+08:00",
    )

    assert [a.rule for a in transitions[-1].awards] == [DECISION_ON_TIME]
    assert deadline_of(state) == "9999-01-01T00:00:00+08:00"
    footprint(state, SHANGHAI)  # what every sink stores after a batch


def test_a_clock_paused_millennia_ago_is_seen_now_without_overflowing() -> None:
    state, _ = run(
        [pause("1970-01-02T00:00:00+08:00")],
        received_at="8998-12-01T00:00:00+08:00",
    )

    status = status_at(state, "2026-11-25T10:00:00+08:00")
    assert status.state == PAUSED and not status.breached
    footprint(state, SHANGHAI)


# -- reopening (rule R4) -----------------------------------------------------------


HISTORY_BEFORE_REOPENING: list[Step] = [
    pause("2026-11-25T10:00:00+08:00"),
    resume("2026-11-27T10:00:00+08:00"),  # 2 days paused: deadline 12-12
    extend(1, at="2026-11-28T10:00:00+08:00"),  # 30 days: deadline 12-27
    (c.DECISION_MADE, "2026-12-01T10:00:00+08:00", {}),
    (c.CLOSED, "2026-12-02T10:00:00+08:00", {"resolution": "resolved"}),
]


def test_reopening_with_new_facts_restarts_15_days_from_the_reopening() -> None:
    state, _ = run(
        [*HISTORY_BEFORE_REOPENING, (c.REOPENED, "2027-01-05T15:00:00+08:00", {"new_facts": True})]
    )

    clock = state.clock
    assert clock == DecisionClock(start=instant("2027-01-05T15:00:00+08:00"), limit_days=15)
    assert deadline_of(state) == "2027-01-21T00:00:00+08:00"
    status = status_at(state, "2027-01-05T15:00:00+08:00")
    assert (status.state, status.breached, status.at_risk) == (RUNNING, False, False)


def test_reopening_without_new_facts_keeps_the_old_clock_with_the_decision_pending() -> None:
    state, _ = run(
        [*HISTORY_BEFORE_REOPENING, (c.REOPENED, "2027-01-05T15:00:00+08:00", {"new_facts": False})]
    )

    assert state.clock.start == instant(RECEIVED)
    assert state.clock.limit_days == 30
    assert state.clock.paused_total == 2 * DAY_SECONDS
    assert state.clock.decided_at is None
    assert deadline_of(state) == "2026-12-27T00:00:00+08:00"
    assert status_at(state, "2027-01-05T15:00:00+08:00").breached


def test_reopening_while_paused_before_closing_leaves_a_running_clock() -> None:
    state, _ = run(
        [
            pause("2026-11-25T10:00:00+08:00"),
            (c.CLOSED, "2026-11-26T10:00:00+08:00", {"resolution": "withdrawn"}),
            (c.REOPENED, "2026-11-28T10:00:00+08:00", {}),
        ]
    )

    assert state.clock.paused_since is None
    assert state.clock.paused_total == DAY_SECONDS
    assert status_at(state, "2026-11-28T10:00:00+08:00").state == RUNNING


# -- status: at risk and breached ---------------------------------------------------


@pytest.mark.parametrize(
    ("at", "at_risk", "breached"),
    [
        (RECEIVED, False, False),
        ("2026-12-06T23:59:59+08:00", False, False),  # 3 days and 1 second left
        ("2026-12-07T00:00:00+08:00", False, False),  # exactly 3 days left
        ("2026-12-07T00:00:01+08:00", True, False),  # less than 3 days left
        ("2026-12-09T23:59:59+08:00", True, False),
        ("2026-12-10T00:00:00+08:00", True, False),  # the deadline itself
        ("2026-12-10T00:00:01+08:00", False, True),  # one second after
        ("2027-12-10T00:00:00+08:00", False, True),
    ],
)
def test_at_risk_and_breached_boundaries_with_the_default_window(
    at: str, at_risk: bool, breached: bool
) -> None:
    state, _ = run([])

    status = status_at(state, at)

    assert status.state == RUNNING
    assert (status.at_risk, status.breached) == (at_risk, breached)
    assert local(status.deadline) == DEADLINE
    assert status.remaining_seconds == instant(DEADLINE) - instant(at)


@pytest.mark.parametrize(
    ("warning_days", "at", "at_risk"),
    [
        (1, "2026-12-09T00:00:00+08:00", False),
        (1, "2026-12-09T00:00:01+08:00", True),
        (0.5, "2026-12-09T12:00:01+08:00", True),
        (0, "2026-12-09T23:59:59+08:00", False),
    ],
)
def test_the_warning_window_is_configurable(warning_days: float, at: str, at_risk: bool) -> None:
    state, _ = run([])

    assert status_at(state, at, warning=warning_days).at_risk is at_risk


def test_a_paused_clock_can_be_at_risk_but_not_breached() -> None:
    state, _ = run([pause("2026-12-08T12:00:00+08:00")])

    status = status_at(state, "2026-12-08T12:00:00+08:00")

    assert (status.state, status.at_risk, status.breached) == (PAUSED, True, False)


def test_a_closed_case_has_no_clock_status() -> None:
    state, _ = run([(c.CLOSED, "2026-11-25T10:00:00+08:00", {"resolution": "merged"})])

    status = status_at(state, "2027-01-01T00:00:00+08:00")

    assert status.state == NOT_APPLICABLE
    assert (status.deadline, status.remaining_seconds) == (None, None)
    assert not status.at_risk and not status.breached


# -- the pure helpers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "tz", "expected"),
    [
        ("2026-11-24T09:30:00+08:00", 15, SHANGHAI, "2026-12-09T09:30:00+08:00"),
        ("2026-03-20T23:30:00+00:00", 15, LONDON, "2026-04-04T23:30:00+01:00"),
        ("2026-10-20T00:30:00+01:00", 15, LONDON, "2026-11-04T00:30:00+00:00"),
        ("2028-02-28T12:00:00+08:00", 1, SHANGHAI, "2028-02-29T12:00:00+08:00"),
        ("2026-11-24T09:30:00+08:00", 0, SHANGHAI, "2026-11-24T09:30:00+08:00"),
    ],
)
def test_add_natural_days_keeps_the_wall_clock_time(
    start: str, days: int, tz: ZoneInfo, expected: str
) -> None:
    assert format_rfc3339(add_natural_days(instant(start), days, tz), tz) == expected


def test_deadline_of_a_bare_clock() -> None:
    clock = DecisionClock(
        start=instant(RECEIVED),
        limit_days=15,
        paused_total=DAY_SECONDS,
        paused_since=instant("2026-12-01T00:00:00+08:00"),
    )

    assert local(deadline(clock, SHANGHAI)) == "2026-12-11T00:00:00+08:00"
    assert local(deadline(clock, SHANGHAI, instant("2026-12-03T00:00:00+08:00"))) == (
        "2026-12-13T00:00:00+08:00"
    )
    # a moment before the pause began adds nothing
    assert local(deadline(clock, SHANGHAI, instant("2026-11-30T00:00:00+08:00"))) == (
        "2026-12-11T00:00:00+08:00"
    )
