"""Reading a purchase-order file: line records (CSV rows, or JSON orders' lines) grouped
into purchase orders by number; each bad line is refused on its own."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from bopo.services.common.inputs import NewPurchaseOrder, NewPurchaseOrderLine
from bopo.services.files.parsing import (
    Format,
    ImportIssue,
    Parsed,
    Where,
    _csv_rows,
    _json_records,
    validation_issues,
)

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
_PO_HEAD = ("po_number", "supplier_code", "supplier_name", "order_date")
_LINE_FIELDS = ("line_no", "sku", "qty", "due_date", "status")

Record = tuple[Where, dict[str, Any]]


def parse_purchase_orders(text: str, fmt: Format) -> Parsed[NewPurchaseOrder]:
    """Group line records by PO number; each bad line is refused on its own."""
    parsed: Parsed[NewPurchaseOrder] = Parsed()
    records = _json_lines(text, parsed) if fmt == "json" else _csv_lines(text, parsed)
    for number, group in _by_number(records, parsed).items():
        found = _purchase_order(number, group, parsed)
        if found is not None:
            parsed.items.append(found)
    return parsed


def _json_lines(text: str, parsed: Parsed[NewPurchaseOrder]) -> list[Record]:
    """Each line of each order, with the order's own fields on it."""
    records: list[Record] = []
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
        head = {c: rec.get(c) for c in _PO_HEAD}
        for k, line in enumerate(raw_lines):
            lpath = f"{path}.lines[{k}]"
            if not isinstance(line, dict):
                parsed.issues.append(ImportIssue("line", "must be an object", path=lpath))
                continue
            records.append((Where(path=lpath), {**head, **line}))
    return records


def _csv_lines(text: str, parsed: Parsed[NewPurchaseOrder]) -> list[Record]:
    records: list[Record] = []
    for n, row in _csv_rows(text, _PO_REQUIRED, PO_COLUMNS, parsed.warnings):
        if "__width__" in row:
            parsed.issues.append(ImportIssue("row", row["__width__"], n))
            continue
        records.append((Where(row=n), row))
    return records


def _by_number(records: list[Record], parsed: Parsed[NewPurchaseOrder]) -> dict[str, list[Record]]:
    """The lines by PO number, in file order; a line without a number or supplier is refused."""
    groups: dict[str, list[Record]] = {}
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
    return groups


def _purchase_order(
    number: str, group: list[Record], parsed: Parsed[NewPurchaseOrder]
) -> tuple[NewPurchaseOrder, Where] | None:
    """The purchase order of one number's good lines; None (refused) if none is good."""
    head_where, head = group[0]
    lines, line_wheres = _po_lines(number, group, parsed)
    if not lines:
        parsed.rejected += 1
        return None
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
        return None
    po_where = Where(
        row=head_where.row,
        path=head_where.path.rsplit(".lines", 1)[0] if head_where.path else None,
        lines=tuple(line_wheres),
    )
    return po, po_where


def _po_lines(
    number: str, group: list[Record], parsed: Parsed[NewPurchaseOrder]
) -> tuple[list[NewPurchaseOrderLine], list[Where]]:
    """The good lines of one purchase order and where each was; each bad one is refused."""
    supplier = str(group[0][1].get("supplier_code") or "").strip()
    lines: list[NewPurchaseOrderLine] = []
    line_wheres: list[Where] = []
    seen: dict[int, Where] = {}
    for where, rec in group:
        if str(rec.get("supplier_code") or "").strip() != supplier:
            parsed.issues.append(
                where.issue(
                    "supplier_code", "differs from the first line of this purchase order", number
                )
            )
            continue
        try:
            line = NewPurchaseOrderLine.model_validate({k: rec.get(k) for k in _LINE_FIELDS})
        except ValidationError as exc:
            parsed.issues.extend(validation_issues(exc, where, number))
            continue
        if line.line_no in seen:
            parsed.issues.append(
                where.issue(
                    "line_no", f"line {line.line_no} appears twice in this purchase order", number
                )
            )
            continue
        seen[line.line_no] = where
        lines.append(line)
        line_wheres.append(where)
    return lines, line_wheres
