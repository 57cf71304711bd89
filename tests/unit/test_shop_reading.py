"""Pieces of the shop formats' reading that take shortcuts for speed read as the long way does."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from bopo.services.files.formats.common import keyed_rows
from bopo.services.files.formats.shopify import created_date
from bopo.services.files.parsing import Parsed


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-24 23:30:00 -0500",
        " 2026-12-01 00:10:00 +1400 ",
        "2026-12-31 23:59:59 +0000",
        "2026-11-24 24:30:00 +0100",
        "2026-11-24 23:30:61 -0500",
        "2026-11-24 23:30:00 +2500",
        "2026-13-24 23:30:00 -0500",
        "2026-11-24 23:30:00 +01:0",
    ],
)
def test_shopifys_created_at_reads_as_strptime_does(value: str) -> None:
    try:
        expected: date | None = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S %z").date()
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError, match="as Shopify writes it"):
            created_date(value)
    else:
        assert created_date(value) == expected


def test_rows_keep_only_the_columns_asked_for_and_are_checked_whole() -> None:
    parsed: Parsed[object] = Parsed()
    header = ["Name", "Notes", "Lineitem sku", "Vendor", "Name"]
    rows = [
        (2, ["#1", "n", "A", "v", "#1b"]),
        (3, ["#2", "n", "C", "v", "#2", "more"]),
        (4, ["#3", "", "B", "", ""]),
    ]
    kept = list(keyed_rows(header, rows, parsed, keep={"Name", "Lineitem sku"}))
    whole = list(keyed_rows(header, rows, Parsed(), keep=None))
    assert kept == [
        (2, {"Name": "#1b", "Lineitem sku": "A"}),
        (4, {"Name": "", "Lineitem sku": "B"}),
    ]
    assert [(n, {k: r[k] for k in ("Name", "Lineitem sku")}) for n, r in whole] == kept
    assert [str(i) for i in parsed.issues] == ["row 3: row: has 6 fields; the header has 5"]
    assert list(keyed_rows(["Name"], [(2, ["#1"])], Parsed(), keep={"Name"})) == [
        (2, {"Name": "#1"})
    ]
