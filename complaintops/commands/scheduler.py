"""``complaintops scheduler``: evaluate the alert rules and deliver alert emails on timers."""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from types import FrameType
from typing import Any

from complaintops.observability import record_email_failed, record_email_sent, start_metrics_server
from complaintops.runtime import Runtime
from config import load_settings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scheduler",
        help="evaluate the alert rules and send alert emails (one leader among many processes)",
    )
    parser.add_argument(
        "--evaluate-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between evaluations (default: alerts.yaml evaluation.interval_seconds)",
    )
    parser.add_argument(
        "--deliver-every",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between outbox deliveries (default: evaluation.delivery_interval_seconds)",
    )
    parser.add_argument(
        "--once", action="store_true", help="evaluate and deliver once (if leading), then exit"
    )
    parser.set_defaults(func=run)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def run(args: argparse.Namespace) -> int:
    from alerts.scheduler import AlertJobs, LeaderLock, build_scheduler
    from alerts.service import AlertService

    settings = load_settings()
    runtime = Runtime.from_settings(settings)
    service = AlertService.from_runtime(runtime)
    if service.transport is None:
        log.warning(
            "COMPLAINTOPS_SMTP_HOST is not set: alert emails are queued in the outbox, not sent"
        )
    if settings.metrics_port is not None:
        start_metrics_server(settings.metrics_port)

    class MeteredJobs(AlertJobs):
        """The jobs, counting delivered and failed emails for Prometheus."""

        def deliver(self) -> Any:
            report = super().deliver()
            if report is not None:
                if report.sent:
                    record_email_sent(len(report.sent))
                for _ in report.retrying:
                    record_email_failed(retryable=True)
                for _ in report.failed:
                    record_email_failed(retryable=False)
            return report

    jobs = MeteredJobs(service, LeaderLock(runtime.redis))
    evaluation = service.alerting.alerts.evaluation
    try:
        if args.once:
            evaluated = jobs.evaluate()
            delivered = jobs.deliver()
            if evaluated is None:
                print("another scheduler leads; nothing done")
                return 0
            fired = len(evaluated.reconciled.fired)
            resolved = len(evaluated.reconciled.resolved)
            sent = len(delivered.sent) if delivered else 0
            print(f"{fired} fired, {resolved} resolved, {sent} email(s) sent")
            return 0
        scheduler = build_scheduler(
            jobs,
            evaluate_seconds=args.evaluate_every or evaluation.interval_seconds,
            deliver_seconds=args.deliver_every or evaluation.delivery_interval_seconds,
            blocking=True,
        )
        print(
            "alert scheduler: evaluating every "
            f"{args.evaluate_every or evaluation.interval_seconds} s, delivering every "
            f"{args.deliver_every or evaluation.delivery_interval_seconds} s"
        )
        signal.signal(signal.SIGTERM, _exit_on_signal)
        with contextlib.suppress(KeyboardInterrupt, SystemExit):
            scheduler.start()
        return 0
    finally:
        try:
            jobs.lock.release()
        except Exception as error:  # the lock expires by itself
            log.debug("leader lock not released: %s", error)
