"""Reading import files (CSV or JSON) into validated inputs, with each problem's place.

A CSV place is the row number a spreadsheet shows (the header is row 1); a JSON
place is a path such as `orders[3].lines[1]`. A file that cannot be read at
all (not UTF-8, bad JSON, missing columns) raises FileProblem; anything smaller
is an ImportIssue against its row or order, and the rest of the file goes on.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field, ValidationError

from bopo.errors import BopoError
from bopo.services.inputs import (
    NewPurchaseOrder,
    NewPurchaseOrderLine,
    NewSalesOrder,
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
    """Where a record came from: a CSV row or a JSON path, and where each of its lines did."""

    row: int | None = None
    path: str | None = None
    lines: tuple[Where, ...] = ()

    def line(self, k: int) -> Where:
        if k < len(self.lines):
            return self.lines[k]
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
    row_no = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise FileProblem(f"row {reader.line_num}: {exc}") from None
        row_no += 1
        yield row_no, values


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
    return not values or all(not v.strip() for v in values)


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


# --- sales orders ------------------------------------------------------------------

SO_COLUMNS = (
    "source",
    "order_number",
    "customer_code",
    "customer_name",
    "customer_email",
    "order_date",
    "delivery_date",
    "line_no",
    "sku",
    "qty",
    "priority",
)
_SO_REQUIRED = tuple(c for c in SO_COLUMNS if c not in ("source", "priority"))
_SO_HEAD = (
    "source",
    "order_number",
    "customer_code",
    "customer_name",
    "customer_email",
    "order_date",
    "delivery_date",
)
_SO_ORDER_FIELDS = _SO_HEAD[2:]  # must be the same on every row of an order
_order_fields = itemgetter(*_SO_ORDER_FIELDS)
_SO_NAMES = {
    "number": "order_number",
    "customer.code": "customer_code",
    "customer.name": "customer_name",
    "customer.email": "customer_email",
}


def _so_dict(head: dict[str, Any], lines: list[Any]) -> dict[str, Any]:
    source = head.get("source")
    return {
        "source": source if isinstance(source, str) and source.strip() else "manual",
        "number": head.get("order_number"),
        "customer": head["customer"]
        if isinstance(head.get("customer"), dict)
        else {
            "code": head.get("customer_code"),
            "name": head.get("customer_name"),
            "email": head.get("customer_email"),
        },
        "order_date": head.get("order_date"),
        "delivery_date": head.get("delivery_date"),
        "lines": lines,
        "priority": head.get("priority"),
    }


def parse_sales_orders(
    text: str,
    fmt: Format,
    emit: Callable[[NewSalesOrder, Where], object] | None = None,
) -> Parsed[NewSalesOrder]:
    """Good orders go to `emit` as they are read (by default into `items`), in file order."""
    parsed: Parsed[NewSalesOrder] = Parsed()
    first: dict[tuple[str, str], tuple[NewSalesOrder, Where]] = {}
    if emit is None:
        emit = lambda order, where: parsed.items.append((order, where))  # noqa: E731

    def accept(raw: dict[str, Any], where: Where) -> None:
        number = raw.get("number") if isinstance(raw.get("number"), str) else None
        try:
            order = NewSalesOrder.model_validate(raw)
        except ValidationError as exc:
            parsed.issues.extend(validation_issues(exc, where, number, _SO_NAMES))
            parsed.rejected += 1
            return
        key = (order.source, order.number)
        if key in first:
            earlier, at = first[key]
            if earlier == order:
                parsed.duplicates += 1
                return
            parsed.issues.append(
                where.issue(
                    "order_number",
                    f"appears again with other values (first at {at.row or at.path}); not taken",
                    order.number,
                )
            )
            parsed.rejected += 1
            return
        first[key] = (order, where)
        emit(order, where)

    if fmt == "json":
        for i, rec in enumerate(_json_records(text, "orders")):
            path = f"orders[{i}]"
            if not isinstance(rec, dict):
                parsed.issues.append(ImportIssue("order", "must be an object", path=path))
                parsed.rejected += 1
                continue
            lines = rec.get("lines")
            accept(
                _so_dict(rec, lines if isinstance(lines, list) else [])
                | ({"lines": lines} if not isinstance(lines, list) else {}),
                Where(path=path),
            )
        return parsed

    scattered = _scattered_orders(text)
    block: list[tuple[int, dict[str, str]]] = []  # the order's readable rows
    block_key: tuple[str, str] | None = None
    block_first = 0
    block_issues: list[ImportIssue] = []  # rows of the order that cannot be read
    unreadable: int | None = None  # a row of no known order, just before the next one

    def flush() -> None:
        if block_key is None:
            return
        number = block_key[1]
        problems: list[ImportIssue] = list(block_issues)
        if block_key in scattered:
            runs = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in scattered[block_key])
            problems = [
                ImportIssue(
                    "order_number",
                    f"the rows of this order are not together (rows {runs}); "
                    "an order's rows must follow each other; not taken",
                    block_first,
                    number,
                )
            ]
            if block_first != scattered[block_key][0][0]:
                parsed.issues.extend(problems)  # counted once, at its first rows
                return
        elif block:
            problems.extend(_block_problems(block, number))
        if problems:
            parsed.issues.extend(problems)
            parsed.rejected += 1
        else:
            first_row, head = block[0]
            lines = [{"line_no": r["line_no"], "sku": r["sku"], "qty": r["qty"]} for _, r in block]
            accept(
                _so_dict(head, lines),
                Where(row=first_row, lines=tuple(Where(row=r) for r, _ in block)),
            )

    for row_no, row in _csv_rows(text, _SO_REQUIRED, SO_COLUMNS, parsed.warnings):
        bad = row.get("__width__")
        key = _row_key(row.get("source"), row.get("order_number"), bad is not None)
        if key is None:  # a bad row that names no order: refuse the orders either side too
            parsed.issues.append(ImportIssue("row", f"{bad}; its order cannot be told", row_no))
            parsed.rejected += 1
            if block_key is not None:
                block_issues.append(
                    ImportIssue(
                        "row",
                        f"row {row_no} after this order cannot be read and may belong to it",
                        block_first,
                        block_key[1],
                    )
                )
            unreadable = row_no
            continue
        if key != block_key:
            flush()
            block.clear()
            block_issues.clear()
            block_key, block_first = key, row_no
            if unreadable is not None:
                block_issues.append(
                    ImportIssue(
                        "row",
                        f"row {unreadable} before this order cannot be read and may belong to it",
                        row_no,
                        key[1],
                    )
                )
        unreadable = None
        if bad is not None:
            block_issues.append(ImportIssue("row", bad, row_no, key[1]))
        else:
            block.append((row_no, row))
    flush()
    return parsed


def _row_key(source: str | None, number: str | None, bad: bool) -> tuple[str, str] | None:
    """The order a row belongs to: (source, number); None for a bad row without a number."""
    if number is None or (bad and not number.strip()):
        return None
    return ((source or "").strip() or "manual", number.strip())


def _block_problems(block: list[tuple[int, dict[str, str]]], number: str) -> list[ImportIssue]:
    """What is wrong across the rows of one order: order fields that differ, line
    numbers given twice."""
    first_row, head = block[0]
    problems: list[ImportIssue] = []
    wanted = _order_fields(head)
    priority = head.get("priority", "").strip()
    for row_no, row in block[1:]:
        if _order_fields(row) != wanted:  # the cheap test first; the detail only if needed
            problems.extend(
                ImportIssue(col, f"differs from row {first_row} of the same order", row_no, number)
                for col in _SO_ORDER_FIELDS
                if row[col].strip() != head[col].strip()
            )
        if row.get("priority", "").strip() != priority:
            problems.append(
                ImportIssue(
                    "priority", f"differs from row {first_row} of the same order", row_no, number
                )
            )
    numbers = [row["line_no"].strip() for _, row in block]
    if len(set(numbers)) != len(numbers):
        seen: dict[str, int] = {}
        for (row_no, _), n in zip(block, numbers, strict=True):
            if n in seen:
                problems.append(
                    ImportIssue(
                        "line_no",
                        f"line {n} appears twice in this order (row {seen[n]})",
                        row_no,
                        number,
                    )
                )
            seen.setdefault(n, row_no)
    return problems


def _scattered_orders(text: str) -> dict[tuple[str, str], list[tuple[int, int]]]:
    """Orders whose rows come in more than one run, other than as exact copies: each
    one's runs (first row, last row). Read before the orders are, so that no part
    of such an order is taken before its other part is seen."""
    records = _csv_records(text)
    header = _csv_header(records, _SO_REQUIRED, SO_COLUMNS, [])
    width = len(header)
    at_source = header.index("source") if "source" in header else None
    at_number = header.index("order_number")
    runs: dict[tuple[str, str], list[tuple[int, int, int]]] = {}
    key: tuple[str, str] | None = None
    first = last = 0
    rows: list[str] = []

    def close() -> None:
        if key is not None:
            runs.setdefault(key, []).append((first, last, hash("\x1e".join(rows))))

    for row_no, values in records:
        n = len(values)
        if n == width and values[at_number].strip():  # the usual row, quickly
            number = values[at_number].strip()
            source = values[at_source].strip() if at_source is not None else ""
            row_key: tuple[str, str] | None = (source or "manual", number)
        elif _is_blank(values):
            continue
        else:
            row_key = _row_key(
                values[at_source] if at_source is not None and at_source < n else None,
                values[at_number] if at_number < n else None,
                n != width,
            )
        if row_key is None:
            continue
        if row_key != key:
            close()
            key, first, rows = row_key, row_no, []
        last = row_no
        rows.append("\x1f".join(values))
    close()
    return {
        k: [(a, b) for a, b, _ in found]
        for k, found in runs.items()
        if len(found) > 1 and len({h for _, _, h in found}) > 1
    }


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


# --- purchase orders -------------------------------------------------------------------

PO_COLUMNS = (
    "po_number",
    "supplier_code",
    "line_no",
    "sku",
    "qty",
    "due_date",
    "status",
    "supplier_name",
    "order_date",
)
_PO_REQUIRED = ("po_number", "supplier_code", "line_no", "sku", "qty", "due_date")


def parse_purchase_orders(text: str, fmt: Format) -> Parsed[NewPurchaseOrder]:
    """Group line records by PO number; each bad line is refused on its own."""
    parsed: Parsed[NewPurchaseOrder] = Parsed()
    records: list[tuple[Where, dict[str, Any]]] = []
    if fmt == "json":
        for i, rec in enumerate(_json_records(text, "purchase_orders")):
            path = f"purchase_orders[{i}]"
            if not isinstance(rec, dict):
                parsed.issues.append(ImportIssue("order", "must be an object", path=path))
                continue
            raw_lines = rec.get("lines")
            if not isinstance(raw_lines, list) or not raw_lines:
                parsed.issues.append(
                    ImportIssue(
                        "lines",
                        "must be a non-empty list",
                        path=path,
                        order_number=str(rec.get("po_number") or ""),
                    )
                )
                continue
            for k, line in enumerate(raw_lines):
                lpath = f"{path}.lines[{k}]"
                if not isinstance(line, dict):
                    parsed.issues.append(ImportIssue("line", "must be an object", path=lpath))
                    continue
                records.append(
                    (
                        Where(path=lpath),
                        {
                            **{
                                c: rec.get(c)
                                for c in (
                                    "po_number",
                                    "supplier_code",
                                    "supplier_name",
                                    "order_date",
                                )
                            },
                            **line,
                        },
                    )
                )
    else:
        for n, row in _csv_rows(text, _PO_REQUIRED, PO_COLUMNS, parsed.warnings):
            if "__width__" in row:
                parsed.issues.append(ImportIssue("row", row["__width__"], n))
                continue
            records.append((Where(row=n), row))

    groups: dict[str, list[tuple[Where, dict[str, Any]]]] = {}
    for where, rec in records:
        number = str(rec.get("po_number") or "").strip()
        supplier = str(rec.get("supplier_code") or "").strip()
        if not number or not supplier:
            parsed.issues.append(
                where.issue(
                    "po_number" if not number else "supplier_code", "is required", number or None
                )
            )
            continue
        groups.setdefault(number, []).append((where, rec))

    for number, group in groups.items():
        head_where, head = group[0]
        lines: list[NewPurchaseOrderLine] = []
        line_wheres: list[Where] = []
        seen: dict[int, Where] = {}
        for where, rec in group:
            if (
                str(rec.get("supplier_code") or "").strip()
                != str(head.get("supplier_code") or "").strip()
            ):
                parsed.issues.append(
                    where.issue(
                        "supplier_code",
                        "differs from the first line of this purchase order",
                        number,
                    )
                )
                continue
            try:
                line = NewPurchaseOrderLine.model_validate(
                    {k: rec.get(k) for k in ("line_no", "sku", "qty", "due_date", "status")}
                )
            except ValidationError as exc:
                parsed.issues.extend(validation_issues(exc, where, number))
                continue
            if line.line_no in seen:
                parsed.issues.append(
                    where.issue(
                        "line_no",
                        f"line {line.line_no} appears twice in this purchase order",
                        number,
                    )
                )
                continue
            seen[line.line_no] = where
            lines.append(line)
            line_wheres.append(where)
        if not lines:
            parsed.rejected += 1
            continue
        try:
            po = NewPurchaseOrder(
                number=number,
                supplier_code=str(head["supplier_code"]).strip(),
                supplier_name=head.get("supplier_name"),
                order_date=head.get("order_date"),
                lines=lines,
            )
        except ValidationError as exc:
            parsed.issues.extend(validation_issues(exc, head_where, number))
            parsed.rejected += 1
            continue
        po_where = Where(
            row=head_where.row,
            path=head_where.path.rsplit(".lines", 1)[0] if head_where.path else None,
            lines=tuple(line_wheres),
        )
        parsed.items.append((po, po_where))
    return parsed
