"""The lists people take into a spreadsheet: the worklist, open PO lines with what is
linked to them, the sales orders waiting, and the outbox, as CSV or .xlsx.

Each list takes the filters of its page and its API route and has no row limit:
rows are read a page at a time (the lists' own queries, in their own order) and
written as they come, so a large export streams instead of filling memory.

A cell that a spreadsheet would run as a formula (text starting with `=`, `+`,
`-`, `@`, a tab or a carriage return) is written with a leading `'`, so that a
customer's name or an email subject can never become one.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import and_, select

from bopo.db.models import (
    Association,
    Customer,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
    Supplier,
)
from bopo.db.queries import IS_OPEN, OUTSTANDING
from bopo.errors import FieldError, InvalidInput
from bopo.services import outbox, sales, worklist
from bopo.services.context import Context
from bopo.services.pages import MAX_LIMIT, Page

ExportFormat = Literal["csv", "xlsx"]
LISTS = ("worklist", "po-lines", "waiting-orders", "emails")
CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_RISKY = ("=", "+", "-", "@", "\t", "\r")
PO_LINE_BATCH = 1000


def neutralise(value: Any) -> Any:
    """A cell's value, with text a spreadsheet would run as a formula made plain text."""
    if isinstance(value, str) and value.startswith(_RISKY):
        return "'" + value
    return value


@dataclass
class Export:
    """A list to write: its name, its columns and its rows (read as they are written)."""

    name: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]

    def filename(self, fmt: ExportFormat, today: date) -> str:
        return f"bopo-{self.name}-{today.isoformat()}.{fmt}"


def _pages(fetch: Callable[[int, int], Page[Any]]) -> Iterator[Any]:
    offset = 0
    while True:
        page = fetch(MAX_LIMIT, offset)
        yield from page.items
        offset += len(page.items)
        if len(page.items) < MAX_LIMIT or offset >= page.total:
            return


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- the lists ------------------------------------------------------------------------

WORKLIST_COLUMNS = (
    "source",
    "order_number",
    "line_no",
    "sku",
    "item_name",
    "waiting",
    "reason",
    "since",
    "delivery_date",
    "customer_code",
    "customer_name",
    "po_number",
    "po_line_no",
    "expected",
)


def worklist_export(
    ctx: Context,
    *,
    sku: str | None = None,
    reason: str | None = None,
    customer: str | None = None,
    source: str | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
) -> Export:
    def rows() -> Iterator[tuple[Any, ...]]:
        for b in _pages(
            lambda limit, offset: worklist.find_backorders(
                ctx,
                sku=sku,
                reason=reason,
                customer=customer,
                source=source,
                delivery_from=delivery_from,
                delivery_to=delivery_to,
                limit=limit,
                offset=offset,
            )
        ):
            yield (
                b.source,
                b.number,
                b.line_no,
                b.sku,
                b.item_name,
                b.waiting,
                b.reason,
                _iso(b.since),
                _iso(b.delivery_date),
                b.customer_code,
                b.customer_name,
                b.po_number,
                b.po_line_no,
                _iso(b.expected),
            )

    return Export("worklist", WORKLIST_COLUMNS, rows())


WAITING_COLUMNS = (
    "source",
    "order_number",
    "status",
    "priority",
    "customer_code",
    "customer_name",
    "order_date",
    "delivery_date",
    "lines",
    "waiting_lines",
)


def waiting_orders_export(
    ctx: Context,
    *,
    source: str | None = None,
    customer: str | None = None,
    sku: str | None = None,
    priority: str | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
    waiting: bool | None = True,
    status: str | None = None,
    number: str | None = None,
    ordered_from: date | None = None,
    ordered_to: date | None = None,
) -> Export:
    """Sales orders with a line on the worklist (all orders with `waiting` None)."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for o in _pages(
            lambda limit, offset: sales.list_sales_orders(
                ctx,
                source=source,
                customer=customer,
                sku=sku,
                priority=priority,
                delivery_from=delivery_from,
                delivery_to=delivery_to,
                waiting=waiting,
                status=status,
                number=number,
                ordered_from=ordered_from,
                ordered_to=ordered_to,
                limit=limit,
                offset=offset,
            )
        ):
            yield (
                o.source,
                o.number,
                o.status,
                o.priority,
                o.customer_code,
                o.customer_name,
                _iso(o.order_date),
                _iso(o.delivery_date),
                o.lines,
                o.waiting_lines,
            )

    return Export("waiting-orders" if waiting else "sales-orders", WAITING_COLUMNS, rows())


EMAIL_COLUMNS = (
    "id",
    "state",
    "to",
    "subject",
    "sales_order",
    "template",
    "event",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
    "next_attempt_at",
)


def emails_export(
    ctx: Context,
    *,
    state: str | None = None,
    event: str | None = None,
    sales_order_id: int | None = None,
) -> Export:
    def rows() -> Iterator[tuple[Any, ...]]:
        for e in _pages(
            lambda limit, offset: outbox.find_emails(
                ctx,
                state=state,
                event=event,
                sales_order_id=sales_order_id,
                limit=limit,
                offset=offset,
            )
        ):
            yield (
                e.id,
                e.state,
                e.to_address,
                e.subject,
                e.sales_order,
                e.template,
                e.event,
                e.attempts,
                e.last_error,
                _iso(e.created_at),
                _iso(e.sent_at),
                _iso(e.next_attempt_at),
            )

    # the mailer's own states and events are checked before the first row is asked for
    if state is not None or event is not None:
        outbox.find_emails(ctx, state=state, event=event, limit=1)
    return Export("emails", EMAIL_COLUMNS, rows())


PO_LINE_COLUMNS = (
    "po_number",
    "supplier_code",
    "line_no",
    "sku",
    "item_name",
    "status",
    "due_date",
    "ordered",
    "delivered",
    "cancelled",
    "outstanding",
    "associated",
    "free_on_order",
    "linked_source",
    "linked_order",
    "linked_line_no",
    "linked_qty",
    "linked_customer",
    "linked_delivery_date",
)


def po_lines_export(
    ctx: Context,
    *,
    supplier: str | None = None,
    sku: str | None = None,
    status: str | None = None,
    number: str | None = None,
    due_before: date | None = None,
) -> Export:
    """Open PO lines, oldest first, one row per sales-order line linked to each (a line
    with nothing linked has one row with the linked columns empty)."""
    where: list[Any] = [IS_OPEN]
    if supplier:
        where.append(Supplier.code == supplier)
    if sku:
        where.append(StockItem.sku == sku)
    if status:
        where.append(PoLineStatus.code == status)
    if number:
        where.append(PurchaseOrder.number == number)
    if due_before:
        where.append(PoLine.due_date <= due_before)
    base = (
        select(
            PoLine.id,
            PurchaseOrder.number,
            Supplier.code,
            PoLine.line_no,
            StockItem.sku,
            StockItem.name,
            PoLineStatus.code,
            PoLine.due_date,
            PoLine.qty_ordered,
            PoLine.qty_delivered,
            PoLine.qty_cancelled,
            OUTSTANDING,
            PoLine.qty_associated,
            SalesOrder.source,
            SalesOrder.number,
            SoLine.line_no,
            Association.qty,
            Customer.name,
            SalesOrder.delivery_date,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .join(StockItem, StockItem.id == PoLine.stock_item_id)
        .outerjoin(PoLineStatus, PoLineStatus.id == PoLine.status_id)
        .outerjoin(
            Association, and_(Association.po_line_id == PoLine.id, Association.state == "active")
        )
        .outerjoin(SoLine, SoLine.id == Association.so_line_id)
        .outerjoin(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .outerjoin(Customer, Customer.id == SalesOrder.customer_id)
        .where(*where)
        .order_by(PoLine.id, Association.id)
    )

    def rows() -> Iterator[tuple[Any, ...]]:
        last = 0
        while True:
            with ctx.db.read() as conn:
                ids = list(
                    conn.scalars(
                        select(PoLine.id)
                        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
                        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
                        .join(StockItem, StockItem.id == PoLine.stock_item_id)
                        .outerjoin(PoLineStatus, PoLineStatus.id == PoLine.status_id)
                        .where(*where, PoLine.id > last)
                        .order_by(PoLine.id)
                        .limit(PO_LINE_BATCH)
                    )
                )
                found = conn.execute(base.where(PoLine.id.in_(ids))).all() if ids else []
            for r in found:
                outstanding, associated = r[11], r[12]
                yield (
                    *r[1:7],
                    _iso(r[7]),
                    r[8],
                    r[9],
                    r[10],
                    outstanding,
                    associated,
                    max(0, outstanding - associated),
                    *r[13:18],
                    _iso(r[18]),
                )
            if len(ids) < PO_LINE_BATCH:
                return
            last = ids[-1]

    return Export("po-lines", PO_LINE_COLUMNS, rows())


# --- filters given as text (the CLI, the web pages) ------------------------------------

_FILTERS: dict[str, tuple[str, ...]] = {
    "worklist": ("sku", "reason", "customer", "source", "delivery_from", "delivery_to"),
    "po-lines": ("supplier", "sku", "status", "number", "due_before"),
    "waiting-orders": (
        "source",
        "customer",
        "sku",
        "priority",
        "delivery_from",
        "delivery_to",
        "status",
    ),
    "emails": ("state", "event", "sales_order_id"),
}
_DATES = {"delivery_from", "delivery_to", "due_before"}


def build(ctx: Context, name: str, filters: Mapping[str, str | None]) -> Export:
    """A list by name, its filters given as text; unknown or bad ones are refused by name."""
    if name not in LISTS:
        raise InvalidInput([FieldError("list", f"unknown list {name!r}; use {', '.join(LISTS)}")])
    chosen: dict[str, Any] = {}
    problems = []
    for key, value in filters.items():
        if value is None or not str(value).strip():
            continue
        value = str(value).strip()
        if key not in _FILTERS[name]:
            continue  # a page's own parameters (offset, ...) are not filters
        if key in _DATES:
            try:
                chosen[key] = date.fromisoformat(value)
            except ValueError:
                problems.append(FieldError(key, f"must be a date as YYYY-MM-DD, not {value!r}"))
        elif key == "sales_order_id":
            if not value.isdigit():
                problems.append(FieldError(key, "must be a whole number"))
            else:
                chosen[key] = int(value)
        else:
            chosen[key] = value
    if problems:
        raise InvalidInput(problems)
    makers: dict[str, Callable[..., Export]] = {
        "worklist": worklist_export,
        "po-lines": po_lines_export,
        "waiting-orders": waiting_orders_export,
        "emails": emails_export,
    }
    return makers[name](ctx, **chosen)


def filter_names(name: str) -> tuple[str, ...]:
    return _FILTERS[name]


# --- writing ---------------------------------------------------------------------------


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
