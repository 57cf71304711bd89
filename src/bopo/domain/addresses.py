"""Customer email addresses: checked once where they come in, read again where they go out.

email-validator does the reading (RFC 5321/5322 syntax, IDNA for an
internationalised domain, no DNS look-up). An address whose domain is not
ASCII is sent in its IDNA form (`anna@xn--exmple-cua.com`), which any mail
server takes. An address whose local part is not ASCII (`ännä@exämple.com`)
can only go to a server that offers SMTPUTF8.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

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


# The common address, quickly: a plain ASCII local part (RFC 5322's dot-atom, which
# email-validator takes as it is) and a domain of letters, digits, hyphens and dots.
_PLAIN = re.compile(
    r"([a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+(?:\.[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]+)*)"
    r"@([a-zA-Z0-9.-]+)",
    re.ASCII,
)
_LOCAL_MAX, _EMAIL_MAX = 64, 254  # RFC 5321's limits, as email-validator applies them
_CASE_INSENSITIVE = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


# Imports read the same customers again and again: checking one costs ~40 µs.
@lru_cache(maxsize=16_384)
def parse_address(value: str) -> Address:
    """The address, or BadAddress with the reason (for the field's error message)."""
    if len(value) > MAX_LENGTH:
        raise BadAddress(f"not a valid email address: longer than {MAX_LENGTH} characters")
    return _plain(value) or _validated(value)


def _validated(value: str) -> Address:
    try:
        found = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise BadAddress(f"not a valid email address: {value!r}: {exc}") from None
    return Address(found.normalized, found.ascii_email)


def _plain(value: str) -> Address | None:
    """A plain address as email-validator reads it, its domain checked once per domain
    (most of the work, and an import's customers share a few domains); None for any
    other address, or one it would refuse: that one is read whole, for its reason.

    email-validator takes a dot-atom local part as it is (lower-cased only when it is
    one of RFC 2142's mailbox names), checks the domain on its own and the lengths
    last; tests/unit/test_addresses.py holds this to its answer."""
    plain = _PLAIN.fullmatch(value)
    if plain is None or len(value) > _EMAIL_MAX:
        return None
    local, domain = plain.groups()
    if len(local) > _LOCAL_MAX:
        return None
    checked = _domain(domain)
    if checked is None:
        return None
    unicode_domain, ascii_domain = checked
    if local.lower() in _CASE_INSENSITIVE:
        local = local.lower()
    normalized, ascii = f"{local}@{unicode_domain}", f"{local}@{ascii_domain}"
    if max(len(normalized.encode()), len(ascii)) > _EMAIL_MAX:
        return None
    return Address(normalized, ascii)


@lru_cache(maxsize=1024)
def _domain(domain: str) -> tuple[str, str] | None:
    """A domain as email-validator normalises it (Unicode, IDNA ASCII); None if refused."""
    try:
        found = validate_email(f"a@{domain}", check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return None
    return found.domain, found.ascii_domain
