"""SMTP: building a queued email into a message, and sending it.

One connection is opened on the first send and reused until closed. Failures
are sorted for the mailer: a 5xx reply is permanent for that email; a 4xx
reply, a refused connection or a dropped one is transient. `connection_lost`
tells the mailer the connection is gone (the next send reconnects).

A recipient whose domain is not ASCII gets the IDNA form of the address. One
whose local part is not ASCII needs a server that offers SMTPUTF8: the message
then goes with SMTPUTF8 (the address as UTF-8 in the envelope and the To
header, RFC 6531/6532); a server without it fails that email alone.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32
from email.utils import format_datetime, formataddr

from bopo.config import SmtpSettings
from bopo.domain.addresses import parse_address


class SendFailure(Exception):
    def __init__(self, message: str, *, permanent: bool, connection_lost: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.connection_lost = connection_lost


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message with its envelope: who it is from and to, as the SMTP server sees it."""

    sender: str
    recipient: str
    message: Message
    smtputf8: bool = False  # the recipient's local part is not ASCII

    def as_bytes(self) -> bytes:
        """The message on the wire: CRLF line ends (smtplib leaves bytes as they are)."""
        return self.message.as_bytes(policy=_WIRE)


_WIRE = compat32.clone(linesep="\r\n")
# Bodies as quoted-printable UTF-8: readable in the raw message, safe for any server.
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
_UTF8.body_encoding = QP


def _one_line(text: str) -> str:
    return " ".join(text.split())  # no line breaks: nothing can be added to a header


def _text_part(body: str, subtype: str) -> Message:
    part = MIMENonMultipart("text", subtype, charset="utf-8")
    part.set_payload(body, _UTF8)
    return part


def _header(text: str) -> str:
    return text if text.isascii() else Header(text, _UTF8).encode()


def _address_header(name: str | None, address: str) -> str:
    """`Name <address>`, the name encoded if need be (formataddr takes ASCII addresses only)."""
    if not address.isascii():
        # RFC 6532: the address as UTF-8 in the header. compat32 writes a header holding
        # surrogate-escaped bytes as those bytes; such a message goes only with SMTPUTF8.
        address = address.encode().decode("ascii", "surrogateescape")
    shown = formataddr((_one_line(name or ""), "@"), _UTF8)
    return shown.removesuffix("<@>") + f"<{address}>" if shown.endswith("<@>") else address


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
) -> Outgoing:
    """The message as sent: the same headers every time, so a resend is recognisable.

    Built with the email package's compat32 classes: several times faster than
    EmailMessage, which matters at hundreds of emails a second. A recipient that is
    not a valid address raises BadAddress (a ValueError) with the reason.
    """
    to = parse_address(to_address)
    recipient = to.ascii or to.normalized
    text = _text_part(body_text, "plain")
    if body_html:
        msg: Message = MIMEMultipart("alternative")
        msg.attach(text)
        msg.attach(_text_part(body_html, "html"))
    else:
        msg = text
    msg["From"] = formataddr((_one_line(from_name), from_address), _UTF8)
    msg["To"] = _address_header(to_name, recipient)
    msg["Subject"] = _header(_one_line(subject))
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    return Outgoing(from_address, recipient, msg, smtputf8=to.needs_smtputf8)


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

    def send(self, email: Outgoing) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        options: list[str] = []
        if email.smtputf8:
            options = self._smtputf8_options(email)
        try:
            self._smtp.sendmail(email.sender, [email.recipient], email.as_bytes(), options)
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

    def _smtputf8_options(self, email: Outgoing) -> list[str]:
        """SMTPUTF8 (and 8BITMIME, when offered) for an address that is not ASCII."""
        assert self._smtp is not None
        try:
            self._smtp.ehlo_or_helo_if_needed()
        except smtplib.SMTPHeloError as exc:
            self.close()
            raise SendFailure(
                f"greeting refused: {_reply(exc.smtp_code, exc.smtp_error)}",
                permanent=False,
                connection_lost=True,
            ) from exc
        except OSError as exc:
            self.close()
            raise SendFailure(
                f"connection lost: {exc or type(exc).__name__}",
                permanent=False,
                connection_lost=True,
            ) from exc
        if not self._smtp.has_extn("smtputf8"):
            raise SendFailure(
                f"the mail server does not offer SMTPUTF8, which the address "
                f"{email.recipient} needs (its part before the @ is not ASCII)",
                permanent=True,
            )
        return ["SMTPUTF8", "BODY=8BITMIME"] if self._smtp.has_extn("8bitmime") else ["SMTPUTF8"]

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
