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


_DEFAULT_COLUMNS = ("sku", "item_name", "qty", "expected")
_DEFAULT_LIST = list(_DEFAULT_COLUMNS)
_OVERDUE = "being confirmed (overdue)"


def text_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """`{{ table(lines) }}`: the lines as an aligned plain-text table."""
    cols = list(columns or _DEFAULT_COLUMNS)
    unknown = [c for c in cols if c not in TABLE_COLUMNS]
    if unknown:
        raise ValueError(f"table(): unknown column {unknown[0]!r}; use {', '.join(TABLE_COLUMNS)}")
    cells = [[TABLE_COLUMNS[c] for c in cols]]
    if cols == _DEFAULT_LIST:  # the same cells, with no test of each column's kind
        cells += (
            [
                str(row["sku"]),
                str(row["item_name"]),
                str(row["qty"]),
                _OVERDUE if row.get("overdue") else format_date(row["expected"]),
            ]
            for row in rows
        )
    else:
        cells += (
            [
                _OVERDUE
                if c == "expected" and row.get("overdue")
                else format_date(row[c])
                if c in _DATE_COLUMNS
                else str(row[c])
                for c in cols
            ]
            for row in rows
        )
    widths = tuple([max(map(len, column)) for column in zip(*cells, strict=True)])
    line = _row_format(tuple(cols), widths)
    return "\n".join([line.format(*r).rstrip() for r in cells])


@lru_cache(maxsize=1024)  # a batch's tables have the same few shapes
def _row_format(columns: tuple[str, ...], widths: tuple[int, ...]) -> str:
    """Every row of a table in one format: the quantity right-aligned, the rest left (every
    width is at least its heading's, so never 0)."""
    return "  ".join(
        f"{{:{'>' if c == 'qty' else '<'}{width}}}"
        for c, width in zip(columns, widths, strict=True)
    )
