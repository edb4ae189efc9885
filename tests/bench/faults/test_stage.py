"""Findings: a scenario passes only when it made checks and every one held."""

from __future__ import annotations

from bench.faults.stage import Findings
from tests.pipeline.helpers import Comparison


def test_no_check_is_not_a_pass() -> None:
    assert Findings().passed is False


def test_one_failed_check_fails_the_scenario() -> None:
    findings = Findings()
    findings.check("first", True)
    findings.check("second", False, found=1, expected=2)
    assert findings.passed is False
    assert findings.failed_checks() == [{"check": "second", "ok": False, "found": 1, "expected": 2}]
    assert "second" in findings.summary()


def test_every_check_held_passes() -> None:
    findings = Findings()
    findings.check("first", True)
    findings.figure("records", 10)
    assert findings.passed is True
    assert findings.details()["records"] == 10


def test_a_skipped_scenario_neither_passes_nor_fails() -> None:
    findings = Findings()
    findings.skipped = "no PostgreSQL"
    assert findings.passed is None
    assert findings.details()["skipped"] == "no PostgreSQL"


def test_a_comparison_shows_both_sides_only_when_they_differ() -> None:
    findings = Findings()
    assert findings.compare(Comparison("overview", {"a": 1}, {"a": 1}))
    assert not findings.compare(Comparison("wip", {"a": 1}, {"a": 2}))
    same, different = findings.checks
    assert set(same) == {"check", "ok"}
    assert different["found"] == "{'a': 1}" and different["expected"] == "{'a': 2}"
