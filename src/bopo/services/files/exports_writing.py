"""Writing a list as CSV or .xlsx, row by row as it is read (see bopo.services.files.exports).

A cell that a spreadsheet would run as a formula (text starting with `=`, `+`,
`-`, `@`, a tab or a carriage return) is written with a leading `'`, so that a
customer's name or an email subject can never become one.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

ExportFormat = Literal["csv", "xlsx"]
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_RISKY = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A cell's value, with text a spreadsheet would run as a formula made plain text."""
    if isinstance(value, str) and value.startswith(_RISKY):
        return "'" + value
    return value


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass
class Export:
    """A list to write: its name, its columns and its rows (read as they are written)."""

    name: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]

    def filename(self, fmt: ExportFormat, today: date) -> str:
        return f"bopo-{self.name}-{today.isoformat()}.{fmt}"


def csv_chunks(export: Export, *, rows_per_chunk: int = 500) -> Iterator[str]:
    """The list as CSV text, a chunk at a time (UTF-8 with a BOM, so Excel reads it right)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.columns)
    yield "\ufeff" + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for n, row in enumerate(export.rows, 1):
        writer.writerow(["" if v is None else neutralise(v) for v in row])
        if n % rows_per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def xlsx_bytes(export: Export) -> bytes:
    """The list as an .xlsx workbook, written row by row (openpyxl's write-only mode)."""
    from openpyxl import Workbook  # type: ignore[import-untyped]  # only when needed

    book = Workbook(write_only=True)
    sheet = book.create_sheet(export.name[:31])
    sheet.append(list(export.columns))
    for row in export.rows:
        sheet.append([neutralise(v) for v in row])
    with tempfile.TemporaryFile() as out:
        book.save(out)
        out.seek(0)
        return out.read()


def write(export: Export, fmt: ExportFormat, out: Any) -> None:
    """Into a binary file object."""
    if fmt == "xlsx":
        out.write(xlsx_bytes(export))
        return
    for chunk in csv_chunks(export):
        out.write(chunk.encode("utf-8"))
