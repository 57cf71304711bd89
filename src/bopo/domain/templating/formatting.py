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
    for row in rows:
        cells.append([_cell(row, c) for c in cols])
    widths = [max(len(r[i]) for r in cells) for i in range(len(cols))]
    lines = []
    for r in cells:
        padded = [
            r[i].rjust(widths[i]) if cols[i] == "qty" else r[i].ljust(widths[i])
            for i in range(len(cols))
        ]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)
