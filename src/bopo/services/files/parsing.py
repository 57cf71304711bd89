"""Reading import files (CSV or JSON) into validated inputs, with each problem's place.

A CSV place is the row number a spreadsheet shows (the header is row 1); a JSON
place is a path such as `orders[3].lines[1]`. A file that cannot be read at
all (not UTF-8, bad JSON, missing columns) raises FileProblem; anything smaller
is an ImportIssue against its row or order, and the rest of the file goes on.

This module reads files and says what is wrong with them; files_sales and
files_purchases read sales and purchase orders with it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field, ValidationError

from bopo.config import PROFILE_FIELDS
from bopo.errors import BopoError
from bopo.services.common.inputs import (
    NewStockItem,
)

Format = Literal["csv", "json"]
T = TypeVar("T")


class FileProblem(BopoError):
    """The file as a whole cannot be read."""


Unless = Annotated[T | None, Field(exclude_if=lambda v: v is None)]  # None: left out of the JSON


@dataclass(frozen=True, slots=True)
class ImportIssue:
    field: str
    message: str
    row: Unless[int] = None
    order_number: Unless[str] = None
    path: Unless[str] = None

    def place(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.path:
            parts.append(self.path)
        if self.order_number:
            parts.append(f"order {self.order_number}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.place()
        return (
            f"{where}: {self.field}: {self.message}" if where else f"{self.field}: {self.message}"
        )


@dataclass(frozen=True, slots=True)
class Where:
    """Where a record came from: a CSV row or a JSON path, and where each of its lines
    did: a Where, or just the line's CSV row (most lines never need a Where made)."""

    row: int | None = None
    path: str | None = None
    lines: tuple[Where | int, ...] = ()

    def line(self, k: int) -> Where:
        if k < len(self.lines):
            at = self.lines[k]
            return Where(row=at) if isinstance(at, int) else at
        return Where(path=f"{self.path}.lines[{k}]") if self.path else self

    def issue(
        self, fieldname: str, message: str, number: str | None, line: int | None = None
    ) -> ImportIssue:
        at = self if line is None else self.line(line)
        return ImportIssue(fieldname, message, at.row, number, at.path)


@dataclass
class Parsed(Generic[T]):
    items: list[tuple[T, Where]] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)
    rejected: int = 0
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)


def file_format(path: str | Path) -> Format:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".json":
        return "json"
    raise FileProblem(
        f"{Path(path).name}: unknown file type {suffix or '(none)'!r}; use .csv or .json"
    )


# Limits on what an import reads: far above any real export (100,000 orders of three
# lines are about 30 MB of CSV; an order in JSON nests 5 deep), far below what would
# exhaust memory or the parser's stack.
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_JSON_DEPTH = 32


def read_text(path: str | Path) -> str:
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise FileProblem(
                f"{Path(path).name}: the file is {size / 1024 / 1024:,.0f} MB; an import reads "
                f"at most {MAX_FILE_BYTES // 1024 // 1024} MB (split it into several files)"
            )
        return Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise FileProblem(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise FileProblem(f"{path}: {exc.strerror}") from None


# --- pydantic errors, said plainly -------------------------------------------------

_MESSAGES = {
    "missing": "is required",
    "string_too_short": "is required",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "extra_forbidden": "is not a known field",
    "string_unicode": "is not valid text (it holds an unpaired surrogate)",
}


def _say(err: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "greater_than":
        return f"must be more than {ctx['gt']}"
    if kind == "greater_than_equal":
        return f"must be at least {ctx['ge']}"
    if kind == "less_than_equal":
        return f"must be at most {ctx['le']}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "too_short":
        return "must not be empty"
    if kind == "too_long":
        return f"must have at most {ctx['max_length']} entries"
    return str(err["msg"])


def validation_issues(
    exc: ValidationError, where: Where, number: str | None, names: dict[str, str] | None = None
) -> list[ImportIssue]:
    """Turn a pydantic error into issues placed at the row or path of the bad value."""
    names = names or {}
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        line = None
        if len(loc) >= 2 and loc[0] == "lines" and loc[1].isdigit():
            line = int(loc[1])
            loc = loc[2:]
        name = ".".join(loc) or "order"
        out.append(where.issue(names.get(name, name), _say(err), number, line))
    return out


# --- CSV ---------------------------------------------------------------------------


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with its row number (the header is row 1); a record the csv
    module cannot read refuses the file."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from enumerate(reader, 1)
    except csv.Error as exc:
        raise FileProblem(f"row {reader.line_num}: {exc}") from None


def _csv_header(
    records: Iterator[tuple[int, list[str]]],
    required: Sequence[str],
    known: Sequence[str],
    warnings: list[str],
) -> list[str]:
    try:
        _, header = next(records)
    except StopIteration:
        raise FileProblem("the file is empty; expected a header row") from None
    header = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in header]
    if missing:
        raise FileProblem(
            f"row 1: missing column(s) {', '.join(missing)}; "
            f"the header must have {', '.join(required)}"
        )
    unknown = [h for h in header if h not in known]
    if unknown:
        warnings.append(f"row 1: column(s) {', '.join(unknown)} are not used")
    return header


def _is_blank(values: list[str]) -> bool:
    return not "".join(values).strip()  # every value blank, told at C speed


def _csv_rows(
    text: str, required: Sequence[str], known: Sequence[str], warnings: list[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as {column: value}. A row with the wrong number of fields comes as the
    values it has at the header's places, plus `__width__` saying what is wrong."""
    records = _csv_records(text)
    header = _csv_header(records, required, known, warnings)
    width = len(header)
    for row_no, values in records:
        if _is_blank(values):
            continue
        if len(values) != width:
            yield (
                row_no,
                dict(zip(header, values, strict=False))
                | {"__width__": f"has {len(values)} fields; the header has {width}"},
            )
            continue
        yield row_no, dict(zip(header, values, strict=True))


# --- JSON --------------------------------------------------------------------------


_JSON_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_JSON_STRING = re.compile(rb'"[^"]*"')
# Keep only brackets and quotes; openers become "(" and closers ")".
_JSON_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_JSON_NOT_BRACKETS = bytes(b for b in range(256) if b not in b'[]{}"')


def _json_too_deep(text: str) -> bool:
    """Whether arrays and objects nest more than MAX_JSON_DEPTH deep, told without
    parsing: at C speed, so that it costs a fraction of the parse it guards."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False  # the usual small file costs nothing more
    data = text.encode("utf-8", "surrogatepass")
    if b"\\" in data:
        data = _JSON_ESCAPE.sub(b"", data)  # an escaped quote ends no string
    data = data.translate(_JSON_BRACKETS, _JSON_NOT_BRACKETS).replace(b'""', b"")
    if b'"' in data:
        data = _JSON_STRING.sub(b"", data)  # strings that hold brackets
    for _ in range(MAX_JSON_DEPTH):  # each pass removes the innermost level
        data = data.replace(b"()", b"")
    return b"()" in data  # a level past the limit (else whatever is left is bad JSON)


def _json_records(text: str, key: str) -> list[Any]:
    if _json_too_deep(text):
        raise FileProblem(
            f"the JSON nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; "
            f"an import reads at most {MAX_JSON_DEPTH} (an order and its lines take 5)"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:  # cannot happen past the check above; never a traceback
        raise FileProblem(f"the JSON nests more than {MAX_JSON_DEPTH} levels deep") from None
    if isinstance(data, dict) and key in data:
        data = data[key]
    if not isinstance(data, list):
        raise FileProblem(f"expected a JSON list of {key} (or an object with a {key!r} list)")
    return data


# --- sales orders (read by files_sales) ---------------------------------------------

# The columns of bopo's own sales-order CSV: a mapping profile's fields, and the source.
SO_COLUMNS = ("source", *PROFILE_FIELDS)


# --- stock items ---------------------------------------------------------------------

STOCK_COLUMNS = ("sku", "name", "on_hand")


def parse_stock_items(text: str, fmt: Format) -> Parsed[NewStockItem]:
    return _parse_flat(text, fmt, NewStockItem, STOCK_COLUMNS, STOCK_COLUMNS, "stock_items")


def _parse_flat(
    text: str,
    fmt: Format,
    model: type[Any],
    required: Sequence[str],
    known: Sequence[str],
    key: str,
) -> Parsed[Any]:
    parsed: Parsed[Any] = Parsed()
    records: Iterator[tuple[Where, Any]]
    if fmt == "json":
        records = (
            (Where(path=f"{key}[{i}]"), rec) for i, rec in enumerate(_json_records(text, key))
        )
    else:
        records = (
            (Where(row=n), row) for n, row in _csv_rows(text, required, known, parsed.warnings)
        )
    for where, rec in records:
        if not isinstance(rec, dict) or "__width__" in rec:
            msg = rec["__width__"] if isinstance(rec, dict) else "must be an object"
            parsed.issues.append(where.issue("row", msg, None))
            parsed.rejected += 1
            continue
        try:
            parsed.items.append(
                (model.model_validate({k: v for k, v in rec.items() if k in known}), where)
            )
        except ValidationError as exc:
            parsed.issues.extend(validation_issues(exc, where, None))
            parsed.rejected += 1
    return parsed
