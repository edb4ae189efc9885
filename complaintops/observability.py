"""Prometheus metrics of the ComplaintOps processes.

* ``PrometheusSensor``: a consumer-loop sensor (``consumers.sensor.Sensor``)
  counting events by outcome, dead letters and errors, timing batches and
  reporting the lag of every partition.
* ``record_email_sent`` / ``record_email_failed``: counters for the alert
  notifier.
* ``instrument_flask(server)``: request and Dash callback latency of the
  dashboard, through Flask before/after request hooks.
* ``start_metrics_server(port)``: serves the text exposition format on
  ``http://<addr>:<port>/metrics`` from a background thread.

Every family lives on a ``CollectorRegistry`` (the process-wide default
unless another is given), so tests use their own registry.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from wsgiref.simple_server import WSGIServer

from flask import Flask, Response, g, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import start_http_server as _start_http_server

from consumers.sink import BatchSummary

NAMESPACE: Final = "complaintops"

BATCH_SECONDS_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Batch latency buckets: a healthy batch of a few hundred events takes tens of ms."""

REQUEST_SECONDS_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

CALLBACK_LABEL_LIMIT: Final = 120
"""Longest callback label kept (a Dash callback is named by its outputs)."""

OUTCOMES: Final = ("applied", "duplicate", "gap", "invalid", "skipped")
"""Outcomes of a consumed record, as counted by ``complaintops_consumer_events_total``."""

DASH_CALLBACK_PATH: Final = "/_dash-update-component"
_STARTED_AT: Final = "complaintops_request_started"


# -- consumers ---------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerMetrics:
    """The consumer loop's metric families."""

    events: Counter
    batch_seconds: Histogram
    lag: Gauge
    dead_letters: Counter
    errors: Counter
    committed_offset: Gauge
    last_batch: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ConsumerMetrics:
        return cls(
            events=Counter(
                "consumer_events",
                "Case events consumed, by consumer group and outcome "
                "(applied, duplicate, gap, invalid, skipped).",
                ["group", "outcome"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            batch_seconds=Histogram(
                "consumer_batch_seconds",
                "Time to store one batch's effects, dead letters and commit.",
                ["group"],
                namespace=NAMESPACE,
                buckets=BATCH_SECONDS_BUCKETS,
                registry=registry,
            ),
            lag=Gauge(
                "consumer_lag",
                "Records behind the partition's high watermark, per assigned partition.",
                ["group", "partition"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            dead_letters=Counter(
                "consumer_dead_letters",
                "Invalid records sent to the dead-letter path, by consumer group.",
                ["group"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            errors=Counter(
                "consumer_errors",
                "Failures of the sink or broker that made the loop wait and retry.",
                ["group"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            committed_offset=Gauge(
                "consumer_committed_offset",
                "Next offset committed to Kafka, per partition.",
                ["group", "partition"],
                namespace=NAMESPACE,
                registry=registry,
            ),
            last_batch=Gauge(
                "consumer_last_batch_timestamp_seconds",
                "Unix time of the last stored batch.",
                ["group"],
                namespace=NAMESPACE,
                registry=registry,
            ),
        )


def outcome_counts(summary: BatchSummary) -> dict[str, int]:
    """How many records of a batch ended in each outcome."""
    return {
        "applied": summary.applied,
        "duplicate": summary.duplicates,
        "gap": summary.gaps,
        "invalid": len(summary.invalid),
        "skipped": summary.skipped,
    }


class PrometheusSensor:
    """A consumer-loop sensor feeding Prometheus metric families.

    Events per second by outcome are ``rate(complaintops_consumer_events_total[1m])``;
    the dead-letter rate is ``rate(complaintops_consumer_dead_letters_total[5m])``.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.metrics = consumer_metrics() if registry is None else ConsumerMetrics.create(registry)
        self.clock = clock or time.time
        self._lag_partitions: dict[str, set[int]] = {}

    def on_batch(
        self, group: str, summary: BatchSummary, seconds: float, lag: dict[int, int]
    ) -> None:
        for outcome, count in outcome_counts(summary).items():
            if count:
                self.metrics.events.labels(group, outcome).inc(count)
        self.metrics.batch_seconds.labels(group).observe(seconds)
        self.metrics.last_batch.labels(group).set(self.clock())
        self._set_lag(group, lag)

    def on_idle(self, group: str, lag: dict[int, int]) -> None:
        self._set_lag(group, lag)

    def on_error(self, group: str, error: BaseException, retry_in: float) -> None:
        self.metrics.errors.labels(group).inc()

    def on_dead_letter(
        self, group: str, topic: str, partition: int, offset: int, reason: str
    ) -> None:
        self.metrics.dead_letters.labels(group).inc()

    def on_commit(self, group: str, offsets: dict[int, int]) -> None:
        for partition, offset in offsets.items():
            self.metrics.committed_offset.labels(group, str(partition)).set(offset)

    def _set_lag(self, group: str, lag: dict[int, int]) -> None:
        """Report the assigned partitions' lag; drop partitions no longer assigned."""
        previous = self._lag_partitions.get(group, set())
        for partition in previous - set(lag):
            with contextlib.suppress(KeyError):
                self.metrics.lag.remove(group, str(partition))
        for partition, behind in lag.items():
            self.metrics.lag.labels(group, str(partition)).set(behind)
        self._lag_partitions[group] = set(lag)


# -- alert emails ------------------------------------------------------------------


@dataclass(frozen=True)
class EmailMetrics:
    """Counters of the alert notifier."""

    sent: Counter
    failed: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry) -> EmailMetrics:
        return cls(
            sent=Counter(
                "alert_emails_sent",
                "Alert emails accepted by the SMTP server.",
                namespace=NAMESPACE,
                registry=registry,
            ),
            failed=Counter(
                "alert_emails_failed",
                "Alert email delivery attempts that failed, by whether a retry can help.",
                ["retryable"],
                namespace=NAMESPACE,
                registry=registry,
            ),
        )


def record_email_sent(count: int = 1, metrics: EmailMetrics | None = None) -> None:
    """Count ``count`` alert emails accepted by the SMTP server."""
    (metrics or email_metrics()).sent.inc(count)


def record_email_failed(retryable: bool, metrics: EmailMetrics | None = None) -> None:
    """Count one failed delivery attempt (``retryable``: it stays in the outbox)."""
    (metrics or email_metrics()).failed.labels("true" if retryable else "false").inc()


# -- the dashboard -----------------------------------------------------------------


@dataclass(frozen=True)
class HttpMetrics:
    """Latency of the dashboard's requests and Dash callbacks."""

    requests: Histogram
    callbacks: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            requests=Histogram(
                "http_request_seconds",
                "Dashboard and API request latency, by route, method and status.",
                ["route", "method", "status"],
                namespace=NAMESPACE,
                buckets=REQUEST_SECONDS_BUCKETS,
                registry=registry,
            ),
            callbacks=Histogram(
                "dashboard_callback_seconds",
                "Dash callback latency, by the callback's outputs and status.",
                ["callback", "status"],
                namespace=NAMESPACE,
                buckets=REQUEST_SECONDS_BUCKETS,
                registry=registry,
            ),
        )


def callback_label(body: object) -> str:
    """A Dash callback's name from its request body: its output(s), shortened."""
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, str) or not output:
        return "unknown"
    return output[:CALLBACK_LABEL_LIMIT]


def instrument_flask(
    server: Flask,
    registry: CollectorRegistry | None = None,
    clock: Callable[[], float] | None = None,
) -> HttpMetrics:
    """Time every request of ``server``; Dash callbacks are also timed per callback."""
    metrics = http_metrics() if registry is None else HttpMetrics.create(registry)
    now = clock or time.perf_counter

    @server.before_request
    def _start_timer() -> None:
        setattr(g, _STARTED_AT, now())

    @server.after_request
    def _observe(response: Response) -> Response:
        started = getattr(g, _STARTED_AT, None)
        if started is None:
            return response
        seconds = max(0.0, now() - started)
        status = str(response.status_code)
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.requests.labels(route, request.method, status).observe(seconds)
        if request.path.endswith(DASH_CALLBACK_PATH) and request.method == "POST":
            label = callback_label(request.get_json(silent=True))
            metrics.callbacks.labels(label, status).observe(seconds)
        return response

    return metrics


# -- the exposition endpoint -------------------------------------------------------


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint; ``stop()`` closes it."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(
    port: int,
    addr: str = "0.0.0.0",  # nosec B104 # Prometheus scrapes from other containers
    registry: CollectorRegistry | None = None,
) -> MetricsServer:
    """Serve the registry in the Prometheus text format on ``addr:port`` (0: any free port)."""
    server, thread = _start_http_server(port, addr=addr, registry=registry or REGISTRY)
    return MetricsServer(server, thread)


# -- the process-wide families -----------------------------------------------------

_default_lock = threading.Lock()
_defaults: dict[str, object] = {}


def consumer_metrics() -> ConsumerMetrics:
    """The consumer families on the default registry (created once per process)."""
    with _default_lock:
        metrics = _defaults.get("consumer")
        if not isinstance(metrics, ConsumerMetrics):
            metrics = _defaults["consumer"] = ConsumerMetrics.create(REGISTRY)
        return metrics


def email_metrics() -> EmailMetrics:
    """The email counters on the default registry (created once per process)."""
    with _default_lock:
        metrics = _defaults.get("email")
        if not isinstance(metrics, EmailMetrics):
            metrics = _defaults["email"] = EmailMetrics.create(REGISTRY)
        return metrics


def http_metrics() -> HttpMetrics:
    """The dashboard's latency families on the default registry (created once per process)."""
    with _default_lock:
        metrics = _defaults.get("http")
        if not isinstance(metrics, HttpMetrics):
            metrics = _defaults["http"] = HttpMetrics.create(REGISTRY)
        return metrics
