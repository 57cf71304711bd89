"""The message on the wire: written faster than the email package's own compat32
generator would, byte for byte what it writes."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.charset import QP, Charset
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.policy import compat32, default

import pytest

from bopo.smtp import build_message

_COMPAT32_CRLF = compat32.clone(linesep="\r\n")
_UTF8 = Charset("utf-8")
_UTF8.header_encoding = _UTF8.body_encoding = QP


def _as_the_package_makes_it(made: Message) -> bytes:
    """The same message built with the email package's own classes, written by its own
    generator: the bytes bopo's faster way must come to."""

    def text(part: Message) -> Message:
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        ref = MIMENonMultipart("text", part.get_content_subtype(), charset="utf-8")
        ref.set_payload(payload.decode(), _UTF8)
        return ref

    if made.is_multipart():
        ref: Message = MIMEMultipart("alternative", boundary=made.get_boundary())
        for part in made.get_payload():
            ref.attach(text(part))
    else:
        ref = text(made)
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        ref[name] = made[name]
    return ref.as_bytes(policy=_COMPAT32_CRLF)


CASES = [
    ("Ada", "ada@example.com", "Your order SO-1", "Text", "<p>HTML</p>"),
    (None, "bob@example.com", "Your order SO-2", "Text only", None),
    ("Zoë Ünal", "zoe@exämple.com", "Ihre Bestellung: Größe & Menge", "Grüße\n" * 40, "<b>ä</b>"),
    ("A" * 90, "long@example.com", "S" * 120, "a line\n" * 300, "<p>" + "x" * 2000 + "</p>"),
    ("Name, with comma", "c@example.com", "Subject  with  double  spaces ", "--==\n.\n", "=="),
    ('"Quoted" <name>', "q@example.com", "=?utf-8?q?looks_encoded?=", "", "<p></p>"),
]


@pytest.mark.parametrize(("to_name", "to", "subject", "text", "html"), CASES, ids=range(len(CASES)))
def test_the_wire_bytes_are_what_compat32_writes(
    to_name: str | None, to: str, subject: str, text: str, html: str | None
) -> None:
    outgoing = build_message(
        from_address="orders@example.com",
        from_name="Our shop",
        to_address=to,
        to_name=to_name,
        subject=subject,
        body_text=text,
        body_html=html,
        message_id="<m1@example.com>",
        date=datetime(2026, 12, 6, 9, 30, tzinfo=UTC),
    )

    wire = outgoing.as_bytes()

    assert wire == outgoing.message.as_bytes(policy=_COMPAT32_CRLF)
    assert wire == _as_the_package_makes_it(outgoing.message)
    parsed = message_from_bytes(wire, policy=default)
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == text  # type: ignore[attr-defined]
    if html is not None:
        assert parsed.get_content_type() == "multipart/alternative"
        assert len(parsed.get_payload()) == 2  # the boundary occurs nowhere in the parts
