"""Prometheus metrics: the consumer sensor, email counters, request timing, the endpoint."""

from __future__ import annotations

import itertools
import urllib.request

import pytest
from flask import Flask
from prometheus_client import CollectorRegistry

from complaintops.observability import (
    CALLBACK_LABEL_LIMIT,
    EmailMetrics,
    PrometheusSensor,
    callback_label,
    consumer_metrics,
    email_metrics,
    instrument_flask,
    outcome_counts,
    record_email_failed,
    record_email_sent,
    start_metrics_server,
)
from consumers.sensor import Sensors
from consumers.sink import BatchSummary
from events.batch import RawRecord

GROUP = "complaintops-metrics"


def invalid(offset: int) -> tuple[RawRecord, str]:
    return RawRecord("complaints.case-events", 0, offset, b"{}"), "missing field event_id"


def a_batch() -> BatchSummary:
    return BatchSummary(
        applied=7, duplicates=2, gaps=1, skipped=3, invalid=[invalid(10), invalid(11)]
    )


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


# -- the consumer sensor -------------------------------------------------------------


def test_outcome_counts_cover_every_record_of_a_batch() -> None:
    assert outcome_counts(a_batch()) == {
        "applied": 7,
        "duplicate": 2,
        "gap": 1,
        "invalid": 2,
        "skipped": 3,
    }


def test_a_batch_moves_the_event_counters_by_outcome(registry: CollectorRegistry) -> None:
    sensor = PrometheusSensor(registry, clock=lambda: 1_800_000_000.0)

    sensor.on_batch(GROUP, a_batch(), 0.042, {0: 5, 1: 0})
    sensor.on_batch(GROUP, BatchSummary(applied=3), 0.010, {0: 2, 1: 0})

    events = "complaintops_consumer_events_total"
    assert sample(registry, events, group=GROUP, outcome="applied") == 10
    assert sample(registry, events, group=GROUP, outcome="duplicate") == 2
    assert sample(registry, events, group=GROUP, outcome="gap") == 1
    assert sample(registry, events, group=GROUP, outcome="invalid") == 2
    assert sample(registry, events, group=GROUP, outcome="skipped") == 3
    assert sample(registry, "complaintops_consumer_batch_seconds_count", group=GROUP) == 2
    assert sample(
        registry, "complaintops_consumer_batch_seconds_sum", group=GROUP
    ) == pytest.approx(0.052)
    assert (
        sample(registry, "complaintops_consumer_batch_seconds_bucket", group=GROUP, le="0.01") == 1
    )
    assert (
        sample(registry, "complaintops_consumer_last_batch_timestamp_seconds", group=GROUP)
        == 1_800_000_000.0
    )


def test_lag_is_reported_per_partition_and_forgotten_when_unassigned(
    registry: CollectorRegistry,
) -> None:
    sensor = PrometheusSensor(registry)
    lag = "complaintops_consumer_lag"

    sensor.on_batch(GROUP, BatchSummary(applied=1), 0.01, {0: 120, 1: 4, 2: 0})
    assert sample(registry, lag, group=GROUP, partition="0") == 120
    assert sample(registry, lag, group=GROUP, partition="1") == 4

    # After a rebalance this consumer keeps only partition 1.
    sensor.on_idle(GROUP, {1: 0})
    assert sample(registry, lag, group=GROUP, partition="1") == 0
    assert sample(registry, lag, group=GROUP, partition="0") is None
    assert sample(registry, lag, group=GROUP, partition="2") is None


def test_dead_letters_errors_and_commits_are_counted(registry: CollectorRegistry) -> None:
    sensor = PrometheusSensor(registry)

    sensor.on_dead_letter(GROUP, "complaints.case-events", 0, 10, "bad")
    sensor.on_dead_letter(GROUP, "complaints.case-events", 0, 11, "bad")
    sensor.on_error(GROUP, ConnectionError("Redis down"), 0.5)
    sensor.on_commit(GROUP, {0: 12, 3: 40})

    assert sample(registry, "complaintops_consumer_dead_letters_total", group=GROUP) == 2
    assert sample(registry, "complaintops_consumer_errors_total", group=GROUP) == 1
    offset = "complaintops_consumer_committed_offset"
    assert sample(registry, offset, group=GROUP, partition="0") == 12
    assert sample(registry, offset, group=GROUP, partition="3") == 40


def test_groups_are_counted_apart(registry: CollectorRegistry) -> None:
    sensor = PrometheusSensor(registry)
    sensor.on_batch("complaintops-metrics", BatchSummary(applied=4), 0.01, {})
    sensor.on_batch("complaintops-store", BatchSummary(applied=9), 0.01, {})

    events = "complaintops_consumer_events_total"
    assert sample(registry, events, group="complaintops-metrics", outcome="applied") == 4
    assert sample(registry, events, group="complaintops-store", outcome="applied") == 9


def test_the_sensor_works_inside_the_loops_fan_out(registry: CollectorRegistry) -> None:
    sensors = Sensors(PrometheusSensor(registry))
    sensors.on_batch(GROUP, a_batch(), 0.02, {0: 1})
    assert (
        sample(registry, "complaintops_consumer_events_total", group=GROUP, outcome="applied") == 7
    )


def test_default_registry_families_are_created_once() -> None:
    first, second = PrometheusSensor(), PrometheusSensor()
    assert first.metrics is second.metrics is consumer_metrics()
    assert email_metrics() is email_metrics()


# -- alert emails --------------------------------------------------------------------


def test_email_counters(registry: CollectorRegistry) -> None:
    metrics = EmailMetrics.create(registry)

    record_email_sent(metrics=metrics)
    record_email_sent(3, metrics=metrics)
    record_email_failed(True, metrics=metrics)
    record_email_failed(False, metrics=metrics)
    record_email_failed(True, metrics=metrics)

    assert sample(registry, "complaintops_alert_emails_sent_total") == 4
    assert sample(registry, "complaintops_alert_emails_failed_total", retryable="true") == 2
    assert sample(registry, "complaintops_alert_emails_failed_total", retryable="false") == 1


# -- the dashboard's requests --------------------------------------------------------


def timed_app(registry: CollectorRegistry, step: float) -> Flask:
    ticks = itertools.count()
    app = Flask("timed")

    @app.get("/cases/<case_id>")
    def case(case_id: str) -> str:
        return case_id

    @app.post("/_dash-update-component")
    def callback() -> dict[str, str]:
        return {"ok": "yes"}

    instrument_flask(app, registry, clock=lambda: next(ticks) * step)
    return app


def test_requests_are_timed_by_route_method_and_status(registry: CollectorRegistry) -> None:
    client = timed_app(registry, step=0.25).test_client()

    assert client.get("/cases/C-1").status_code == 200
    assert client.get("/nowhere").status_code == 404

    seconds = "complaintops_http_request_seconds"
    labels = {"route": "/cases/<case_id>", "method": "GET", "status": "200"}
    assert sample(registry, f"{seconds}_count", **labels) == 1
    assert sample(registry, f"{seconds}_sum", **labels) == pytest.approx(0.25)
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert sample(registry, f"{seconds}_count", **unmatched) == 1


def test_dash_callbacks_are_timed_by_their_outputs(registry: CollectorRegistry) -> None:
    client = timed_app(registry, step=0.5).test_client()

    client.post("/_dash-update-component", json={"output": "wall-tiles.children"})
    client.post("/_dash-update-component", json={"output": "wall-tiles.children"})
    client.post("/_dash-update-component", data=b"not json")

    callbacks = "complaintops_dashboard_callback_seconds"
    labels = {"callback": "wall-tiles.children", "status": "200"}
    assert sample(registry, f"{callbacks}_count", **labels) == 2
    assert sample(registry, f"{callbacks}_sum", **labels) == pytest.approx(1.0)
    assert sample(registry, f"{callbacks}_count", callback="unknown", status="200") == 1


def test_callback_labels_are_bounded() -> None:
    assert callback_label({"output": "x" * 500}) == "x" * CALLBACK_LABEL_LIMIT
    assert callback_label({"output": ""}) == "unknown"
    assert callback_label(None) == "unknown"
    assert callback_label(["output"]) == "unknown"


# -- the endpoint --------------------------------------------------------------------


def test_metrics_server_serves_the_text_format(registry: CollectorRegistry) -> None:
    PrometheusSensor(registry).on_batch(GROUP, a_batch(), 0.02, {0: 3})
    server = start_metrics_server(0, addr="127.0.0.1", registry=registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as reply:
            content_type = reply.headers["Content-Type"]
            body = reply.read().decode()
    finally:
        server.stop()

    assert content_type.startswith("text/plain")
    assert "# TYPE complaintops_consumer_events_total counter" in body
    assert (
        'complaintops_consumer_events_total{group="complaintops-metrics",outcome="applied"} 7.0'
        in body
    )
    assert 'complaintops_consumer_lag{group="complaintops-metrics",partition="0"} 3.0' in body
