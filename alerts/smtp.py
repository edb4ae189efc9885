"""Sending email with the standard library's smtplib: plain, STARTTLS or implicit TLS, and login.

Every failure is classified: ``retryable`` ones (server unreachable, 4xx
replies, TLS or login trouble that configuration can fix) keep the message in
the outbox; the others (a 5xx refusal of the recipients or of the message
itself) will not succeed by retrying.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from config.settings import Settings

DEFAULT_TIMEOUT_SECONDS: Final = 30.0

TlsMode = Literal["none", "starttls", "ssl"]


class DeliveryError(Exception):
    """A message was not delivered; ``retryable`` tells whether trying later can help.

    ``connection`` is true when the server itself could not be used (nothing
    else will get through in this round either).
    """

    def __init__(self, message: str, *, retryable: bool, connection: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.connection = connection


class MailSession(Protocol):
    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> dict[str, str]:
        """Send one message; return the refused recipients (address -> reason)."""
        ...


class MailTransport(Protocol):
    def session(self) -> AbstractContextManager[MailSession]:
        """An open connection for a round of sends; raises DeliveryError when none can be had."""
        ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    tls: TlsMode = "none"
    user: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpConfig | None:
        """The SMTP configuration, or None when COMPLAINTOPS_SMTP_HOST is unset."""
        if not settings.smtp_host:
            return None
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=password,
        )


def classify(error: BaseException) -> DeliveryError:
    """Turn an smtplib or socket error into a DeliveryError that says whether to retry."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        temporary = any(400 <= code < 500 for code in codes)
        detail = "; ".join(
            f"{address}: {code} {_text(reason)}"
            for address, (code, reason) in error.recipients.items()
        )
        return DeliveryError(f"recipients refused ({detail})", retryable=temporary)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return DeliveryError(
            f"SMTP login refused: {error.smtp_code} {_text(error.smtp_error)}",
            retryable=True,
            connection=True,
        )
    if isinstance(error, smtplib.SMTPSenderRefused):
        return DeliveryError(
            f"sender refused: {error.smtp_code} {_text(error.smtp_error)}",
            retryable=True,
            connection=True,
        )
    if isinstance(error, smtplib.SMTPDataError | smtplib.SMTPResponseException):
        code = error.smtp_code
        text = f"SMTP {code} {_text(error.smtp_error)}"
        return DeliveryError(text, retryable=not 500 <= code < 600, connection=code == 421)
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return DeliveryError(f"SMTP server unavailable: {error}", retryable=True, connection=True)
    if isinstance(error, ssl.SSLError):
        return DeliveryError(f"TLS failure: {error}", retryable=True, connection=True)
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            f"SMTP server lacks a feature: {error}", retryable=True, connection=True
        )
    if isinstance(error, OSError | socket.timeout):
        return DeliveryError(f"SMTP server unreachable: {error}", retryable=True, connection=True)
    if isinstance(error, smtplib.SMTPException):
        return DeliveryError(f"SMTP error: {error}", retryable=True, connection=True)
    return DeliveryError(f"{type(error).__name__}: {error}", retryable=True, connection=True)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class _SmtpSession:
    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> dict[str, str]:
        try:
            refused = self.client.sendmail(sender, list(recipients), message)
        except (smtplib.SMTPException, OSError) as error:
            raise classify(error) from error
        except UnicodeError as error:
            # smtplib writes commands in ASCII: an address outside it never goes out.
            self._reset()
            raise DeliveryError(
                f"cannot be sent without SMTPUTF8: {error}", retryable=False
            ) from error
        except Exception as error:
            self._reset()
            raise DeliveryError(f"{type(error).__name__}: {error}", retryable=True) from error
        return {address: f"{code} {_text(reason)}" for address, (code, reason) in refused.items()}

    def _reset(self) -> None:
        """End the transaction a failed send may have left open (its MAIL FROM was sent)."""
        try:
            self.client.rset()
        except (smtplib.SMTPException, OSError) as error:
            raise classify(error) from error


class SmtpTransport:
    """Opens SMTP sessions as configured; ``ssl_context`` replaces the default trust store."""

    def __init__(self, config: SmtpConfig, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = config
        self.ssl_context = ssl_context

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    @contextmanager
    def session(self) -> Iterator[MailSession]:
        config = self.config
        try:
            client: smtplib.SMTP
            if config.tls == "ssl":
                client = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=self._context()
                )
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        except (smtplib.SMTPException, OSError) as error:
            raise classify(error) from error
        try:
            try:
                client.ehlo()
                if config.tls == "starttls":
                    client.starttls(context=self._context())
                    client.ehlo()
                if config.user:
                    client.login(config.user, config.password or "")
            except (smtplib.SMTPException, OSError) as error:
                raise classify(error) from error
            yield _SmtpSession(client)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
