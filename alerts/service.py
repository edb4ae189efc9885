"""The alerting jobs as plain methods: evaluate (read → alerts → emails queued) and deliver.

The scheduler calls them on a timer; tests call them with an injected 'now'.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.dispatch import DispatchConflict, Dispatcher, DispatchReport
from alerts.email import MailContext
from alerts.evaluate import Evaluation, evaluate
from alerts.lifecycle import ReconcileResult, reconcile
from alerts.outbox import DeliveryReport, Outbox
from alerts.routing import Directory
from alerts.rules import AlertingConfig, load_alerting, zone_of
from alerts.smtp import MailTransport, SmtpConfig, SmtpTransport
from alerts.sources import AlertSources
from complaintops.runtime import Runtime
from config.rules import Rules
from config.settings import Settings
from metrics.query import MetricsQuery
from store.db import WRITE_OPTIONS

log = logging.getLogger(__name__)


@dataclass(slots=True)
class EvaluationReport:
    evaluation: Evaluation
    reconciled: ReconcileResult = field(default_factory=ReconcileResult)
    dispatched: DispatchReport = field(default_factory=DispatchReport)
    conflict: str | None = None


def default_worker_id() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


class AlertService:
    """Evaluation, routing and delivery over one database and one Redis."""

    def __init__(
        self,
        *,
        settings: Settings,
        rules: Rules,
        alerting: AlertingConfig,
        query: MetricsQuery,
        engine: Engine,
        transport: MailTransport | None,
        clock: Callable[[], float] = time.time,
        worker_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.rules = rules
        self.alerting = alerting
        self.engine = engine
        self.transport = transport
        self.clock = clock
        config = alerting.alerts
        self.sources = AlertSources(
            query=query,
            engine=engine,
            rules=config.rules,
            stage_targets=rules.clocks.stage_targets_hours,
            consumer_group=settings.metrics_group,
            configured_handlers=lambda: {
                team.id: [(h.id, h.capacity) for h in team.handlers] for team in rules.teams.teams
            },
        )
        self.dispatcher = Dispatcher(
            config=config,
            directory=Directory(
                alerting.oncall,
                rules.teams,
                zone_of(alerting.oncall, settings.tz),
                tuple(config.routing.fallback_receivers),
            ),
            mail=MailContext(
                dashboard_url=settings.dashboard_url,
                sender=settings.alert_from,
                tz=settings.tz,
                teams=rules.teams,
                secret_key=settings.secret_key,
            ),
        )
        self.outbox = Outbox(engine, worker_id or default_worker_id(), clock=clock)
        self._last_unknown: dict[str, str] = {}

    @classmethod
    def from_runtime(
        cls,
        runtime: Runtime,
        *,
        transport: MailTransport | None = None,
        clock: Callable[[], float] = time.time,
        worker_id: str | None = None,
    ) -> AlertService:
        settings = runtime.settings
        alerting = load_alerting(settings, runtime.rules.teams)
        own_window = alerting.alerts.rules.decision_at_risk.warning_days
        warning_days = own_window or runtime.rules.clocks.decision.warning_days
        query = MetricsQuery(runtime.redis, runtime.tz, warning_days=warning_days, clock=clock)
        if transport is None:
            smtp = SmtpConfig.from_settings(settings)
            transport = SmtpTransport(smtp) if smtp else None
        return cls(
            settings=settings,
            rules=runtime.rules,
            alerting=alerting,
            query=query,
            engine=runtime.engine,
            transport=transport,
            clock=clock,
            worker_id=worker_id,
        )

    def _now(self, now: float | None) -> float:
        return self.clock() if now is None else now

    def evaluate(self, now: float | None = None) -> EvaluationReport:
        """Read the sources, store the alerts, and queue the emails due now, in one transaction."""
        moment = self._now(now)
        seen = self.sources.collect(moment)
        report = EvaluationReport(evaluate(self.alerting.alerts.rules, seen))
        unknown = dict(report.evaluation.unknown)
        if unknown != self._last_unknown:  # say it when it changes, not every 30 s
            for rule, reason in sorted(unknown.items()):
                log.info("rule %s not evaluated: %s", rule, reason)
            self._last_unknown = unknown
        writer = self.engine.execution_options(**WRITE_OPTIONS)
        try:
            with Session(writer) as session, session.begin():
                report.reconciled = reconcile(session, report.evaluation)
                report.dispatched = self.dispatcher.run(session, moment)
        except (DispatchConflict, IntegrityError) as error:
            # Another scheduler wrote first: its emails stand, ours are rolled back.
            log.warning("alert evaluation rolled back: %s", error)
            report.reconciled = ReconcileResult()
            report.dispatched = DispatchReport()
            report.conflict = str(error).splitlines()[0]
        return report

    def deliver(
        self, now: float | None = None, *, keep_going: Callable[[], bool] | None = None
    ) -> DeliveryReport:
        """Send the due messages of the outbox (nothing when no SMTP server is configured).

        ``keep_going`` is asked before each message after the first; False ends the round.
        """
        if self.transport is None:
            return DeliveryReport()
        return self.outbox.deliver(
            self.transport, self.settings.alert_from, self._now(now), keep_going=keep_going
        )
