"""The open PO lines as a list to export, each with what is linked to it (see
bopo.services.files.exports)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

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
from bopo.db.queries import IS_OPEN, OUTSTANDING, AnySelect
from bopo.services.context import Context
from bopo.services.files.exports_writing import Export, _iso

PO_LINE_BATCH = 1000

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
    rows: int | None = None,
) -> Export:
    """Open PO lines, oldest first, one row per sales-order line linked to each (a line
    with nothing linked has one row with the linked columns empty). `rows`: at most that
    many are read by the caller (a page), so the first batch is no more PO lines than
    that, each giving one row at least, instead of PO_LINE_BATCH lines with all their
    links."""
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
    base = _with_links(where)
    first = PO_LINE_BATCH if rows is None else max(1, min(rows, PO_LINE_BATCH))
    return Export("po-lines", PO_LINE_COLUMNS, _po_line_rows(ctx, base, where, first))


def _with_links(where: list[Any]) -> AnySelect:
    """The PO lines `where` says, each with every sales-order line actively linked to it."""
    return (
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


def _po_line_rows(
    ctx: Context, base: AnySelect, where: list[Any], first: int
) -> Iterator[tuple[Any, ...]]:
    """The rows, read a batch of PO lines at a time (`first` lines, then PO_LINE_BATCH),
    each batch in a transaction of its own."""
    last, batch = 0, first
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
                    .limit(batch)
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
        if len(ids) < batch:
            return
        last, batch = ids[-1], PO_LINE_BATCH
