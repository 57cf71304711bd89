"""Customer email addresses: checked once where they come in, read again where they go out.

email-validator does the reading (RFC 5321/5322 syntax, IDNA for an
internationalised domain, no DNS look-up). An address whose domain is not
ASCII is sent in its IDNA form (`anna@xn--exmple-cua.com`), which any mail
server takes. An address whose local part is not ASCII (`ännä@exämple.com`)
can only go to a server that offers SMTPUTF8.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 320


@dataclass(frozen=True, slots=True)
class Address:
    normalized: str  # as stored and shown: the domain lower-cased, Unicode in NFC
    ascii: str | None  # as sent without SMTPUTF8; None when the local part is not ASCII

    @property
    def needs_smtputf8(self) -> bool:
        return self.ascii is None


class BadAddress(ValueError):
    """Not an address mail can be sent to; the message says why."""


# Imports read the same customers again and again: checking one costs ~40 µs.
@lru_cache(maxsize=16_384)
def parse_address(value: str) -> Address:
    """The address, or BadAddress with the reason (for the field's error message)."""
    if len(value) > MAX_LENGTH:
        raise BadAddress(f"not a valid email address: longer than {MAX_LENGTH} characters")
    try:
        found = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise BadAddress(f"not a valid email address: {value!r}: {exc}") from None
    return Address(found.normalized, found.ascii_email)
