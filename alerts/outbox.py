"""The durable email outbox in SQL.

A message is queued in the same transaction as the decision to send it, so
no decision is lost and none is queued twice. Delivery is claim → send →
mark sent, in this one place:

- claim: a conditional UPDATE takes the message for ``lease_seconds`` from
  the moment of the claim (the clock is read again for every message, so a
  long round never leases from its stale start); a second worker (another
  scheduler) finds it taken and moves on;
- send: over one SMTP session per round; the message's bytes, and so its
  ``Message-ID``, are the same on every attempt, so a retried send (a crash
  between the server's OK and the mark) is recognisable as the same email;
- mark: sent, or back to pending with the next attempt after an exponential
  back-off (retryable failures), or failed (the server refused it for good).
  A message counts as sent only when its claim still held at the mark.

``keep_going``, asked before every claim after the first, ends a round early
(the scheduler's check that it still holds the leader lock); the messages not
yet claimed wait for the next round.

While the SMTP server is down every message waits; when it returns each is
sent once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Final

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from alerts.email import MIME_POLICY
from alerts.models import FAILED, PENDING, SENT, Notification
from alerts.smtp import DeliveryError, MailTransport
from store.db import WRITE_OPTIONS
from store.types import from_epoch

log = logging.getLogger(__name__)

DEFAULT_LEASE_SECONDS: Final = 300.0
DEFAULT_BATCH: Final = 100


@dataclass(frozen=True, slots=True)
class Backoff:
    """Seconds before attempt ``n + 1`` after ``n`` failed attempts: base × factor^(n-1), capped."""

    base_seconds: float = 10.0
    factor: float = 2.0
    max_seconds: float = 600.0

    def after(self, attempts: int) -> float:
        return min(self.max_seconds, self.base_seconds * self.factor ** max(0, attempts - 1))


@dataclass(slots=True)
class DeliveryReport:
    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    lapsed: list[int] = field(default_factory=list)
    """Sent, but the claim had lapsed by the mark: another worker may send it again."""
    stopped: bool = False
    """The round ended early (``keep_going`` said so)."""


def new_message_id(sender: str) -> str:
    domain = sender.rpartition("@")[2].strip("<> ") or "localhost"
    return f"<alert.{uuid.uuid4().hex}@{domain}>"


def enqueue(
    session: Session,
    *,
    message: EmailMessage,
    recipients: Sequence[str],
    kind: str,
    alert_ids: Sequence[int],
    now: float,
    group_key: str | None = None,
) -> Notification:
    """Queue ``message`` in the caller's transaction; it must carry its Message-ID."""
    message_id = message["Message-ID"]
    if not message_id:
        raise ValueError("a queued message needs a Message-ID")
    row = Notification(
        message_id=str(message_id),
        group_key=group_key,
        kind=kind,
        recipients=json.dumps(list(recipients)),
        subject=str(message["Subject"]),
        mime=message.as_string(policy=MIME_POLICY),
        alert_ids=json.dumps(list(alert_ids)),
        state=PENDING,
        attempts=0,
        created_at=from_epoch(now),
        next_attempt_at=from_epoch(now),
    )
    session.add(row)
    session.flush()
    return row


class Outbox:
    """Delivers due messages; ``worker_id`` names this process in claims.

    ``clock`` is read at every claim and mark: a round started at ``now``
    stands at ``now`` plus the time the clock has moved since.
    """

    def __init__(
        self,
        engine: Engine,
        worker_id: str,
        *,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        backoff: Backoff | None = None,
        batch: int = DEFAULT_BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self.backoff = backoff or Backoff()
        self.batch = batch
        self.clock = clock

    def _claimable(self, now: float) -> object:
        moment = from_epoch(now)
        return (
            (Notification.state == PENDING)
            & (Notification.next_attempt_at <= moment)
            & or_(Notification.claimed_until.is_(None), Notification.claimed_until < moment)
        )

    def due(self, now: float) -> list[int]:
        """Ids of messages that may be attempted at ``now``, oldest first."""
        with Session(self.engine) as session:
            statement = (
                select(Notification.id)
                .where(self._claimable(now))  # type: ignore[arg-type]
                .order_by(Notification.id)
                .limit(self.batch)
            )
            return list(session.scalars(statement))

    def claim(self, notification_id: int, now: float) -> Notification | None:
        """Take the message for this worker; None when another worker has it or it is done."""
        with self.engine.execution_options(**WRITE_OPTIONS).begin() as connection:
            moved = connection.execute(
                update(Notification)
                .where(Notification.id == notification_id, self._claimable(now))  # type: ignore[arg-type]
                .values(
                    claimed_by=self.worker_id,
                    claimed_until=from_epoch(now + self.lease_seconds),
                    attempts=Notification.attempts + 1,
                )
            )
            if moved.rowcount != 1:
                return None
        with Session(self.engine) as session:
            return session.get(Notification, notification_id)

    def _finish(self, notification_id: int, **values: object) -> bool:
        with self.engine.execution_options(**WRITE_OPTIONS).begin() as connection:
            moved = connection.execute(
                update(Notification)
                .where(
                    Notification.id == notification_id,
                    Notification.claimed_by == self.worker_id,
                    Notification.state == PENDING,
                )
                .values(claimed_by=None, claimed_until=None, **values)
            )
            return moved.rowcount == 1

    def mark_sent(self, notification_id: int, now: float, refused: dict[str, str]) -> bool:
        """Record the message as sent; False when this worker's claim had lapsed."""
        note = "; ".join(f"{a}: {r}" for a, r in refused.items()) or None
        if not self._finish(notification_id, state=SENT, sent_at=from_epoch(now), last_error=note):
            log.warning("notification %s was sent but its claim had lapsed", notification_id)
            return False
        return True

    def mark_failed_attempt(
        self, notification: Notification, error: DeliveryError, now: float
    ) -> bool:
        """Record a failed attempt; return True when the message will be retried."""
        if error.retryable:
            delay = self.backoff.after(notification.attempts)
            self._finish(
                notification.id,
                next_attempt_at=from_epoch(now + delay),
                last_error=str(error)[:2000],
            )
            return True
        self._finish(notification.id, state=FAILED, last_error=str(error)[:2000])
        return False

    def _back_off_unclaimed(
        self, ids: Sequence[int], error: DeliveryError, at: Callable[[], float]
    ) -> list[int]:
        """The server could not be reached: every due message waits its back-off."""
        waiting = []
        for notification_id in ids:
            claimed = self.claim(notification_id, at())
            if claimed is not None:
                self.mark_failed_attempt(claimed, error, at())
                waiting.append(notification_id)
        return waiting

    def deliver(
        self,
        transport: MailTransport,
        sender: str,
        now: float,
        *,
        keep_going: Callable[[], bool] | None = None,
    ) -> DeliveryReport:
        """Send every due message over one SMTP session, each claimed at the time of its claim."""
        report = DeliveryReport()
        ids = self.due(now)
        if not ids:
            return report
        started = self.clock()

        def at() -> float:
            return now + max(0.0, self.clock() - started)

        try:
            with transport.session() as smtp:
                for position, notification_id in enumerate(ids):
                    if position and keep_going is not None and not keep_going():
                        log.warning(
                            "outbox round stopped: %d message(s) wait for the next",
                            len(ids) - position,
                        )
                        report.stopped = True
                        break
                    notification = self.claim(notification_id, at())
                    if notification is None:
                        continue
                    try:
                        refused = smtp.send(
                            sender,
                            json.loads(notification.recipients),
                            notification.mime.encode("ascii", errors="surrogateescape"),
                        )
                    except Exception as unexpected:
                        error = as_delivery_error(unexpected)
                        log.warning("notification %s not sent: %s", notification_id, error)
                        if self.mark_failed_attempt(notification, error, at()):
                            report.retrying.append(notification_id)
                        else:
                            report.failed.append(notification_id)
                        if error.connection:
                            report.retrying += self._back_off_unclaimed(
                                ids[position + 1 :], error, at
                            )
                            break
                        continue
                    if self.mark_sent(notification_id, at(), refused):
                        report.sent.append(notification_id)
                    else:
                        report.lapsed.append(notification_id)
        except DeliveryError as error:
            log.warning("SMTP unavailable, %d message(s) wait: %s", len(ids), error)
            report.retrying += self._back_off_unclaimed(ids, error, at)
        return report


def as_delivery_error(error: Exception) -> DeliveryError:
    """Any failure of one message as a DeliveryError: a transport's own one as it is;
    anything unexpected fails only that message, retried after its back-off."""
    if isinstance(error, DeliveryError):
        return error
    log.error("unexpected failure sending a message", exc_info=error)
    return DeliveryError(f"{type(error).__name__}: {error}", retryable=True)


def pending_count(session: Session) -> int:
    statement = select(func.count()).select_from(Notification).where(Notification.state == PENDING)
    return int(session.scalar(statement) or 0)


def recent(session: Session, limit: int = 100) -> list[Notification]:
    """The newest messages of the outbox (sent, waiting or failed)."""
    statement = select(Notification).order_by(Notification.id.desc()).limit(limit)
    return list(session.scalars(statement))
