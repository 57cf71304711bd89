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

import random
import re
import smtplib
import ssl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.policy import Compat32
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
    """A message with its envelope: who it is from and to, as the SMTP server sees it.

    `data` is the message on the wire, written straight from its parts (`_Parts.wire`);
    `message` is the same message as the email package's object, built when asked for.
    """

    sender: str
    recipient: str
    data: bytes
    smtputf8: bool = False  # the recipient's local part is not ASCII
    _parts: _Parts | None = None

    @property
    def message(self) -> Message:
        assert self._parts is not None
        return self._parts.message()

    def as_bytes(self) -> bytes:
        """The message on the wire: CRLF line ends (smtplib leaves bytes as they are)."""
        return self.data


class _Wire(Compat32):
    """compat32 with CRLF line ends, writing a header that is printable ASCII and fits
    on one line as it is: what compat32's folding makes of it, without its cost (a
    Header object per header, thirteen headers a message)."""

    def fold_binary(self, name: str, value: str) -> bytes:
        if isinstance(value, str):
            line = f"{name}: {value}"
            if len(line) <= (self.max_line_length or 0) and line.isascii() and line.isprintable():
                return (line + self.linesep).encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _Wire(linesep="\r\n")
_DOTS = re.compile(rb"^\.", re.MULTILINE)  # a line starting with "." gets another
# Bodies as quoted-printable UTF-8: readable in the raw message, safe for any server.
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = QP
_UTF8.body_encoding = QP


def _one_line(text: str) -> str:
    return " ".join(text.split())  # no line breaks: nothing can be added to a header


def _text_part(payload: str, subtype: str) -> Message:
    """What MIMEText(body, subtype, _UTF8) makes, its headers set as they come out
    rather than through the package's parameter parsing (most of a message's cost)."""
    part = Message()
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["MIME-Version"] = "1.0"
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(payload)
    return part


def _payload(body: str) -> str:
    return _UTF8.body_encode(body.encode()) if body else body


# A text part's own headers as compat32 writes them (each fits on one line as it is).
_PART_HEAD = {
    subtype: (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\nMIME-Version: 1.0\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
    ).encode()
    for subtype in ("plain", "html")
}
_NL = re.compile(r"\r\n|\r|\n")  # the line ends the generator rewrites (its NLCRE)


@dataclass(frozen=True, slots=True)
class _Parts:
    """A message's headers and encoded bodies: enough to write it, or to build it."""

    headers: tuple[tuple[str, str], ...]  # From, To, Subject, Date, Message-ID
    text: str  # quoted-printable payloads
    html: str | None
    boundary: str

    def message(self) -> Message:
        text = _text_part(self.text, "plain")
        if self.html is not None:
            msg: Message = MIMEMultipart("alternative", boundary=self.boundary)
            msg.attach(text)
            msg.attach(_text_part(self.html, "html"))
        else:
            msg = text
        for name, value in self.headers:
            msg[name] = value
        return msg

    def wire(self) -> bytes:
        """What compat32's BytesGenerator writes for message() (a test holds them equal),
        at a fraction of its cost: a generator, a buffer and a policy look-up per part
        and header, and a Header object to fold the multipart Content-Type."""
        headers = b"".join(_WIRE.fold_binary(name, value) for name, value in self.headers)
        if self.html is None:
            return b"".join((_PART_HEAD["plain"], headers, b"\r\n", _lines(self.text)))
        b = self.boundary.encode("ascii")
        return b"".join(
            (
                # The one header that does not fit on a line: folded as compat32 folds it.
                b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n' % b,
                b"MIME-Version: 1.0\r\n",
                headers,
                b"\r\n--%s\r\n" % b,
                _PART_HEAD["plain"],
                b"\r\n",
                _lines(self.text),
                b"\r\n--%s\r\n" % b,
                _PART_HEAD["html"],
                b"\r\n",
                _lines(self.html),
                b"\r\n--%s--\r\n" % b,
            )
        )


def _lines(payload: str) -> bytes:
    """A payload as the generator writes it: every line end as CRLF."""
    return _NL.sub("\r\n", payload).encode("ascii", "surrogateescape")


def _boundary() -> str:
    """A boundary as the email package makes one. Chosen here, the package does not
    compile a pattern per message to look for it in the parts: it cannot be there, as
    the parts are quoted-printable, where "=" is always followed by hex digits or a
    line end, never by another "="."""
    return "=" * 15 + f"{random.randrange(sys.maxsize):019d}" + "=="


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
    parts = _Parts(
        headers=(
            ("From", formataddr((_one_line(from_name), from_address), _UTF8)),
            ("To", _address_header(to_name, recipient)),
            ("Subject", _header(_one_line(subject))),
            ("Date", format_datetime(date)),
            ("Message-ID", message_id),
        ),
        text=_payload(body_text),
        html=_payload(body_html) if body_html else None,
        boundary=_boundary(),
    )
    return Outgoing(from_address, recipient, parts.wire(), smtputf8=to.needs_smtputf8, _parts=parts)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip()


class SmtpTransport:
    """Sends messages over one reused SMTP connection, per the [smtp] settings."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._in_data = b""  # between start() and finish(): the content still to send

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
        self.start(email)
        self.finish()

    def start(self, email: Outgoing) -> None:
        """Offer a message: its envelope, up to the server's go-ahead for the content
        (DATA, 354). The server cannot accept it before finish() sends the content and
        the line that ends it; if the connection closes first, it drops it."""
        if self._smtp is None:
            self._smtp = self._open()
        smtp = self._smtp
        with self._failures():
            options = self._smtputf8_options(email) if email.smtputf8 else []
            data = _DOTS.sub(b"..", email.as_bytes())  # RFC 5321 4.5.2
            if not data.endswith(b"\r\n"):
                data += b"\r\n"
            smtp.ehlo_or_helo_if_needed()
            if smtp.does_esmtp and smtp.has_extn("size"):
                options = [f"SIZE={len(data)}", *options]
            if options:
                smtp.command_encoding = "utf-8" if email.smtputf8 else "ascii"
            # The addresses as parse_address() checked them (smtplib's mail() and rcpt()
            # would parse them again, for a good part of the time a message takes).
            with_options = "".join(f" {o}" for o in options)
            code, text = smtp.docmd("mail", f"FROM:<{email.sender}>{with_options}")
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, email.sender)
            code, text = smtp.docmd("rcpt", f"TO:<{email.recipient}>")
            if code not in (250, 251):
                raise smtplib.SMTPRecipientsRefused({email.recipient: (code, text)})
            code, text = smtp.docmd("data")
            if code != 354:
                raise smtplib.SMTPDataError(code, text)
            self._in_data = data

    def finish(self) -> None:
        """Send the content start() was given the go-ahead for, and the line that ends
        it; the server has accepted the message once this returns."""
        assert self._smtp is not None
        assert self._in_data, "start() a message first"
        smtp = self._smtp
        with self._failures():
            smtp.send(self._in_data + b".\r\n")
            self._in_data = b""
            code, text = smtp.getreply()
            if code != 250:
                raise smtplib.SMTPDataError(code, text)

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """SMTP errors as SendFailure; a refused message leaves the connection ready for
        the next one (RSET), a lost or closing one is closed."""
        try:
            yield
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            self._reset(code)
            raise SendFailure(
                f"recipient refused: {_reply(code, text)}", permanent=500 <= code < 600
            ) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, ...
            self._reset(exc.smtp_code)
            raise SendFailure(
                _reply(exc.smtp_code, exc.smtp_error),
                permanent=500 <= exc.smtp_code < 600,
                connection_lost=exc.smtp_code == 421,  # the server is closing the connection
            ) from exc
        except OSError as exc:  # disconnected, reset, timed out
            self.close()
            raise SendFailure(
                f"connection lost: {exc or type(exc).__name__}",
                permanent=False,
                connection_lost=True,
            ) from exc

    def _reset(self, code: int) -> None:
        if code == 421 or self._in_data:
            self.close()
        elif self._smtp is not None:
            try:
                self._smtp.rset()
            except smtplib.SMTPServerDisconnected:
                self.close()

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
        if not self._smtp.has_extn("smtputf8"):
            raise SendFailure(
                f"the mail server does not offer SMTPUTF8, which the address "
                f"{email.recipient} needs (its part before the @ is not ASCII)",
                permanent=True,
            )
        return ["SMTPUTF8", "BODY=8BITMIME"] if self._smtp.has_extn("8bitmime") else ["SMTPUTF8"]

    def close(self) -> None:
        """Say goodbye and close; in the middle of a message, just close: the server then
        drops the message, never accepting it (a QUIT there would be read as content)."""
        smtp, self._smtp = self._smtp, None
        in_data, self._in_data = self._in_data, b""
        if smtp is None:
            return
        if in_data:
            smtp.close()
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()
