"""Evaluation (pure): observations in, firing alerts with stable fingerprints out."""

from __future__ import annotations

import pytest

from alerts.evaluate import (
    ConsumerHeartbeat,
    DueCaseObservation,
    Firing,
    HandlerLoadObservation,
    MajorCaseObservation,
    Observations,
    StageObservation,
    evaluate,
    fingerprint,
)
from alerts.rules import AlertRules

NOW = 1_800_000_000.0
HOUR = 3600.0


def rules(**changes: object) -> AlertRules:
    return AlertRules.model_validate(changes)


def due(case: str, team: str = "claims-east", handler: str = "h-001") -> DueCaseObservation:
    return DueCaseObservation(case, NOW - HOUR, team, handler)


def everything_known(**fields: object) -> Observations:
    values: dict[str, object] = {
        "follow_ups_overdue": [],
        "decisions_at_risk": [],
        "decisions_breached": [],
        "stages_over_target": [],
        "handler_loads": [],
        "consumer": ConsumerHeartbeat("complaintops-metrics", NOW, 0, NOW),
        "majors": [],
    }
    values.update(fields)
    return Observations(now=NOW, **values)  # type: ignore[arg-type]


def test_fingerprints_depend_on_rule_and_labels_only() -> None:
    one = Firing("follow_up_overdue", "warning", "C-1", "claims-east", "h-001", details={"due": 1})
    same = Firing(
        "follow_up_overdue", "critical", "C-1", "claims-east", "h-001", details={"due": 2}
    )
    other_case = Firing("follow_up_overdue", "warning", "C-2", "claims-east", "h-001")
    other_rule = Firing("decision_breached", "warning", "C-1", "claims-east", "h-001")
    assert one.fingerprint == same.fingerprint
    assert len({one.fingerprint, other_case.fingerprint, other_rule.fingerprint}) == 3
    assert fingerprint("r", {"case": "C", "team": None}) == fingerprint("r", {"case": "C"})


def test_each_listed_case_fires_once_with_its_labels() -> None:
    seen = everything_known(
        follow_ups_overdue=[due("C-2"), due("C-1", "claims-north", "h-007")],
        decisions_breached=[due("C-3")],
        decisions_at_risk=[due("C-4")],
    )
    result = evaluate(rules(), seen)
    assert [(f.rule, f.case_id, f.team_id, f.handler_id, f.severity) for f in result.firing] == [
        ("decision_at_risk", "C-4", "claims-east", "h-001", "warning"),
        ("decision_breached", "C-3", "claims-east", "h-001", "critical"),
        ("follow_up_overdue", "C-2", "claims-east", "h-001", "warning"),
        ("follow_up_overdue", "C-1", "claims-north", "h-007", "warning"),
    ]
    assert result.unknown == {}
    assert result.evaluated == {
        "follow_up_overdue",
        "decision_at_risk",
        "decision_breached",
        "stage_sla_breached",
        "handler_overloaded",
        "consumer_lag",
        "major_complaint_opened",
    }


def test_severity_comes_from_the_rule_file() -> None:
    seen = everything_known(follow_ups_overdue=[due("C-1")])
    result = evaluate(rules(follow_up_overdue={"severity": "critical"}), seen)
    assert result.firing[0].severity == "critical"


def test_a_disabled_rule_fires_nothing_so_its_old_alerts_resolve() -> None:
    seen = everything_known(follow_ups_overdue=[due("C-1")])
    result = evaluate(rules(follow_up_overdue={"enabled": False}), seen)
    assert result.firing == []
    assert "follow_up_overdue" in result.evaluated


def test_an_unreadable_source_leaves_its_rules_unknown() -> None:
    seen = everything_known(decisions_breached=None)
    seen.unknown["follow_up_overdue"] = "Redis unreadable: ConnectionError"
    seen.follow_ups_overdue = [due("C-1")]
    result = evaluate(rules(), seen)
    assert result.unknown == {
        "follow_up_overdue": "Redis unreadable: ConnectionError",
        "decision_breached": "source not read",
    }
    assert "follow_up_overdue" not in result.evaluated
    assert result.firing == []


def test_stage_targets_fire_only_past_the_target() -> None:
    over = StageObservation("C-1", "intake", NOW - 25 * HOUR, 24, "claims-east", "h-001")
    exactly = StageObservation("C-2", "intake", NOW - 24 * HOUR, 24, "claims-east", "h-001")
    result = evaluate(rules(), everything_known(stages_over_target=[over, exactly]))
    assert [(f.case_id, f.subject) for f in result.firing] == [("C-1", "intake")]
    assert result.firing[0].details["due"] == NOW - HOUR


@pytest.mark.parametrize(
    ("open_cases", "capacity", "ratio", "fires"),
    [
        (26, 25, 1.0, True),
        (25, 25, 1.0, False),
        (28, 25, 1.2, False),
        (31, 25, 1.2, True),
        (99, None, 1.0, False),
    ],
)
def test_handler_overloaded(
    open_cases: int, capacity: int | None, ratio: float, fires: bool
) -> None:
    load = HandlerLoadObservation("claims-east", "h-001", open_cases, capacity)
    result = evaluate(
        rules(handler_overloaded={"capacity_ratio": ratio}), everything_known(handler_loads=[load])
    )
    assert bool(result.firing) is fires
    if fires:
        assert (result.firing[0].team_id, result.firing[0].handler_id) == ("claims-east", "h-001")
        assert result.firing[0].case_id is None


@pytest.mark.parametrize(
    ("heartbeat", "reasons"),
    [
        (ConsumerHeartbeat("g", NOW - 5, 10, NOW - 5), None),
        (ConsumerHeartbeat("g", NOW - 5, 6000, NOW - 5), ["events"]),
        (ConsumerHeartbeat("g", NOW - 301, 0, NOW - 400), ["silent"]),
        (ConsumerHeartbeat("g", NOW - 1, 12, NOW - 600), ["stalled"]),
        (ConsumerHeartbeat("g", NOW - 1, 0, NOW - 600), None),  # idle, nothing waiting
        # retrying one failure for 5 minutes, its lag unknown (Redis lost the hash)
        (ConsumerHeartbeat("g", NOW - 1, 0, None, "not built", NOW - 300), ["failing"]),
        (ConsumerHeartbeat("g", NOW - 1, 0, NOW - 900, "not built", NOW - 299), None),
        (ConsumerHeartbeat("g", NOW - 1, 12, NOW - 600, "down", NOW - 600), ["stalled"]),
    ],
)
def test_consumer_lag(heartbeat: ConsumerHeartbeat, reasons: list[str] | None) -> None:
    result = evaluate(rules(), everything_known(consumer=heartbeat))
    if reasons is None:
        assert result.firing == []
    else:
        assert [f.details["reasons"] for f in result.firing] == [reasons]
        assert result.firing[0].subject == "g" and result.firing[0].team_id is None


def test_without_a_heartbeat_consumer_lag_is_unknown_not_firing() -> None:
    seen = everything_known(consumer=None)
    seen.consumer_group = "complaintops-metrics"
    result = evaluate(rules(), seen)
    assert result.firing == []
    assert result.unknown == {
        "consumer_lag": "no heartbeat of consumer group 'complaintops-metrics' in Redis"
    }


def test_major_complaints_by_priority_or_group_size() -> None:
    majors = [
        MajorCaseObservation("C-1", NOW, "claims-east", "h-001", "major", None),
        MajorCaseObservation("C-2", NOW, "claims-east", "h-001", "normal", 20),
        MajorCaseObservation("C-3", NOW, "claims-east", "h-001", "urgent", 19),
    ]
    result = evaluate(rules(), everything_known(majors=majors))
    assert [f.case_id for f in result.firing] == ["C-1", "C-2"]
    assert all(f.severity == "critical" for f in result.firing)
