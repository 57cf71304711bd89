"""Reading a sales-order file: JSON orders, or CSV rows (one per line) grouped into orders.

An order whose CSV rows do not agree (order fields that differ, a line number given
twice, rows of it apart from each other, an unreadable row beside it) is refused
whole, with every reason; the rest of the file goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

from pydantic import ValidationError

from bopo.services.common.inputs import NewSalesOrder
from bopo.services.files.parsing import (
    SO_COLUMNS,
    Format,
    ImportIssue,
    Parsed,
    Where,
    _csv_header,
    _csv_records,
    _csv_rows,
    _is_blank,
    _json_records,
    validation_issues,
)

Emit = Callable[[NewSalesOrder, Where], object]
Accept = Callable[[dict[str, Any], Where], None]

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


def parse_sales_orders(text: str, fmt: Format, emit: Emit | None = None) -> Parsed[NewSalesOrder]:
    """Good orders go to `emit` as they are read (by default into `items`), in file order."""
    parsed: Parsed[NewSalesOrder] = Parsed()
    if emit is None:
        emit = lambda order, where: parsed.items.append((order, where))  # noqa: E731
    accept = _Taker(parsed, emit).accept
    if fmt == "json":
        _read_json(text, parsed, accept)
    else:
        _CsvOrders(parsed, accept, _scattered_orders(text)).read(text)
    return parsed


class _Taker:
    """Validates each order read and takes it once: an order seen before is a
    duplicate when it is the same, and refused when it is not."""

    def __init__(self, parsed: Parsed[NewSalesOrder], emit: Emit) -> None:
        self.parsed = parsed
        self.emit = emit
        self.first: dict[tuple[str, str], tuple[NewSalesOrder, Where]] = {}

    def accept(self, raw: dict[str, Any], where: Where) -> None:
        parsed = self.parsed
        number = raw.get("number") if isinstance(raw.get("number"), str) else None
        try:
            order = NewSalesOrder.model_validate(raw)
        except ValidationError as exc:
            parsed.issues.extend(validation_issues(exc, where, number, _SO_NAMES))
            parsed.rejected += 1
            return
        key = (order.source, order.number)
        if key in self.first:
            earlier, at = self.first[key]
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
        self.first[key] = (order, where)
        self.emit(order, where)


def _read_json(text: str, parsed: Parsed[NewSalesOrder], accept: Accept) -> None:
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


class _CsvOrders:
    """CSV rows grouped into orders: each block of rows of one order, once it ends,
    is taken as an order or refused with every reason."""

    def __init__(
        self,
        parsed: Parsed[NewSalesOrder],
        accept: Accept,
        scattered: dict[tuple[str, str], list[tuple[int, int]]],
    ) -> None:
        self.parsed = parsed
        self.accept = accept
        self.scattered = scattered
        self.block: list[tuple[int, dict[str, str]]] = []  # the order's readable rows
        self.key: tuple[str, str] | None = None
        self.first = 0
        self.issues: list[ImportIssue] = []  # rows of the order that cannot be read
        self.unreadable: int | None = None  # a row of no known order, just before the next one

    def read(self, text: str) -> None:
        parsed = self.parsed
        for row_no, row in _csv_rows(text, _SO_REQUIRED, SO_COLUMNS, parsed.warnings):
            bad = row.get("__width__")
            key = _row_key(row.get("source"), row.get("order_number"), bad is not None)
            if key is None:  # a bad row that names no order: refuse the orders either side too
                parsed.issues.append(ImportIssue("row", f"{bad}; its order cannot be told", row_no))
                parsed.rejected += 1
                if self.key is not None:
                    self.issues.append(
                        ImportIssue(
                            "row",
                            f"row {row_no} after this order cannot be read and may belong to it",
                            self.first,
                            self.key[1],
                        )
                    )
                self.unreadable = row_no
                continue
            if key != self.key:
                self.flush()
                self.start(key, row_no)
            self.unreadable = None
            if bad is not None:
                self.issues.append(ImportIssue("row", bad, row_no, key[1]))
            else:
                self.block.append((row_no, row))
        self.flush()

    def start(self, key: tuple[str, str], row_no: int) -> None:
        """A new order's first row."""
        self.block = []
        self.issues = []
        self.key, self.first = key, row_no
        if self.unreadable is not None:
            self.issues.append(
                ImportIssue(
                    "row",
                    f"row {self.unreadable} before this order cannot be read and may belong to it",
                    row_no,
                    key[1],
                )
            )

    def flush(self) -> None:
        """The order whose rows have all been read: taken, or refused with its problems."""
        if self.key is None:
            return
        number = self.key[1]
        problems: list[ImportIssue] = list(self.issues)
        if self.key in self.scattered:
            runs = self.scattered[self.key]
            shown = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in runs)
            problems = [
                ImportIssue(
                    "order_number",
                    f"the rows of this order are not together (rows {shown}); "
                    "an order's rows must follow each other; not taken",
                    self.first,
                    number,
                )
            ]
            if self.first != runs[0][0]:
                self.parsed.issues.extend(problems)  # counted once, at its first rows
                return
        elif self.block:
            problems.extend(_block_problems(self.block, number))
        if problems:
            self.parsed.issues.extend(problems)
            self.parsed.rejected += 1
            return
        first_row, head = self.block[0]
        lines = [{"line_no": r["line_no"], "sku": r["sku"], "qty": r["qty"]} for _, r in self.block]
        self.accept(
            _so_dict(head, lines),
            Where(row=first_row, lines=tuple(r for r, _ in self.block)),
        )


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
