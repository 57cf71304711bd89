"""SMTP: building a queued email into a message, and sending it.

One connection is opened on the first send and reused until closed. Failures
are sorted for the mailer: a 5xx reply is permanent for that email; a 4xx
reply, a refused connection or a dropped one is transient. `connection_lost`
tells the mailer the connection is gone (the next send reconnects).
"""

from __future__ import annotations

import smtplib
import ssl
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from bopo.config import SmtpSettings


class SendFailure(Exception):
    def __init__(self, message: str, *, permanent: bool, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.connection_lost = connection_lost


def build_message(
    *,
    from_address: str,
    from_name: str,
    to_address: str,
    to_name: str | None,
    subject: str,
    body_text: str,
    body_html: str | None,
    message_id: str,
    date: datetime,
) -> EmailMessage:
    """The message as sent: the same bytes-to-be every time, so a resend is recognisable."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = Address(display_name=from_name, addr_spec=from_address)
    msg["To"] = Address(display_name=to_name or "", addr_spec=to_address)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg.set_content(body_text)
    if body_html:
        msg.add_alternative(body_html, subtype="html")
    return msg


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


class SmtpTransport:
    """Sends messages over one reused SMTP connection, per the [smtp] settings."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        s = self._settings
        try:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
            try:
                if s.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.username:
                    password = s.password.get_secret_value() if s.password else ""
                    smtp.login(s.username, password)
            except BaseException:
                smtp.close()
                raise
        except smtplib.SMTPResponseException as exc:
            raise SendFailure(
                f"SMTP {s.host}:{s.port}: {_reply(exc.smtp_code, exc.smtp_error)}",
                permanent=False,
                connection_lost=True,
            ) from exc
        except OSError as exc:  # refused, unreachable, timed out, TLS, disconnected
            raise SendFailure(
                f"SMTP {s.host}:{s.port}: {exc or type(exc).__name__}",
                permanent=False,
                connection_lost=True,
            ) from exc
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        try:
            self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise SendFailure(
                f"recipient refused: {_reply(code, text)}", permanent=500 <= code < 600
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
            lost = exc.smtp_code == 421  # the server is closing the connection
            if lost:
                self.close()
            raise SendFailure(
                _reply(exc.smtp_code, exc.smtp_error),
                permanent=500 <= exc.smtp_code < 600,
                connection_lost=lost,
            ) from exc
        except OSError as exc:  # disconnected, reset, timed out
            self.close()
            raise SendFailure(
                f"connection lost: {exc or type(exc).__name__}",
                permanent=False,
                connection_lost=True,
            ) from exc

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
