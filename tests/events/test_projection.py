"""The footprint of a case: what it contributes to the live metrics."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from events import contract as c
from events.clock import deadline
from events.projection import Footprint, footprint
from events.state import CaseState
from events.timeutil import DAY_SECONDS, end_of_local_day
from tests.events.factory import LONDON, SHANGHAI, CaseScript, final_state, instant

OPENED_AT = "2026-11-24T09:30:00+08:00"
DEADLINE = instant("2026-12-10T00:00:00+08:00")
DUE = "2026-12-20T18:00:00+08:00"

Step = tuple[str, str, dict[str, Any]]


def case_after(
    steps: list[Step], tz: ZoneInfo = SHANGHAI, opened_at: str = OPENED_AT, **opened: Any
) -> CaseState:
    script = CaseScript()
    events = [script.opened(opened_at, **opened)]
    events += [script.next(event_type, at, **fields) for event_type, at, fields in steps]
    return final_state(events, tz)


def open_footprint(steps: list[Step], tz: ZoneInfo = SHANGHAI, **opened: Any) -> Footprint:
    result = footprint(case_after(steps, tz, **opened), tz)
    assert result is not None
    return result


def test_an_unknown_case_has_no_footprint() -> None:
    assert footprint(None, SHANGHAI) is None


def test_an_open_case_counts_in_its_stage_with_its_running_deadline() -> None:
    assert open_footprint([]) == Footprint(
        stage="intake",
        team_id="claims-east",
        handler_id="h-017",
        deadline=DEADLINE,
        paused=None,
        follow_up_due=None,
        major=False,
        urgent=False,
        regulator=False,
        opened_at=instant(OPENED_AT),
    )


@pytest.mark.parametrize(
    "steps",
    [
        [(c.CLOSED, "2026-11-25T10:00:00+08:00", {})],
        [
            (c.CLOCK_PAUSED, "2026-11-25T10:00:00+08:00", {}),
            (c.FOLLOW_UP_SCHEDULED, "2026-11-26T10:00:00+08:00", {}),
            (c.ESCALATED, "2026-11-26T11:00:00+08:00", {"to": "regulator"}),
            (c.CLOSED, "2026-11-27T10:00:00+08:00", {}),
        ],
        [
            (c.CLOSED, "2026-11-25T10:00:00+08:00", {}),
            (c.REOPENED, "2026-11-26T10:00:00+08:00", {}),
            (c.CLOSED, "2026-11-27T10:00:00+08:00", {}),
        ],
    ],
)
def test_a_closed_case_has_no_footprint(steps: list[Step]) -> None:
    assert footprint(case_after(steps), SHANGHAI) is None


def test_a_reopened_case_counts_again_in_investigation() -> None:
    result = open_footprint(
        [
            (c.CLOSED, "2026-11-25T10:00:00+08:00", {}),
            (c.REOPENED, "2026-11-26T10:00:00+08:00", {"new_facts": True}),
        ]
    )

    assert result.stage == "investigation"
    assert result.deadline == instant("2026-12-12T00:00:00+08:00")


def test_assignment_and_stage_move_the_footprint() -> None:
    result = open_footprint(
        [
            (c.ASSIGNED, "2026-11-25T10:00:00+08:00", {"team_id": "t-2", "handler_id": "h-2"}),
            (c.STAGE_CHANGED, "2026-11-26T10:00:00+08:00", {"to_stage": "feedback"}),
        ]
    )

    assert (result.stage, result.team_id, result.handler_id) == ("feedback", "t-2", "h-2")


def test_a_paused_case_has_no_running_deadline_but_its_pause() -> None:
    pause_at = "2026-11-29T10:00:00+08:00"
    result = open_footprint(
        [
            (c.CLOCK_PAUSED, "2026-11-25T10:00:00+08:00", {}),
            (c.CLOCK_RESUMED, "2026-11-26T10:00:00+08:00", {}),  # 1 day paused
            (c.CLOCK_PAUSED, pause_at, {}),
        ]
    )

    assert result.deadline is None
    assert result.paused == (
        instant("2026-12-09T09:30:00+08:00") + DAY_SECONDS,
        instant(pause_at),
    )


@pytest.mark.parametrize(
    ("tz", "opened_at", "pause_at", "moments"),
    [
        (
            SHANGHAI,
            OPENED_AT,
            "2026-11-29T10:00:00+08:00",
            ["2026-11-29T10:00:00+08:00", "2026-12-09T23:00:00+08:00", "2027-02-01T03:00:00+08:00"],
        ),
        (
            LONDON,
            "2026-03-20T23:30:00+00:00",
            "2026-03-25T10:00:00+00:00",
            ["2026-03-25T10:00:00+00:00", "2026-03-30T00:30:00+01:00", "2026-10-26T00:30:00+00:00"],
        ),
        (
            LONDON,
            "2026-10-20T00:30:00+01:00",
            "2026-10-22T10:00:00+01:00",
            ["2026-10-22T10:00:00+01:00", "2026-10-25T01:30:00+00:00", "2026-11-04T23:59:59+00:00"],
        ),
    ],
)
def test_the_paused_footprint_gives_the_deadline_at_any_moment(
    tz: ZoneInfo, opened_at: str, pause_at: str, moments: list[str]
) -> None:
    state = case_after([(c.CLOCK_PAUSED, pause_at, {})], tz, opened_at=opened_at)
    result = footprint(state, tz)
    assert result is not None and result.paused is not None
    base, since = result.paused

    for moment in moments:
        at = instant(moment)
        assert end_of_local_day(base + (at - since), tz) == deadline(state.clock, tz, at), moment


def test_the_running_footprint_deadline_uses_natural_days() -> None:
    result = open_footprint([], LONDON, opened_at="2026-03-20T23:30:00+00:00")

    assert result.deadline == instant("2026-04-05T00:00:00+01:00")


@pytest.mark.parametrize(
    "steps",
    [
        [(c.DECISION_MADE, "2026-12-01T10:00:00+08:00", {})],
        [
            (c.CLOCK_PAUSED, "2026-11-25T10:00:00+08:00", {}),
            (c.DECISION_MADE, "2026-12-01T10:00:00+08:00", {}),
        ],
        [
            (c.DECISION_MADE, "2026-12-01T10:00:00+08:00", {}),
            (c.CLOCK_PAUSED, "2026-12-02T10:00:00+08:00", {}),
        ],
    ],
)
def test_a_decided_case_has_neither_deadline_nor_pause(steps: list[Step]) -> None:
    result = open_footprint(steps)

    assert (result.deadline, result.paused) == (None, None)


def test_a_scheduled_return_visit_is_due_until_it_is_done() -> None:
    scheduled: Step = (c.FOLLOW_UP_SCHEDULED, "2026-12-01T10:00:00+08:00", {"due_at": DUE})
    done: Step = (c.FOLLOW_UP_DONE, "2026-12-02T10:00:00+08:00", {})
    later = "2027-01-10T10:00:00+08:00"
    rescheduled: Step = (c.FOLLOW_UP_SCHEDULED, "2026-12-03T10:00:00+08:00", {"due_at": later})

    assert open_footprint([scheduled]).follow_up_due == instant(DUE)
    assert open_footprint([scheduled, done]).follow_up_due is None
    assert open_footprint([scheduled, done, rescheduled]).follow_up_due == instant(later)
    assert open_footprint([done]).follow_up_due is None


@pytest.mark.parametrize(
    ("opened", "major", "urgent"),
    [
        ({}, False, False),
        ({"priority": "normal"}, False, False),
        ({"priority": "urgent"}, False, True),
        ({"priority": "major"}, True, False),
        ({"group_size": 19}, False, False),
        ({"group_size": 20}, True, False),  # a group complaint (rule R8)
        ({"group_size": 250, "priority": "urgent"}, True, True),
    ],
)
def test_major_and_urgent_cases_are_flagged(
    opened: dict[str, Any], major: bool, urgent: bool
) -> None:
    result = open_footprint([], **opened)

    assert (result.major, result.urgent) == (major, urgent)


@pytest.mark.parametrize(
    ("target", "regulator"),
    [("regulator", True), ("senior_management", False), ("internal_review", False)],
)
def test_an_escalation_to_the_regulator_is_flagged(target: str, regulator: bool) -> None:
    result = open_footprint([(c.ESCALATED, "2026-11-25T10:00:00+08:00", {"to": target})])

    assert result.regulator is regulator
