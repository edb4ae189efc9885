"""The reduced fault suite (``python -m bench.faults --quick``, scenarios 1, 3 and 6)
as tests: each runs against its own embedded broker and Valkey and asserts
the scenario's pass condition — every check it made held."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.faults import broker_pause, consumer_kills, malformed_events
from bench.faults.stage import Findings, Stage, open_stage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MALFORMED_RECORDS = 1_000


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    with open_stage(quick=True, workdir=tmp_path_factory.mktemp("faults")) as opened:
        yield opened


def assert_passed(findings: Findings) -> None:
    assert findings.checks, "the scenario made no check"
    assert findings.passed, findings.summary()


def test_metrics_consumer_killed_five_times_loses_nothing(stage: Stage) -> None:
    """5 SIGKILLs during 20,000 records: oracle equality, no drift, commit never ahead."""
    findings = consumer_kills.run(stage)
    assert findings.figures["kills"] == 5
    assert findings.figures["records"] == 20_000
    assert_passed(findings)


def test_broker_paused_eight_seconds_loses_nothing(stage: Stage) -> None:
    """SIGSTOP of the broker for 8 s mid-stream: oracle equality in Redis and SQL."""
    findings = broker_pause.run(stage)
    assert findings.figures["paused"]["seconds"] == 8.0
    assert_passed(findings)


def test_malformed_records_are_dead_lettered_and_change_no_metric(stage: Stage) -> None:
    """1,000 malformed records: no crash, all dead-lettered with a reason, metrics unchanged."""
    findings = malformed_events.run(stage, malformed=MALFORMED_RECORDS)
    assert findings.figures["malformed_records"] == MALFORMED_RECORDS
    assert_passed(findings)
