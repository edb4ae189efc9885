"""Every scoring rule of scoring-v1.md and its edges, driven through the state machine
(``events.machine.apply``) into awards, then into a ranking."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from events import contract as c
from events import scoring as s
from events.scoring import ScoringRules
from incentives.ranking import rank_rows
from tests.events.factory import SHANGHAI, CaseScript, apply_all, instant

OPENED = "2026-11-02T09:00:00+08:00"  # a Monday; deadline 2026-11-18 00:00 (15 days, end of day)
DEADLINE = "2026-11-18T00:00:00+08:00"
JUST_LATE = "2026-11-18T00:00:01+08:00"
DAY_3 = "2026-11-05T10:00:00+08:00"
DAY_4 = "2026-11-06T10:00:00+08:00"
DAY_5 = "2026-11-07T10:00:00+08:00"
DAY_6 = "2026-11-08T10:00:00+08:00"
DAY_7 = "2026-11-09T10:00:00+08:00"
DUE = "2026-11-10T18:00:00+08:00"
JUST_AFTER_DUE = "2026-11-10T18:00:01+08:00"
LATE_DAY = "2026-11-25T10:00:00+08:00"
# After the first deadline, before that of a clock restarted on DAY_5 (2026-11-23 00:00).
AFTER_REOPENING = "2026-11-22T20:00:00+08:00"

Step = tuple[str, str, dict[str, Any]]


@dataclass
class Scenario:
    steps: list[Step]
    expected: Sequence[tuple[str, float]]  # (rule, points) in event order
    rules: ScoringRules = field(default_factory=ScoringRules)


def step(event_type: str, at: str, **fields: Any) -> Step:
    return (event_type, at, fields)


def decided_case(*more: Step) -> list[Step]:
    return [step(c.DECISION_MADE, DAY_3), *more]


SCENARIOS: dict[str, Scenario] = {
    # rules 1 and 2: the first decision, against the deadline in force
    "decision well before the deadline": Scenario(
        [step(c.DECISION_MADE, DAY_3)], [(s.DECISION_ON_TIME, 10)]
    ),
    "decision exactly at the deadline second is on time": Scenario(
        [step(c.DECISION_MADE, DEADLINE)], [(s.DECISION_ON_TIME, 10)]
    ),
    "decision one second after the deadline is late": Scenario(
        [step(c.DECISION_MADE, JUST_LATE)], [(s.DECISION_LATE, -10)]
    ),
    "a second decision without reopening scores nothing": Scenario(
        [step(c.DECISION_MADE, DAY_3), step(c.DECISION_MADE, JUST_LATE)],
        [(s.DECISION_ON_TIME, 10)],
    ),
    "a pause moves the deadline: a decision that would be late is on time": Scenario(
        [
            step(c.CLOCK_PAUSED, DAY_3, reason="external_appraisal"),
            step(c.CLOCK_RESUMED, DAY_5),  # two days paused: deadline 2026-11-20 00:00
            step(c.DECISION_MADE, "2026-11-19T23:59:59+08:00"),
        ],
        [(s.DECISION_ON_TIME, 10)],
    ),
    "an extension moves the deadline to 30 days": Scenario(
        [step(c.DEADLINE_EXTENDED, DAY_3, tier=1), step(c.DECISION_MADE, LATE_DAY)],
        [(s.DECISION_ON_TIME, 10)],
    ),
    "a reopened case deciding again scores again (old clock: late)": Scenario(
        [
            step(c.DECISION_MADE, DAY_3),
            step(c.CLOSED, DAY_4),
            step(c.REOPENED, DAY_5),
            step(c.DECISION_MADE, AFTER_REOPENING),
        ],
        [(s.DECISION_ON_TIME, 10), (s.REOPENED, -10), (s.DECISION_LATE, -10)],
    ),
    "a reopened case with new facts restarts the clock (on time)": Scenario(
        [
            step(c.DECISION_MADE, DAY_3),
            step(c.CLOSED, DAY_4),
            step(c.REOPENED, DAY_5, new_facts=True),
            step(c.DECISION_MADE, AFTER_REOPENING),
        ],
        [(s.DECISION_ON_TIME, 10), (s.REOPENED, -10), (s.DECISION_ON_TIME, 10)],
    ),
    # rules 3 and 4: the first return visit done after each scheduling
    "return visit before due_at": Scenario(
        decided_case(step(c.FOLLOW_UP_SCHEDULED, DAY_4, due_at=DUE), step(c.FOLLOW_UP_DONE, DAY_5)),
        [(s.DECISION_ON_TIME, 10), (s.FOLLOW_UP_ON_TIME, 3)],
    ),
    "return visit exactly at due_at is on time": Scenario(
        decided_case(step(c.FOLLOW_UP_SCHEDULED, DAY_4, due_at=DUE), step(c.FOLLOW_UP_DONE, DUE)),
        [(s.DECISION_ON_TIME, 10), (s.FOLLOW_UP_ON_TIME, 3)],
    ),
    "return visit one second after due_at is late": Scenario(
        decided_case(
            step(c.FOLLOW_UP_SCHEDULED, DAY_4, due_at=DUE),
            step(c.FOLLOW_UP_DONE, JUST_AFTER_DUE),
        ),
        [(s.DECISION_ON_TIME, 10), (s.FOLLOW_UP_LATE, -3)],
    ),
    "a return visit nobody scheduled scores nothing": Scenario(
        decided_case(step(c.FOLLOW_UP_DONE, DAY_5)), [(s.DECISION_ON_TIME, 10)]
    ),
    "a second visit for one scheduling scores nothing; a new scheduling scores again": Scenario(
        decided_case(
            step(c.FOLLOW_UP_SCHEDULED, DAY_4, due_at=DUE),
            step(c.FOLLOW_UP_DONE, DAY_5),
            step(c.FOLLOW_UP_DONE, DAY_6),
            step(c.FOLLOW_UP_SCHEDULED, DAY_6, due_at=DUE),
            step(c.FOLLOW_UP_DONE, JUST_AFTER_DUE),
        ),
        [(s.DECISION_ON_TIME, 10), (s.FOLLOW_UP_ON_TIME, 3), (s.FOLLOW_UP_LATE, -3)],
    ),
    # rule 5: only the first satisfaction of a case
    **{
        f"satisfaction {level} on a return visit": Scenario(
            decided_case(step(c.FOLLOW_UP_DONE, DAY_5, satisfaction=level)),
            [(s.DECISION_ON_TIME, 10)] + ([(s.SATISFACTION, points)] if points else []),
        )
        for level, points in ((5, 5), (4, 3), (3, 0), (2, -3), (1, -5))
    },
    "satisfaction on closing": Scenario(
        decided_case(step(c.CLOSED, DAY_5, satisfaction=1)),
        [(s.DECISION_ON_TIME, 10), (s.SATISFACTION, -5)],
    ),
    "only the first satisfaction counts": Scenario(
        decided_case(
            step(c.FOLLOW_UP_DONE, DAY_4, satisfaction=5),
            step(c.CLOSED, DAY_5, satisfaction=1),
            step(c.REOPENED, DAY_6),
            step(c.CLOSED, DAY_7, satisfaction=1),
        ),
        [(s.DECISION_ON_TIME, 10), (s.SATISFACTION, 5), (s.REOPENED, -10)],
    ),
    "a first satisfaction worth 0 still is the first": Scenario(
        decided_case(
            step(c.FOLLOW_UP_DONE, DAY_4, satisfaction=3), step(c.CLOSED, DAY_5, satisfaction=1)
        ),
        [(s.DECISION_ON_TIME, 10)],
    ),
    # rule 6: escalation to the regulator, every time
    "escalation to the regulator": Scenario(
        [step(c.ESCALATED, DAY_3, to="regulator"), step(c.ESCALATED, DAY_4, to="regulator")],
        [(s.ESCALATED_TO_REGULATOR, -20), (s.ESCALATED_TO_REGULATOR, -20)],
    ),
    "escalation inside the company scores nothing": Scenario(
        [
            step(c.ESCALATED, DAY_3, to="senior_management"),
            step(c.ESCALATED, DAY_4, to="internal_review"),
        ],
        [],
    ),
    # rule 7: every reopening
    "every reopening": Scenario(
        [
            step(c.CLOSED, DAY_3),
            step(c.REOPENED, DAY_4),
            step(c.CLOSED, DAY_5),
            step(c.REOPENED, DAY_6),
        ],
        [(s.REOPENED, -10), (s.REOPENED, -10)],
    ),
    # rule 8: rework, whatever the distance, every time
    "moving forward is not rework": Scenario(
        [
            step(c.STAGE_CHANGED, DAY_3, to_stage="investigation"),
            step(c.STAGE_CHANGED, DAY_4, to_stage="review"),
        ],
        [],
    ),
    "rework by one stage": Scenario(
        [
            step(c.STAGE_CHANGED, DAY_3, to_stage="resolution"),
            step(c.STAGE_CHANGED, DAY_4, to_stage="investigation"),
        ],
        [(s.REWORK, -2)],
    ),
    "rework by several stages counts once": Scenario(
        [
            step(c.STAGE_CHANGED, DAY_3, to_stage="review"),
            step(c.STAGE_CHANGED, DAY_4, to_stage="intake"),
        ],
        [(s.REWORK, -2)],
    ),
    "repeated rework counts each time": Scenario(
        [
            step(c.STAGE_CHANGED, DAY_3, to_stage="feedback"),
            step(c.STAGE_CHANGED, DAY_4, to_stage="resolution"),
            step(c.STAGE_CHANGED, DAY_5, to_stage="follow_up"),
            step(c.STAGE_CHANGED, DAY_6, to_stage="investigation"),
        ],
        [(s.REWORK, -2), (s.REWORK, -2)],
    ),
    # configured rules and category weights
    "changed points": Scenario(
        [step(c.DECISION_MADE, JUST_LATE), step(c.ESCALATED, DAY_4, to="regulator")],
        [(s.DECISION_LATE, -15), (s.ESCALATED_TO_REGULATOR, -50)],
        ScoringRules(decision_late=-15, escalated_to_regulator=-50),
    ),
    "a category weight multiplies every award of the case": Scenario(
        [
            step(c.STAGE_CHANGED, DAY_3, to_stage="investigation"),
            step(c.DECISION_MADE, DAY_3),
            step(c.STAGE_CHANGED, DAY_4, to_stage="intake"),
        ],
        [(s.DECISION_ON_TIME, 15), (s.REWORK, -3)],
        ScoringRules(category_weights={"claims": 1.5}),
    ),
    "a category weight of 0 gives no award at all": Scenario(
        [step(c.DECISION_MADE, DAY_3)], [], ScoringRules(category_weights={"claims": 0})
    ),
    "weighted points are rounded to cents": Scenario(
        [step(c.DECISION_MADE, DAY_3)],
        [(s.DECISION_ON_TIME, 3.33)],
        ScoringRules(category_weights={"claims": 1 / 3}),
    ),
    # what never scores
    "an invalid event never scores": Scenario(
        [step(c.STAGE_CHANGED, DAY_3, to_stage="intake"), step(c.REOPENED, DAY_4)], []
    ),
    "a duplicate never scores": Scenario(
        [step(c.ESCALATED, DAY_3, to="regulator")], [(s.ESCALATED_TO_REGULATOR, -20)]
    ),
}


def run(scenario: Scenario, duplicate_last: bool = False) -> list[s.Award]:
    script = CaseScript()
    events = [script.opened(OPENED)]
    events += [script.next(etype, at, **fields) for etype, at, fields in scenario.steps]
    if duplicate_last:
        events.append(events[-1])
    _, transitions = apply_all(events, SHANGHAI, scenario.rules)
    return [award for t in transitions for award in t.awards]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_rule(name: str) -> None:
    scenario = SCENARIOS[name]
    awards = run(scenario, duplicate_last=name == "a duplicate never scores")
    assert [(a.rule, a.points) for a in awards] == scenario.expected


def test_points_go_to_the_handler_assigned_when_the_event_happens() -> None:
    script = CaseScript()
    events = [
        script.opened(OPENED),  # claims-east / h-017
        script.next(c.DECISION_MADE, DAY_3),
        script.next(c.ASSIGNED, DAY_4),  # claims-west / h-042
        script.next(c.FOLLOW_UP_SCHEDULED, DAY_4, due_at=DUE),
        script.next(c.FOLLOW_UP_DONE, DAY_5, satisfaction=5),
    ]
    _, transitions = apply_all(events)
    credited = [(a.rule, a.handler_id, a.team_id) for t in transitions for a in t.awards]
    assert credited == [
        (s.DECISION_ON_TIME, "h-017", "claims-east"),
        (s.FOLLOW_UP_ON_TIME, "h-042", "claims-west"),
        (s.SATISFACTION, "h-042", "claims-west"),
    ]


def test_every_award_carries_its_event_and_time() -> None:
    script = CaseScript("C-WHY")
    events = [script.opened(OPENED), script.next(c.ESCALATED, DAY_3, to="regulator")]
    _, transitions = apply_all(events)
    (award,) = transitions[1].awards
    assert award.event_id == events[1]["event_id"]
    assert award.case_id == "C-WHY"
    assert award.occurred_at == instant(DAY_3)
    assert (award.handler_id, award.team_id) == ("h-017", "claims-east")


def test_awards_of_several_cases_rank_with_shared_ranks() -> None:
    """Four handlers: two tie at 10, one has a total of 0 from non-zero awards."""
    plans: dict[str, list[Step]] = {
        "h-a": [step(c.DECISION_MADE, DAY_3)],  # +10
        "h-b": [step(c.DECISION_MADE, DAY_3)],  # +10
        "h-c": [
            step(c.DECISION_MADE, DAY_3),  # +10
            step(c.CLOSED, DAY_4),
            step(c.REOPENED, DAY_5),  # -10
        ],
        "h-d": [step(c.DECISION_MADE, JUST_LATE), step(c.ESCALATED, DAY_4, to="regulator")],
    }
    points: dict[str, float] = defaultdict(float)
    teams: dict[str, str] = {}
    for handler, steps in plans.items():
        script = CaseScript(f"C-{handler}")
        events = [script.opened(OPENED, handler_id=handler, team_id="claims-east")]
        events += [script.next(etype, at, **fields) for etype, at, fields in steps]
        _, transitions = apply_all(events)
        for award in (a for t in transitions for a in t.awards):
            points[award.handler_id] += award.points
            teams[award.handler_id] = award.team_id
    rows = rank_rows(points, None, teams)
    assert [(r.rank, r.id, r.points) for r in rows] == [
        (1, "h-a", 10),
        (1, "h-b", 10),
        (3, "h-c", 0),
        (4, "h-d", -30),
    ]
    assert all(r.team_id == "claims-east" and r.rank_change is None for r in rows)
