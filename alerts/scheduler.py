"""The alert jobs on APScheduler 3, behind a leader lock.

Two jobs run on timers: ``evaluate`` (every 30 s by default) and ``deliver``
(every few seconds). Only the process holding the leader lock runs them: a
Redis key set with ``SET NX PX`` to a random token, renewed by its holder on
every run and before every message of a delivery round (a round stops when
the lock was lost), released on shutdown; a crashed leader's lock expires
after ``ttl_seconds`` and another process takes over. The lock saves work; even if
two processes ran the jobs at once, the database's conditional writes
(``alerts.dispatch``, ``alerts.outbox``) would still send every email once.

So while Redis cannot be reached, every process runs both jobs without the
lock (said once per outage): queued email still goes out, and the rules that
read SQL are still evaluated (those reading Redis are not).
"""

from __future__ import annotations

import logging
import secrets
import threading
from datetime import UTC, datetime
from typing import Any, Final

import redis
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from alerts.outbox import DeliveryReport
from alerts.service import AlertService, EvaluationReport
from metrics import keys

log = logging.getLogger(__name__)

DEFAULT_LOCK_TTL_SECONDS: Final = 60.0

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock:
    """A Redis lease naming the one process allowed to run the alert jobs."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str = keys.ALERTS_LEADER,
        ttl_seconds: float = DEFAULT_LOCK_TTL_SECONDS,
        token: str | None = None,
    ) -> None:
        self.client = client
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.token = token or secrets.token_hex(16)

    def acquire(self) -> bool:
        """Take the lock, or renew it when this process holds it; False when another does."""
        if self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            return True
        return bool(self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms))

    def release(self) -> bool:
        return bool(self.client.eval(_RELEASE, 1, self.key, self.token))

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)


LEADING: Final = "leading"
FOLLOWING: Final = "following"
NO_LOCK: Final = "no-lock"
"""Redis is unreachable: nobody can lead, so every process runs the jobs."""


class AlertJobs:
    """The two jobs, each run while this process leads or while no process can."""

    def __init__(self, service: AlertService, lock: LeaderLock) -> None:
        self.service = service
        self.lock = lock
        self._guard = threading.Lock()
        self._outage_guard = threading.Lock()
        self._in_outage = False

    def _role(self) -> str:
        try:
            leading = self.lock.acquire()
        except redis.RedisError as error:
            self._outage(error)
            return NO_LOCK
        self._outage(None)
        return LEADING if leading else FOLLOWING

    def _outage(self, error: redis.RedisError | None) -> None:
        """Say when an outage of the lock begins and ends, not at every run."""
        with self._outage_guard:
            if (error is not None) == self._in_outage:
                return
            self._in_outage = error is not None
        if error is not None:
            log.warning(
                "leader lock unavailable (%s); running the alert jobs without it "
                "until Redis answers again",
                error,
            )
        else:
            log.warning("leader lock available again; alert jobs follow it")

    def evaluate(self) -> EvaluationReport | None:
        if self._role() == FOLLOWING:
            return None
        with self._guard:
            report = self.service.evaluate()
        dispatched = report.dispatched
        reconciled = report.reconciled
        if reconciled.fired or reconciled.resolved or reconciled.superseded or dispatched.queued:
            log.info(
                "alerts: %d fired, %d resolved, %d superseded, %d email(s) queued",
                len(reconciled.fired),
                len(reconciled.resolved),
                len(reconciled.superseded),
                len(dispatched.queued),
            )
        return report

    def _still_leading(self) -> bool:
        """Renew the lock during a delivery round; False when another process took it."""
        try:
            if self.lock.acquire():
                return True
        except redis.RedisError as error:
            # The claims in SQL keep two deliverers from sending one message twice.
            log.warning("leader lock not renewed (%s); delivering on", error)
            return True
        log.warning("leader lock lost during a delivery round; stopping it")
        return False

    def deliver(self) -> DeliveryReport | None:
        role = self._role()
        if role == FOLLOWING:
            return None
        with self._guard:
            if role == LEADING:
                report = self.service.deliver(keep_going=self._still_leading)
            else:
                report = self.service.deliver()
        if report.sent or report.failed or report.lapsed:
            log.info(
                "outbox: %d sent, %d waiting, %d failed, %d sent after their claim lapsed",
                len(report.sent),
                len(report.retrying),
                len(report.failed),
                len(report.lapsed),
            )
        return report


def build_scheduler(
    jobs: AlertJobs,
    *,
    evaluate_seconds: float,
    deliver_seconds: float,
    blocking: bool = False,
) -> BaseScheduler:
    """An APScheduler scheduler with both jobs, first run at once; no job overlaps itself."""
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone=UTC) if blocking else BackgroundScheduler(timezone=UTC)
    )
    defaults: dict[str, Any] = {
        "max_instances": 1,
        "coalesce": True,
        "misfire_grace_time": None,
        "next_run_time": datetime.now(UTC),
    }
    scheduler.add_job(
        jobs.evaluate, "interval", seconds=evaluate_seconds, id="alerts.evaluate", **defaults
    )
    scheduler.add_job(
        jobs.deliver, "interval", seconds=deliver_seconds, id="alerts.deliver", **defaults
    )
    return scheduler
