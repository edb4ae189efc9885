"""The durable outbox against a real SMTP server: nothing lost while it is down,
nothing sent twice when it returns or when two workers deliver at once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.email import MIME_POLICY
from alerts.models import FAILED, PENDING, SENT, Notification
from alerts.outbox import (
    Backoff,
    DeliveryReport,
    Outbox,
    enqueue,
    new_message_id,
    pending_count,
)
from alerts.service import AlertService
from alerts.smtp import MailSession, MailTransport, SmtpConfig, SmtpTransport
from store.db import make_engine
from tests.alerts.conftest import NOW, Catcher, FakeClock

SENDER = "alerts@example.com"


def queue(url: str, count: int, recipient: str = "oncall@example.com") -> list[str]:
    engine = make_engine(url)
    ids = []
    try:
        with Session(engine) as session, session.begin():
            for number in range(count):
                message = EmailMessage(policy=MIME_POLICY)
                message["Subject"] = f"告警 {number}"
                message["From"] = SENDER
                message["To"] = recipient
                message["Message-ID"] = new_message_id(SENDER)
                message.set_content(f"第 {number} 封 message {number}")
                enqueue(
                    session,
                    message=message,
                    recipients=[recipient],
                    kind="firing",
                    alert_ids=[number],
                    now=NOW,
                )
                ids.append(str(message["Message-ID"]))
    finally:
        engine.dispose()
    return ids


def transport(catcher: Catcher) -> SmtpTransport:
    return SmtpTransport(SmtpConfig("127.0.0.1", catcher.port, timeout=5))


def received_ids(catcher: Catcher) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for m in catcher.messages())


def states(url: str) -> list[tuple[str, int]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Notification.state, Notification.attempts).order_by(Notification.id)
            )
            return [(state, attempts) for state, attempts in rows]
    finally:
        engine.dispose()


def test_while_smtp_is_down_everything_waits_then_goes_out_once(
    migrated_url: str, catcher: Catcher
) -> None:
    ids = queue(migrated_url, 5)
    catcher.stop()
    engine = make_engine(migrated_url)
    outbox = Outbox(
        engine,
        "w1",
        backoff=Backoff(base_seconds=10, factor=2, max_seconds=60),
        clock=lambda: NOW,  # every round takes no time: the back-offs below are exact
    )
    try:
        first = outbox.deliver(transport(catcher), SENDER, NOW)
        assert first.sent == [] and len(first.retrying) == 5
        assert states(migrated_url) == [(PENDING, 1)] * 5
        assert outbox.deliver(transport(catcher), SENDER, NOW + 9).retrying == []  # backing off
        assert states(migrated_url) == [(PENDING, 1)] * 5
        outbox.deliver(transport(catcher), SENDER, NOW + 10)
        assert states(migrated_url) == [(PENDING, 2)] * 5  # next try after 20 s
        assert outbox.deliver(transport(catcher), SENDER, NOW + 29).retrying == []

        catcher.start()
        back = outbox.deliver(transport(catcher), SENDER, NOW + 30)
        assert len(back.sent) == 5
        assert outbox.deliver(transport(catcher), SENDER, NOW + 3600).sent == []
        with Session(engine) as session:
            assert pending_count(session) == 0
    finally:
        engine.dispose()
    assert received_ids(catcher) == Counter({message_id: 1 for message_id in ids})
    assert states(migrated_url) == [(SENT, 3)] * 5


def test_two_workers_delivering_at_once_send_each_message_once(
    migrated_url: str, catcher: Catcher
) -> None:
    ids = queue(migrated_url, 30)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        engine = make_engine(migrated_url)
        try:
            outbox = Outbox(engine, name)
            start.wait()
            for _ in range(3):
                outbox.deliver(transport(catcher), SENDER, NOW)
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            engine.dispose()

    workers = [threading.Thread(target=work, args=(f"w{i}",)) for i in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert errors == []
    assert received_ids(catcher) == Counter({message_id: 1 for message_id in ids})
    assert states(migrated_url) == [(SENT, 1)] * 30


def test_a_message_refused_for_good_fails_without_retries(
    migrated_url: str, catcher: Catcher
) -> None:
    from aiosmtpd.controller import Controller

    from tests.alerts.test_smtp import Picky  # a server refusing 'gone@' recipients

    queue(migrated_url, 1, recipient="gone@example.com")
    queue(migrated_url, 1, recipient="ok@example.com")
    catcher.stop()
    controller = Controller(Picky(catcher.folder), hostname="127.0.0.1", port=catcher.port)
    controller.start()
    engine = make_engine(migrated_url)
    try:
        report = Outbox(engine, "w1").deliver(transport(catcher), SENDER, NOW)
        assert (len(report.sent), len(report.failed)) == (1, 1)
        assert Outbox(engine, "w1").deliver(transport(catcher), SENDER, NOW + 86400).sent == []
        with Session(engine) as session:
            failed = session.scalars(select(Notification).where(Notification.state == FAILED)).one()
            assert json.loads(failed.recipients) == ["gone@example.com"]
            assert "550" in (failed.last_error or "")
    finally:
        controller.stop()
        engine.dispose()


def test_a_lapsed_claim_is_taken_over_and_resent_with_the_same_message_id(
    migrated_url: str, catcher: Catcher
) -> None:
    [message_id] = queue(migrated_url, 1)
    engine = make_engine(migrated_url)
    try:
        crashed = Outbox(engine, "crashed", lease_seconds=60)
        claimed = crashed.claim(1, NOW)
        assert claimed is not None
        survivor = Outbox(engine, "survivor")
        assert survivor.deliver(transport(catcher), SENDER, NOW + 59).sent == []  # still leased
        assert survivor.deliver(transport(catcher), SENDER, NOW + 61).sent == [1]
        crashed.mark_sent(1, NOW + 62, {})  # too late: the claim is gone, nothing changes
    finally:
        engine.dispose()
    assert received_ids(catcher) == Counter({message_id: 1})
    assert states(migrated_url) == [(SENT, 2)]


def test_back_off_grows_and_is_capped() -> None:
    backoff = Backoff(base_seconds=10, factor=2, max_seconds=60)
    assert [backoff.after(n) for n in range(1, 7)] == [10, 20, 40, 60, 60, 60]


def test_a_message_without_message_id_is_refused(migrated_url: str) -> None:
    engine = make_engine(migrated_url)
    try:
        with Session(engine) as session, pytest.raises(ValueError, match="Message-ID"):
            enqueue(
                session,
                message=EmailMessage(),
                recipients=["a@b.c"],
                kind="firing",
                alert_ids=[],
                now=NOW,
            )
    finally:
        engine.dispose()


class SlowRelay:
    """The real SMTP transport behind a relay that takes ``seconds`` of the injected clock
    per message; ``before_send(n)`` runs as the n-th message (from 1) goes out."""

    def __init__(
        self,
        inner: MailTransport,
        clock: FakeClock,
        seconds: float,
        before_send: Callable[[int], None] | None = None,
    ) -> None:
        self.inner, self.clock, self.seconds = inner, clock, seconds
        self.before_send = before_send
        self.count = 0
        self._smtp: MailSession | None = None

    @contextmanager
    def session(self) -> Iterator[SlowRelay]:
        with self.inner.session() as smtp:
            self._smtp = smtp
            yield self

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> dict[str, str]:
        assert self._smtp is not None
        self.count += 1
        self.clock.advance(self.seconds)
        if self.before_send is not None:
            self.before_send(self.count)
        return self._smtp.send(sender, recipients, message)


def test_a_message_claimed_late_in_a_long_round_is_leased_from_its_claim(
    make_service: Callable[..., AlertService],
    migrated_url: str,
    clock: FakeClock,
    catcher: Catcher,
) -> None:
    ids = queue(migrated_url, 3)
    first = make_service(worker_id="worker-a")
    second = make_service(worker_id="worker-b")
    during: list[DeliveryReport] = []

    def second_delivers(number: int) -> None:
        if number == 3:  # 600 s into the first worker's round, past a lease taken at its start
            during.append(second.outbox.deliver(transport(catcher), SENDER, clock.now))

    relay = SlowRelay(transport(catcher), clock, 200, second_delivers)
    report = first.outbox.deliver(relay, SENDER, clock.now)
    assert [r.sent for r in during] == [[]]
    assert report.sent == [1, 2, 3]
    assert received_ids(catcher) == Counter({message_id: 1 for message_id in ids})


def test_a_message_whose_claim_lapsed_before_the_mark_is_not_reported_sent(
    make_service: Callable[..., AlertService],
    migrated_url: str,
    clock: FakeClock,
    catcher: Catcher,
) -> None:
    queue(migrated_url, 1)
    first = make_service(worker_id="worker-a")
    second = make_service(worker_id="worker-b")
    taken_over: list[DeliveryReport] = []

    def second_takes_over(number: int) -> None:  # the send outlasts the 300 s lease
        taken_over.append(second.outbox.deliver(transport(catcher), SENDER, clock.now))

    report = first.outbox.deliver(
        SlowRelay(transport(catcher), clock, 400, second_takes_over), SENDER, clock.now
    )
    assert [r.sent for r in taken_over] == [[1]]
    assert (report.sent, report.lapsed) == ([], [1])
    assert states(migrated_url) == [(SENT, 2)]


def last_errors(url: str) -> list[tuple[str, str | None]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(Notification.state, Notification.last_error).order_by(Notification.id)
            )
            return [(state, error) for state, error in rows]
    finally:
        engine.dispose()


def test_a_non_ascii_address_fails_its_message_and_the_round_goes_on(
    migrated_url: str, catcher: Catcher
) -> None:
    # Queued before the configuration refused such addresses, or by another writer.
    queue(migrated_url, 1, recipient="张伟@example.com")
    [sent] = queue(migrated_url, 1, recipient="ok@example.com")
    engine = make_engine(migrated_url)
    try:
        report = Outbox(engine, "w1").deliver(transport(catcher), SENDER, NOW)
        assert (report.sent, report.failed, report.retrying) == ([2], [1], [])
        assert Outbox(engine, "w1").deliver(transport(catcher), SENDER, NOW + 86400).failed == []
    finally:
        engine.dispose()
    assert received_ids(catcher) == Counter({sent: 1})
    [(state, error), second] = last_errors(migrated_url)
    assert state == FAILED and error is not None and "SMTPUTF8" in error
    assert second == (SENT, None)


class Faulty:
    """The real SMTP transport, except that sending the ``bad``-th message raises ``error``."""

    def __init__(self, inner: MailTransport, bad: int, error: Exception) -> None:
        self.inner, self.bad, self.error, self.count = inner, bad, error, 0
        self._smtp: MailSession | None = None

    @contextmanager
    def session(self) -> Iterator[Faulty]:
        with self.inner.session() as smtp:
            self._smtp = smtp
            yield self

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> dict[str, str]:
        assert self._smtp is not None
        self.count += 1
        if self.count == self.bad:
            raise self.error
        return self._smtp.send(sender, recipients, message)


def test_an_unexpected_error_on_one_message_is_that_message_s_failed_attempt(
    migrated_url: str, catcher: Catcher
) -> None:
    ids = queue(migrated_url, 3)
    engine = make_engine(migrated_url)
    outbox = Outbox(engine, "w1", backoff=Backoff(base_seconds=10), clock=lambda: NOW)
    try:
        faulty = Faulty(transport(catcher), 2, ValueError("no such header"))
        report = outbox.deliver(faulty, SENDER, NOW)
        assert (report.sent, report.retrying, report.failed) == ([1, 3], [2], [])
        assert last_errors(migrated_url)[1] == (PENDING, "ValueError: no such header")
        assert outbox.deliver(transport(catcher), SENDER, NOW + 10).sent == [2]  # its back-off
    finally:
        engine.dispose()
    assert received_ids(catcher) == Counter({message_id: 1 for message_id in ids})
