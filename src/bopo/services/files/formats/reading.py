"""Reading a shop's file as a table: encoding and delimiter found, .xlsx opened.

Each row keeps the number a spreadsheet shows for it (the header is row 1; a
record whose quoted field spans lines is one row), so that every problem found
later is reported against the shop's own file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from charset_normalizer import from_bytes

from bopo.services.files.parsing import FileProblem

DELIMITERS = ",;\t|"
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
SNIFF_BYTES = 64 * 1024
PREFERRED = "cp1252"
CLOSE_ENOUGH = 0.03  # charset-normalizer's "chaos" (0 clean .. 1 noise)


def delimiter_name(delimiter: str) -> str:
    return _NAMES.get(delimiter, repr(delimiter))


@dataclass
class Table:
    """A file's header and its rows (row number, values), however it was stored."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    kind: str  # "csv" or "xlsx"
    encoding: str | None = None
    delimiter: str | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def read_as(self) -> dict[str, str]:
        """How the file was read, for the import's report."""
        out = {"type": self.kind}
        if self.encoding:
            out["encoding"] = self.encoding
        if self.delimiter:
            out["delimiter"] = delimiter_name(self.delimiter)
        return out | self.notes


def open_table(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    sheet: str | None = None,
) -> Table:
    """The file as a table: .xlsx by openpyxl, anything else as delimited text."""
    path = Path(path)
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return _xlsx(path, sheet)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file") from None
    except OSError as exc:
        raise FileProblem(f"{path}: {exc.strerror}") from None
    text, used, note = decode(data, encoding)
    table = delimited(text, delimiter)
    table.encoding = used
    if note:
        table.notes["encoding_note"] = note
    return table


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str, str | None]:
    """The text, the encoding used, and how it was chosen when it was guessed.

    A byte-order mark or valid UTF-8 settles it; otherwise charset-normalizer
    picks the most likely encoding (cp1252, Latin-1 ... as written by Excel and
    older ERPs). NUL bytes are refused: no text format carries them.
    """
    if b"\x00" in data[:SNIFF_BYTES] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        at = data.index(b"\x00")
        raise FileProblem(
            f"the file holds NUL bytes (first at byte {at}); "
            "it is not a text file, or it is UTF-16 without a byte-order mark"
        )
    if encoding:
        try:
            return data.decode(encoding), encoding, None
        except UnicodeDecodeError as exc:
            raise FileProblem(
                f"not {encoding} text (byte {exc.start}); the profile says encoding = {encoding}"
            ) from None
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig", None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16", None
    try:
        return data.decode("utf-8"), "utf-8", None
    except UnicodeDecodeError as exc:
        bad = exc.start
    matches = [m for m in from_bytes(data) if m.encoding not in {"utf_8", "ascii"}]
    if not matches:
        raise FileProblem(f"not UTF-8 text (byte {bad}), and no other encoding fits")
    best = min(matches, key=lambda m: m.chaos)
    # A short file fits several code pages about as well; the one Windows and Excel
    # write in Western Europe and the Americas is then the likely one.
    western = next((m for m in matches if m.encoding == PREFERRED), None)
    if western is not None and western.chaos <= best.chaos + CLOSE_ENOUGH:
        best = western
    used = best.encoding.replace("_", "-")
    return str(best), used, f"not UTF-8 (byte {bad}); read as {used}, the likeliest"


def delimited(text: str, delimiter: str | None = None) -> Table:
    if "\x00" in text:
        raise FileProblem("the file holds NUL characters; it is not a text file")
    used = delimiter or sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=used)
    try:
        header = next(reader)
    except StopIteration:
        raise FileProblem("the file is empty; expected a header row") from None
    except csv.Error as exc:
        raise FileProblem(f"row 1: {exc}") from None
    header = [h.strip() for h in header]

    def rows() -> Iterator[tuple[int, list[str]]]:
        row_no = 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileProblem(f"row {row_no + 1}: {exc}") from None
            row_no += 1
            if not values or all(not v.strip() for v in values):
                continue
            yield row_no, values

    return Table(header, rows(), "csv", delimiter=used)


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header and first rows, by csv.Sniffer; a comma when unsure."""
    sample = text[:SNIFF_BYTES]
    lines = sample.splitlines()
    if len(sample) == SNIFF_BYTES and len(lines) > 1:
        sample = "\n".join(lines[:-1])  # no half line at the end
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = lines[0] if lines else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time() else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xlsx(path: Path, sheet: str | None) -> Table:
    from openpyxl import load_workbook  # type: ignore[import-untyped]  # only when needed

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file") from None
    except Exception as exc:  # openpyxl raises many kinds for a file that is no workbook
        raise FileProblem(f"not a readable .xlsx workbook ({type(exc).__name__})") from None
    if sheet is not None and sheet not in book.sheetnames:
        raise FileProblem(f"no sheet {sheet!r}; the workbook has {', '.join(book.sheetnames)}")
    ws = book[sheet] if sheet else book.worksheets[0]
    values = ws.iter_rows(values_only=True)
    header_row = next(values, None)
    if header_row is None:
        raise FileProblem("the sheet is empty; expected a header row")
    header = [_cell(v).strip() for v in header_row]
    while header and not header[-1]:
        header.pop()

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for row_no, row in enumerate(values, 2):
                cells = [_cell(v) for v in row[: len(header)]]
                if all(not c.strip() for c in cells):
                    continue
                yield row_no, cells + [""] * (len(header) - len(cells))
        finally:
            book.close()

    return Table(header, rows(), "xlsx", notes={"sheet": ws.title})
