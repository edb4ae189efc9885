"""SMTP delivery against a real server on loopback: plain, STARTTLS, implicit TLS, login,
and which failures are worth retrying."""

from __future__ import annotations

import shutil
import smtplib
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from alerts.mailcatcher import Credentials, FileHandler, MailCatcher, read_mail_dir
from alerts.smtp import DeliveryError, SmtpConfig, SmtpTransport, classify
from complaintops.embedded import find_free_port
from config import load_settings

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH:UserWarning")


def message(to: str = "oncall@example.com", subject: str = "告警 alert") -> bytes:
    mail = EmailMessage()
    mail["From"] = "alerts@example.com"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = "<one@example.com>"
    mail.set_content("正文 body")
    return mail.as_bytes()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def send(transport: SmtpTransport, recipients: list[str] | None = None) -> dict[str, str]:
    with transport.session() as smtp:
        return smtp.send("alerts@example.com", recipients or ["oncall@example.com"], message())


def test_plain_smtp_delivers(tmp_path: Path) -> None:
    port = find_free_port()
    with MailCatcher(tmp_path, port=port):
        refused = send(SmtpTransport(SmtpConfig("127.0.0.1", port)))
    assert refused == {}
    [received] = read_mail_dir(tmp_path)
    assert received["Subject"] == "告警 alert"
    assert received["X-Envelope-To"] == "oncall@example.com"
    assert received.get_body(("plain",)).get_content().strip() == "正文 body"  # type: ignore[union-attr]


def test_starttls_with_login(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    port = find_free_port()
    catcher = MailCatcher(
        tmp_path,
        port=port,
        starttls=server_context(certificate),
        credentials=Credentials("robot", "pa55"),
    )
    config = SmtpConfig("127.0.0.1", port, tls="starttls", user="robot", password="pa55")
    with catcher:
        send(SmtpTransport(config, ssl_context=client_context(certificate)))
        wrong = SmtpConfig("127.0.0.1", port, tls="starttls", user="robot", password="nope")
        with pytest.raises(DeliveryError) as caught:
            send(SmtpTransport(wrong, ssl_context=client_context(certificate)))
    assert len(read_mail_dir(tmp_path)) == 1
    assert caught.value.retryable and caught.value.connection
    assert "SMTP login refused: 535" in str(caught.value)


def test_implicit_tls_with_login(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    port = find_free_port()
    catcher = MailCatcher(
        tmp_path,
        port=port,
        implicit_tls=server_context(certificate),
        credentials=Credentials("robot", "pa55"),
    )
    config = SmtpConfig("127.0.0.1", port, tls="ssl", user="robot", password="pa55")
    with catcher:
        send(SmtpTransport(config, ssl_context=client_context(certificate)))
        # A server certificate the client does not trust is a (retryable) TLS failure.
        with pytest.raises(DeliveryError) as caught:
            send(SmtpTransport(config, ssl_context=ssl.create_default_context()))
    assert len(read_mail_dir(tmp_path)) == 1
    assert caught.value.retryable and "TLS failure" in str(caught.value)


def test_an_unreachable_server_is_retryable() -> None:
    with pytest.raises(DeliveryError) as caught:
        send(SmtpTransport(SmtpConfig("127.0.0.1", find_free_port(), timeout=2)))
    assert caught.value.retryable and caught.value.connection


class Picky(FileHandler):
    """Refuses some recipients: 'gone@' for good (550), 'busy@' for now (451)."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def picky(tmp_path: Path) -> Iterator[int]:
    port = find_free_port()
    controller = Controller(Picky(tmp_path), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_a_recipient_refused_for_good_is_not_retried(picky: int) -> None:
    transport = SmtpTransport(SmtpConfig("127.0.0.1", picky))
    with pytest.raises(DeliveryError) as caught:
        send(transport, ["gone@example.com"])
    assert not caught.value.retryable and not caught.value.connection
    assert "gone@example.com: 550" in str(caught.value)


def test_a_recipient_refused_for_now_is_retried(picky: int) -> None:
    with pytest.raises(DeliveryError) as caught:
        send(SmtpTransport(SmtpConfig("127.0.0.1", picky)), ["busy@example.com"])
    assert caught.value.retryable


def test_partly_refused_recipients_are_reported_after_sending(picky: int) -> None:
    refused = send(
        SmtpTransport(SmtpConfig("127.0.0.1", picky)), ["ok@example.com", "gone@example.com"]
    )
    assert refused == {"gone@example.com": "550 5.1.1 no such mailbox"}


@pytest.mark.parametrize(
    ("error", "retryable", "connection"),
    [
        (smtplib.SMTPDataError(554, b"message rejected"), False, False),
        (smtplib.SMTPDataError(452, b"insufficient storage"), True, False),
        (smtplib.SMTPResponseException(421, b"closing"), True, True),
        (smtplib.SMTPServerDisconnected("gone"), True, True),
        (smtplib.SMTPSenderRefused(553, b"sender refused", "a@b"), True, True),
        (ConnectionRefusedError(111, "refused"), True, True),
        (TimeoutError("timed out"), True, True),
    ],
)
def test_classification(error: BaseException, retryable: bool, connection: bool) -> None:
    classified = classify(error)
    assert (classified.retryable, classified.connection) == (retryable, connection)


def test_config_from_settings() -> None:
    assert SmtpConfig.from_settings(load_settings()) is None
    settings = load_settings(
        smtp_host="mail.example.com",
        smtp_port=465,
        smtp_tls="ssl",
        smtp_user="u",
        smtp_password="p",
    )
    assert SmtpConfig.from_settings(settings) == SmtpConfig(
        "mail.example.com", 465, "ssl", "u", "p"
    )
