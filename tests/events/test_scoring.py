"""Incentive scoring: the default rules of scoring-v1.md, one table row per edge.

Each row is a case history after opening (handler h-017 of claims-east,
category claims) and the awards it must give: (rule, points, handler, team).
"""

from __future__ import annotations

from typing import Any

import pytest

from events import contract as c
from events.machine import Outcome
from events.scoring import (
    DECISION_LATE,
    DECISION_ON_TIME,
    DEFAULT_RULES,
    ESCALATED_TO_REGULATOR,
    FOLLOW_UP_LATE,
    FOLLOW_UP_ON_TIME,
    REOPENED,
    REWORK,
    RULE_NAMES,
    SATISFACTION,
    ScoringRules,
    normalise_points,
    stage_is_rework,
)
from events.timeutil import DAY_SECONDS, format_rfc3339
from tests.events.factory import CASE_ID, SHANGHAI, CaseScript, apply_all, instant

OPENED_AT = "2026-11-24T09:30:00+08:00"  # decision deadline 2026-12-10T00:00:00+08:00
DUE = "2026-12-20T18:00:00+08:00"
H1 = ("h-017", "claims-east")
H2 = ("h-042", "claims-west")

Step = tuple[str, dict[str, Any]]
Award = tuple[str, float, str, str]


def day(n: int) -> str:
    """10:00 in Shanghai, ``n`` days after the opening day 2026-11-24."""
    return format_rfc3339(instant("2026-11-24T10:00:00+08:00") + n * DAY_SECONDS, SHANGHAI)


def awards_of(steps: list[Step], rules: ScoringRules = DEFAULT_RULES, **opened: Any) -> list[Award]:
    """Every award of the case's history, in order; each step must be applied."""
    script = CaseScript()
    events = [script.opened(OPENED_AT, **opened)]
    for n, (event_type, fields) in enumerate(steps, start=1):
        values = dict(fields)
        at = values.pop("at", day(n))
        events.append(script.next(event_type, at, **values))
    _, transitions = apply_all(events, rules=rules)
    assert all(t.outcome is Outcome.APPLIED for t in transitions), [t.reason for t in transitions]
    return [(a.rule, a.points, a.handler_id, a.team_id) for t in transitions for a in t.awards]


def award(rule: str, points: float, who: tuple[str, str] = H1) -> Award:
    return (rule, points, *who)


DECIDE: Step = (c.DECISION_MADE, {})
CLOSE: Step = (c.CLOSED, {"resolution": "resolved"})
REOPEN: Step = (c.REOPENED, {})


def schedule(due: str = DUE) -> Step:
    return (c.FOLLOW_UP_SCHEDULED, {"due_at": due})


def done(at: str | None = None, satisfaction: int | None = None) -> Step:
    fields: dict[str, Any] = {}
    if at is not None:
        fields["at"] = at
    if satisfaction is not None:
        fields["satisfaction"] = satisfaction
    return (c.FOLLOW_UP_DONE, fields)


def to_stage(stage: str) -> Step:
    return (c.STAGE_CHANGED, {"to_stage": stage})


def escalate(target: str) -> Step:
    return (c.ESCALATED, {"to": target})


def closed_with(satisfaction: int) -> Step:
    return (c.CLOSED, {"resolution": "resolved", "satisfaction": satisfaction})


def assign(who: tuple[str, str]) -> Step:
    return (c.ASSIGNED, {"handler_id": who[0], "team_id": who[1]})


ROWS: list[tuple[str, list[Step], list[Award]]] = [
    # rules 1 and 2: the decision against the deadline
    ("decision on time", [DECIDE], [award(DECISION_ON_TIME, 10)]),
    (
        "decision at the deadline second",
        [(c.DECISION_MADE, {"at": "2026-12-10T00:00:00+08:00"})],
        [award(DECISION_ON_TIME, 10)],
    ),
    (
        "decision one second late",
        [(c.DECISION_MADE, {"at": "2026-12-10T00:00:01+08:00"})],
        [award(DECISION_LATE, -10)],
    ),
    ("a second decision does not score", [DECIDE, DECIDE], [award(DECISION_ON_TIME, 10)]),
    (
        "the deadline in force at the decision counts",
        [
            (c.DEADLINE_EXTENDED, {"tier": 1}),
            (c.DECISION_MADE, {"at": "2026-12-20T10:00:00+08:00"}),
        ],
        [award(DECISION_ON_TIME, 10)],
    ),
    # rules 3 and 4: the return visit against its due time
    ("return visit exactly at due_at", [schedule(), done(DUE)], [award(FOLLOW_UP_ON_TIME, 3)]),
    (
        "return visit one second after due_at",
        [schedule(), done("2026-12-20T18:00:01+08:00")],
        [award(FOLLOW_UP_LATE, -3)],
    ),
    ("return visit without a schedule", [done()], []),
    (
        "return visit without a schedule, with satisfaction",
        [done(satisfaction=5)],
        [award(SATISFACTION, 5)],
    ),
    (
        "two return visits after one schedule: only the first scores",
        [schedule(), done(), done(DUE)],
        [award(FOLLOW_UP_ON_TIME, 3)],
    ),
    (
        "rescheduled later, then done: the new due time counts",
        [
            schedule("2026-12-01T00:00:00+08:00"),
            schedule("2026-12-25T00:00:00+08:00"),
            done("2026-12-20T00:00:00+08:00"),
        ],
        [award(FOLLOW_UP_ON_TIME, 3)],
    ),
    (
        "rescheduled earlier, then done: the new due time counts",
        [
            schedule("2026-12-25T00:00:00+08:00"),
            schedule("2026-12-15T00:00:00+08:00"),
            done("2026-12-20T00:00:00+08:00"),
        ],
        [award(FOLLOW_UP_LATE, -3)],
    ),
    (
        "each schedule scores its first return visit",
        [
            schedule(),
            done(),
            schedule("2026-12-01T00:00:00+08:00"),
            done("2026-12-05T00:00:00+08:00"),
        ],
        [award(FOLLOW_UP_ON_TIME, 3), award(FOLLOW_UP_LATE, -3)],
    ),
    # rule 5: the first satisfaction of a case
    ("satisfaction 5 on the return visit", [done(satisfaction=5)], [award(SATISFACTION, 5)]),
    ("satisfaction 4 on the return visit", [done(satisfaction=4)], [award(SATISFACTION, 3)]),
    ("satisfaction 3 gives no award", [done(satisfaction=3)], []),
    ("satisfaction 2 on the return visit", [done(satisfaction=2)], [award(SATISFACTION, -3)]),
    ("satisfaction 1 on the return visit", [done(satisfaction=1)], [award(SATISFACTION, -5)]),
    ("satisfaction 5 on closing", [closed_with(5)], [award(SATISFACTION, 5)]),
    ("satisfaction 4 on closing", [closed_with(4)], [award(SATISFACTION, 3)]),
    ("satisfaction 3 on closing", [closed_with(3)], []),
    ("satisfaction 2 on closing", [closed_with(2)], [award(SATISFACTION, -3)]),
    ("satisfaction 1 on closing", [closed_with(1)], [award(SATISFACTION, -5)]),
    (
        "return visit with satisfaction, then closed with satisfaction",
        [schedule(), done(satisfaction=5), closed_with(1)],
        [award(FOLLOW_UP_ON_TIME, 3), award(SATISFACTION, 5)],
    ),
    (
        "closed, reopened, closed again: only the first satisfaction",
        [closed_with(2), REOPEN, closed_with(5)],
        [award(SATISFACTION, -3), award(REOPENED, -10)],
    ),
    (
        "a first satisfaction of 3 still uses up the case's satisfaction",
        [done(satisfaction=3), closed_with(5)],
        [],
    ),
    (
        "a return visit without satisfaction leaves it for the closing",
        [done(), closed_with(4)],
        [award(SATISFACTION, 3)],
    ),
    # rule 6: escalation to the regulator, every time
    ("escalation to the regulator", [escalate("regulator")], [award(ESCALATED_TO_REGULATOR, -20)]),
    (
        "escalation to the regulator twice",
        [escalate("regulator"), escalate("regulator")],
        [award(ESCALATED_TO_REGULATOR, -20), award(ESCALATED_TO_REGULATOR, -20)],
    ),
    ("escalation to senior management", [escalate("senior_management")], []),
    ("escalation to internal review", [escalate("internal_review")], []),
    # rule 7: reopening, every time
    ("reopened", [CLOSE, REOPEN], [award(REOPENED, -10)]),
    (
        "reopened twice",
        [CLOSE, REOPEN, CLOSE, REOPEN],
        [award(REOPENED, -10), award(REOPENED, -10)],
    ),
    # rule 8: rework, once per move back
    (
        "forward moves are no rework",
        [to_stage("investigation"), to_stage("resolution"), to_stage("review")],
        [],
    ),
    ("skipping forward is no rework", [to_stage("review")], []),
    ("one stage back", [to_stage("resolution"), to_stage("investigation")], [award(REWORK, -2)]),
    (
        "several stages back in one move",
        [to_stage("review"), to_stage("intake")],
        [award(REWORK, -2)],
    ),
    (
        "two moves back",
        [to_stage("review"), to_stage("feedback"), to_stage("resolution")],
        [award(REWORK, -2), award(REWORK, -2)],
    ),
    (
        "back, forward, back",
        [to_stage("feedback"), to_stage("investigation"), to_stage("review"), to_stage("intake")],
        [award(REWORK, -2), award(REWORK, -2)],
    ),
    (
        "reopening enters investigation without rework",
        [to_stage("review"), CLOSE, REOPEN],
        [award(REOPENED, -10)],
    ),
    # credit goes to the handler and team assigned when the event happens
    ("assign, then decide", [assign(H2), DECIDE], [award(DECISION_ON_TIME, 10, H2)]),
    (
        "decide, then assign",
        [DECIDE, assign(H2)],
        [award(DECISION_ON_TIME, 10, H1)],
    ),
    (
        "events on both sides of an assignment",
        [escalate("regulator"), assign(H2), escalate("regulator"), assign(H1), closed_with(1)],
        [
            award(ESCALATED_TO_REGULATOR, -20, H1),
            award(ESCALATED_TO_REGULATOR, -20, H2),
            award(SATISFACTION, -5, H1),
        ],
    ),
    (
        "the reopening scores for the handler of the closed case",
        [assign(H2), CLOSE, REOPEN],
        [award(REOPENED, -10, H2)],
    ),
    # a reopened case deciding again scores again
    (
        "decide, close, reopen with new facts, decide",
        [
            DECIDE,
            CLOSE,
            (c.REOPENED, {"new_facts": True, "at": "2027-01-05T10:00:00+08:00"}),
            (c.DECISION_MADE, {"at": "2027-01-10T10:00:00+08:00"}),
        ],
        [award(DECISION_ON_TIME, 10), award(REOPENED, -10), award(DECISION_ON_TIME, 10)],
    ),
    (
        "decide, close, reopen without new facts, decide after the old deadline",
        [
            DECIDE,
            CLOSE,
            (c.REOPENED, {"at": "2027-01-05T10:00:00+08:00"}),
            (c.DECISION_MADE, {"at": "2027-01-10T10:00:00+08:00"}),
        ],
        [award(DECISION_ON_TIME, 10), award(REOPENED, -10), award(DECISION_LATE, -10)],
    ),
    (
        "after a reopening only the first decision scores again",
        [DECIDE, CLOSE, REOPEN, DECIDE, DECIDE],
        [award(DECISION_ON_TIME, 10), award(REOPENED, -10), award(DECISION_ON_TIME, 10)],
    ),
    (
        "a case closed undecided and reopened scores its first decision",
        [CLOSE, REOPEN, DECIDE],
        [award(REOPENED, -10), award(DECISION_ON_TIME, 10)],
    ),
    # events that never score
    (
        "events that never score",
        [
            assign(H2),
            (c.CLOCK_PAUSED, {"reason": "mediation"}),
            (c.CLOCK_RESUMED, {}),
            (c.DEADLINE_EXTENDED, {"tier": 2, "approved_by": "m-001"}),
            schedule(),
            CLOSE,
        ],
        [],
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [(steps, expected) for _, steps, expected in ROWS],
    ids=[r[0] for r in ROWS],
)
def test_default_rules(steps: list[Step], expected: list[Award]) -> None:
    assert awards_of(steps) == expected


# -- category weights --------------------------------------------------------------

WEIGHTED = ScoringRules(category_weights={"claims": 1.5, "sales": 0.5, "premium": 1 / 3})


@pytest.mark.parametrize(
    ("category", "steps", "expected"),
    [
        ("claims", [DECIDE], [award(DECISION_ON_TIME, 15)]),
        ("claims", [done(satisfaction=4)], [award(SATISFACTION, 4.5)]),
        ("claims", [escalate("regulator")], [award(ESCALATED_TO_REGULATOR, -30)]),
        ("claims", [to_stage("review"), to_stage("intake")], [award(REWORK, -3)]),
        ("sales", [CLOSE, REOPEN], [award(REOPENED, -5)]),
        ("sales", [done(satisfaction=3)], []),
        ("premium", [DECIDE], [award(DECISION_ON_TIME, 3.33)]),
        (
            "premium",
            [(c.DECISION_MADE, {"at": "2027-01-01T00:00:00+08:00"})],
            [award(DECISION_LATE, -3.33)],
        ),
        ("surrender", [DECIDE], [award(DECISION_ON_TIME, 10)]),  # no weight: 1
    ],
)
def test_category_weights_multiply_the_points(
    category: str, steps: list[Step], expected: list[Award]
) -> None:
    assert awards_of(steps, WEIGHTED, category=category) == expected


def test_whole_weighted_points_are_integers() -> None:
    [(_, points, _, _)] = awards_of([DECIDE], WEIGHTED, category="claims")

    assert isinstance(points, int)


def test_configured_points_replace_the_defaults() -> None:
    rules = ScoringRules(
        decision_on_time=7, reopened=0, satisfaction={5: 1, 4: 0, 3: 0, 2: 0, 1: 0}
    )

    assert awards_of([DECIDE, closed_with(5), REOPEN], rules) == [
        award(DECISION_ON_TIME, 7),
        award(SATISFACTION, 1),
    ]


# -- what every award carries ------------------------------------------------------


def test_an_award_names_its_rule_event_case_and_time() -> None:
    script = CaseScript()
    opened = script.opened(OPENED_AT)
    decision = script.next(c.DECISION_MADE, day(3))
    _, transitions = apply_all([opened, decision])

    [award_] = transitions[1].awards
    assert award_.rule == DECISION_ON_TIME
    assert award_.event_id == decision["event_id"]
    assert award_.case_id == CASE_ID
    assert award_.occurred_at == instant(day(3))


def test_duplicates_and_invalid_events_never_score() -> None:
    script = CaseScript()
    opened = script.opened(OPENED_AT)
    escalation = script.next(c.ESCALATED, day(1), to="regulator")
    closed = script.next(c.CLOSED, day(2))
    late_escalation = script.next(c.ESCALATED, day(3), to="regulator")  # the case is closed
    _, transitions = apply_all([opened, escalation, escalation, closed, late_escalation, closed])

    outcomes = [t.outcome for t in transitions]
    assert outcomes == [
        Outcome.APPLIED,
        Outcome.APPLIED,
        Outcome.DUPLICATE,
        Outcome.APPLIED,
        Outcome.INVALID,
        Outcome.DUPLICATE,
    ]
    assert [len(t.awards) for t in transitions] == [0, 1, 0, 0, 0, 0]


def test_rule_names_are_unique_and_complete() -> None:
    assert len(set(RULE_NAMES)) == len(RULE_NAMES) == 8


def test_the_default_rules_are_scoring_v1() -> None:
    rules = DEFAULT_RULES

    assert (rules.decision_on_time, rules.decision_late) == (10, -10)
    assert (rules.follow_up_on_time, rules.follow_up_late) == (3, -3)
    assert rules.satisfaction == {5: 5, 4: 3, 3: 0, 2: -3, 1: -5}
    assert (rules.escalated_to_regulator, rules.reopened, rules.rework) == (-20, -10, -2)
    assert all(rules.weight(category) == 1 for category in c.CATEGORIES)


@pytest.mark.parametrize(
    ("current", "target", "rework"),
    [
        ("intake", "investigation", False),
        ("investigation", "intake", True),
        ("review", "intake", True),
        ("follow_up", "feedback", True),
        ("feedback", "follow_up", False),
        ("intake", "review", False),
    ],
)
def test_stage_is_rework(current: str, target: str, rework: bool) -> None:
    assert stage_is_rework(current, target) is rework


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10.0, 10),
        (-2.0, -2),
        (4.5, 4.5),
        (10 / 3, 3.33),
        (-10 / 3, -3.33),
        (0.004, 0),
        (2.675, 2.67),
    ],
)
def test_normalise_points(value: float, expected: float) -> None:
    result = normalise_points(value)

    assert result == expected
    assert isinstance(result, int) == isinstance(expected, int)
