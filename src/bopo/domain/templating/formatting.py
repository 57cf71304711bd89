"""What templates get besides their data: the `date` filter and `table()`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=4096)  # a batch of emails shows the same few due dates again and again
def format_date(value: date | None, fmt: str | None = None) -> str:
    """`{{ line.expected | date }}`: "9 December 2026"; no date: "to be confirmed"."""
    if value is None:
        return "to be confirmed"
    if fmt:
        return value.strftime(fmt)
    return f"{value.day} {value:%B %Y}"


TABLE_COLUMNS: Mapping[str, str] = {
    "sku": "Item",
    "item_name": "Description",
    "qty": "Qty",
    "expected": "Expected",
    "previous_expected": "Was expected",
    "po_number": "PO",
}
_DATE_COLUMNS = frozenset({"expected", "previous_expected"})


def _cell(row: Mapping[str, Any], column: str) -> str:
    if column == "expected" and row.get("overdue"):
        return "being confirmed (overdue)"
    return format_date(row[column]) if column in _DATE_COLUMNS else str(row[column])


def text_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """`{{ table(lines) }}`: the lines as an aligned plain-text table."""
    cols = list(columns or ("sku", "item_name", "qty", "expected"))
    unknown = [c for c in cols if c not in TABLE_COLUMNS]
    if unknown:
        raise ValueError(f"table(): unknown column {unknown[0]!r}; use {', '.join(TABLE_COLUMNS)}")
    cells = [[TABLE_COLUMNS[c] for c in cols]]
    cells += ([_cell(row, c) for c in cols] for row in rows)
    widths = [max(map(len, column)) for column in zip(*cells, strict=True)]
    pads = [str.rjust if c == "qty" else str.ljust for c in cols]
    return "\n".join(
        "  ".join(
            [pad(cell, width) for pad, cell, width in zip(pads, r, widths, strict=True)]
        ).rstrip()
        for r in cells
    )
