"""A mail catcher for the demo and the tests: an SMTP server on loopback (aiosmtpd)
that writes every message it accepts to ``<dir>/<timestamp>-<id>.eml``.

Each file holds the message exactly as received, preceded by an
``X-Envelope-To`` header naming the SMTP recipients. Files are written under
a temporary name and renamed, so a reader never sees half a message.
"""

from __future__ import annotations

import email
import email.policy
import os
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Final

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

LOOPBACK: Final = "127.0.0.1"
DEFAULT_PORT: Final = 1025
SUFFIX: Final = ".eml"


class FileHandler:
    """aiosmtpd handler: one .eml file per accepted message."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self.clock = clock
        folder.mkdir(parents=True, exist_ok=True)

    def file_name(self) -> str:
        stamp = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        return f"{stamp}-{uuid.uuid4().hex[:12]}{SUFFIX}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        header = "X-Envelope-To: " + ", ".join(envelope.rcpt_tos) + "\r\n"
        target = self.folder / self.file_name()
        temporary = target.with_suffix(".part")
        temporary.write_bytes(header.encode() + content)
        os.replace(temporary, target)
        return "250 Message accepted for delivery"


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            ok = data.login.decode() == self.user and data.password.decode() == self.password
            if ok:
                return AuthResult(success=True, auth_data=data)
        # handled=False: the server answers "535 ... credentials invalid" itself.
        return AuthResult(success=False, handled=False)


class MailCatcher:
    """An SMTP server on ``host:port`` writing messages into ``folder``.

    ``starttls`` offers STARTTLS with that context; ``implicit_tls`` serves
    TLS from the first byte (SMTPS); ``credentials`` requires a login.
    """

    def __init__(
        self,
        folder: Path,
        *,
        host: str = LOOPBACK,
        port: int = DEFAULT_PORT,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.folder = folder
        self.host = host
        self.port = port
        options: dict[str, Any] = {"hostname": host}
        if starttls is not None:
            options["tls_context"] = starttls
        if credentials is not None:
            options["authenticator"] = credentials
            options["auth_required"] = True
            # With implicit TLS the whole connection is encrypted, but aiosmtpd only
            # knows about STARTTLS: require TLS for AUTH only when offering STARTTLS.
            options["auth_require_tls"] = starttls is not None
        self.controller = Controller(
            FileHandler(folder),
            hostname=host,
            port=port,
            ssl_context=implicit_tls,
            server_hostname=host,
            ready_timeout=10.0,
            **({k: v for k, v in options.items() if k != "hostname"}),
        )
        self._running = False

    def start(self) -> MailCatcher:
        self.controller.start()
        self._running = True
        return self

    def stop(self) -> None:
        if self._running:
            self.controller.stop()
            self._running = False

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def messages(self) -> list[EmailMessage]:
        return read_mail_dir(self.folder)


def read_message(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def mail_files(folder: Path) -> list[Path]:
    """The caught messages, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(folder.glob(f"*{SUFFIX}"))


def read_mail_dir(folder: Path) -> list[EmailMessage]:
    return [read_message(path) for path in mail_files(folder)]
