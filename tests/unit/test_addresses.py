"""Customer addresses: the quick reading of a plain address gives email-validator's answer."""

from __future__ import annotations

import string

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import strategies as st

from bopo.domain.addresses import MAX_LENGTH, Address, BadAddress, _plain, parse_address

ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"
atoms = st.text(ATEXT, min_size=1, max_size=30)
locals_ = st.one_of(
    st.lists(atoms, min_size=1, max_size=4).map(".".join),
    st.sampled_from(["Postmaster", "ABUSE", "info", "Sales", "x" * 64, "x" * 65]),
    st.text(ATEXT + '.@"', min_size=0, max_size=12),  # dots astray, quotes, more @-signs
)
labels = st.one_of(
    st.text(string.ascii_letters + string.digits + "-", min_size=0, max_size=20),
    st.sampled_from(["xn--exmple-cua", "xn--", "COM", "123", "localhost", "a" * 63, "a" * 64]),
)
domains = st.lists(labels, min_size=1, max_size=5).map(".".join)


def _library(value: str) -> Address | str:
    try:
        found = validate_email(value, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError as exc:
        return str(exc)
    return Address(found.normalized, found.ascii_email)


@given(local=locals_, domain=domains)
@example(local="x" * 64, domain=".".join(["a" * 63] * 3) + ".com")  # over 254 in all
@example(local="WWW", domain="Example.COM")
@example(local="x" * 64, domain=".".join(["a" * 63] * 4) + ".com")  # over 320 in all
def test_a_plain_address_reads_as_email_validator_reads_it(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    quick = _plain(value)
    expected = _library(value)
    if quick is not None:  # taken quickly only when the library takes it, and alike
        assert quick == expected
    if isinstance(expected, str):
        with pytest.raises(BadAddress) as refused:
            parse_address(value)
        reason = (  # past 320 characters bopo refuses before the library reads it
            f"longer than {MAX_LENGTH} characters"
            if len(value) > MAX_LENGTH
            else f"{value!r}: {expected}"
        )
        assert str(refused.value) == f"not a valid email address: {reason}"
    else:
        assert parse_address(value) == expected


def test_an_address_the_quick_reading_leaves_is_read_whole() -> None:
    assert _plain("ännä@exämple.com") is None
    assert parse_address("ännä@exämple.com") == Address("ännä@exämple.com", None)
    assert _plain('"a b"@example.com') is None
