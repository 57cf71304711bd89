"""A real SMTP server for the tests (aiosmtpd), that records what it accepts.

It can refuse chosen recipients (permanently or for now) and be started and
stopped on a fixed port, to play a mail server that goes down and comes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, message_from_string
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from bopo.config import SmtpSettings

_MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


# How long a mailer in a test waits on the SMTP server: long enough for a stalled machine
# (a timeout there retries a message the server may have taken). A port nobody listens
# on answers at once, so a long bound costs nothing.
TIMEOUT_S = 30


def smtp_to(port: int, **settings: Any) -> SmtpSettings:
    """[smtp] settings that mail to 127.0.0.1:port."""
    return SmtpSettings(host="127.0.0.1", port=port, timeout=TIMEOUT_S, **settings)


def free_port() -> int:
    """A port free now, for a server about to listen on it (it may be taken meanwhile)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hold(port: int = 0) -> socket.socket:
    """A socket bound to 127.0.0.1:port and not listening: connecting to it is refused, and
    no other process is handed the port while it is held. A port merely free is not
    "nobody listens": another test process may start its SMTP server there, and mail a
    test meant for nowhere would land in that test's sink."""
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past our own TIME_WAITs
    held.bind(("127.0.0.1", port))
    return held


_DEAD: socket.socket | None = None


def dead_port() -> int:
    """A port nobody listens on, held for the life of this test process."""
    global _DEAD
    if _DEAD is None:
        _DEAD = _hold()
    return int(_DEAD.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def part(self, subtype: str) -> str:
        body = self.message.get_body(preferencelist=(subtype,))
        assert body is not None, f"no text/{subtype} part"
        return str(body.get_content())  # type: ignore[attr-defined]


@dataclass
class Sink:
    """The handler: accepts everything except the refused recipients."""

    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    delay: float = 0.0  # seconds before accepting each message
    parse: bool = True  # False: keep only the Message-IDs (a sink for benchmarks)
    received: list[Received] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(  # aiosmtpd calls hooks by these names
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or envelope.content
        found = _MESSAGE_ID.search(data)
        with self.lock:
            self.message_ids.append(found.group(1).decode() if found else "")
            if self.parse:
                message = (  # an SMTPUTF8 message has UTF-8 in its headers (RFC 6532)
                    message_from_string(data.decode(), policy=default)
                    if envelope.smtp_utf8
                    else message_from_bytes(data, policy=default)
                )
                self.received.append(
                    Received(envelope.mail_from, list(envelope.rcpt_tos), message)  # type: ignore[arg-type]
                )
        return "250 Message accepted for delivery"

    def ids(self) -> list[str]:
        """The Message-ID of every message accepted, in order, repeats included."""
        with self.lock:
            return list(self.message_ids)


class SmtpServer:
    """A Sink served on 127.0.0.1:port; start() and stop() as often as wanted. While not
    started it holds its port (connections are refused, and no other test takes it)."""

    def __init__(
        self,
        sink: Sink | None = None,
        port: int | None = None,
        login: tuple[str, str] | None = None,  # (user, password) the server then requires
        smtputf8: bool = False,  # offer SMTPUTF8 (addresses that are not ASCII)
    ) -> None:
        self.sink = sink or Sink()
        self._held: socket.socket | None = _hold(port or 0)
        self.port = int(self._held.getsockname()[1])
        self.login = login
        self.smtputf8 = smtputf8
        self._controller: Controller | None = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
    ) -> AuthResult:
        ok = (auth.login.decode(), auth.password.decode()) == self.login
        return AuthResult(success=ok, handled=False)

    def start(self) -> SmtpServer:
        extra: dict[str, Any] = {"enable_SMTPUTF8": self.smtputf8}
        if self.login:
            extra |= {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,  # a test on loopback: no certificate to hand
            }
        self._controller = Controller(self.sink, hostname="127.0.0.1", port=self.port, **extra)
        if self._held is not None:
            self._held.close()
            self._held = None
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._held is None:
            # taken the moment it was let go: a start() again will say so
            with contextlib.suppress(OSError):
                self._held = _hold(self.port)

    def __del__(self) -> None:
        if getattr(self, "_held", None) is not None:
            self._held.close()  # type: ignore[union-attr]
