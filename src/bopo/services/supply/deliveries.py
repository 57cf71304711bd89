"""Expected deliveries: what the dock should see arrive, overdue first, then by due date.

A PO line is expected while something is still outstanding on it. Each comes with
what is promised out of it (the sales orders linked to it), so the clerk knows
before the van is open which goods are already spoken for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bopo.db.models import (
    Association,
    Customer,
    PoLine,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SoLine,
    StockItem,
    Supplier,
)
from bopo.db.queries import IS_OPEN, OPEN_QTY, OUTSTANDING, waiting_qty
from bopo.domain.statuses import Priority
from bopo.services.common.lookup import find_po_line
from bopo.services.context import Context
from bopo.services.supply.goods_in import ReceiptView, get_receipt

# What the page offers: "week" runs to Sunday, "next" to a week from today.
WINDOWS = ("overdue", "today", "week", "next")
LIMIT = 100  # a dock's day; more are found by supplier or a narrower window


@dataclass(frozen=True, slots=True)
class ExpectedLine:
    po_number: str
    line_no: int
    supplier: str
    sku: str
    item: str
    due_date: date | None
    outstanding: int
    promised: int  # linked to sales orders: theirs first when it arrives
    orders: int  # the sales orders those links belong to

    @property
    def free(self) -> int:
        """What goes to waiting lines or free stock once the promised units are served."""
        return max(0, self.outstanding - self.promised)


def window_end(today: date, window: str) -> date | None:
    """The last due date a window shows (every window starts with what is overdue);
    "all": every open line, those without a date too."""
    if window == "all":
        return None
    if window == "overdue":
        return today - timedelta(days=1)
    if window == "today":
        return today
    if window == "week":
        return today + timedelta(days=6 - today.weekday())  # to Sunday
    return today + timedelta(days=7)


def expected_deliveries(
    ctx: Context, *, window: str = "next", supplier: str | None = None, sku: str | None = None
) -> list[ExpectedLine]:
    """Open PO lines due up to the window's end, oldest due date first (at most LIMIT)."""
    until = window_end(ctx.clock().date(), window)
    orders = (
        select(func.count(func.distinct(SoLine.sales_order_id)))
        .select_from(Association)
        .join(SoLine, SoLine.id == Association.so_line_id)
        .where(Association.po_line_id == PoLine.id, Association.state == "active")
        .scalar_subquery()
    )
    stmt = (
        select(
            PurchaseOrder.number.label("po_number"),
            PoLine.line_no,
            Supplier.name.label("supplier"),
            StockItem.sku,
            StockItem.name.label("item"),
            PoLine.due_date,
            OUTSTANDING,
            PoLine.qty_associated.label("promised"),
            orders.label("orders"),
        )
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .join(StockItem, StockItem.id == PoLine.stock_item_id)
        .where(IS_OPEN)
        # Undated last, as the open lines' index by due date holds them (PostgreSQL): a
        # window is a range of it, read in order up to the limit, not every open line.
        .order_by(PoLine.due_date.asc().nulls_last(), PurchaseOrder.number, PoLine.line_no)
        .limit(LIMIT)
    )
    if until is not None:
        stmt = stmt.where(PoLine.due_date <= until)
    if sku:
        stmt = stmt.where(StockItem.sku == sku)
    if supplier:
        stmt = stmt.where(func.lower(Supplier.name).contains(supplier.lower(), autoescape=True))
    with ctx.db.read() as conn:
        return [ExpectedLine(**row._mapping) for row in conn.execute(stmt)]


def outstanding_on(ctx: Context, po_number: str, line_no: int) -> int:
    """What is still to come on a PO line: a receipt beyond it is an over-delivery."""
    with ctx.db.read() as conn:
        key = find_po_line(conn, po_number, line_no)
        outstanding = conn.scalar(select(OPEN_QTY).where(PoLine.id == key.id))
    return max(0, outstanding or 0)


@dataclass(frozen=True, slots=True)
class SlipLine:
    """Who a receipt's goods went to: pick these out for that order."""

    sales_order_id: int
    source: str
    number: str
    line_no: int
    customer: str
    priority: str
    delivery_date: date
    qty: int
    from_worklist: bool  # waiting unlinked, served after the linked lines
    ready_to_ship: bool  # every line of the order now has all it needs


@dataclass(frozen=True, slots=True)
class ReceiptSlip:
    receipt: ReceiptView
    lines: tuple[SlipLine, ...]
    reversed_at: datetime | None = None  # taken back out (bopo.services.supply.receipt_reversal)
    reversed_by: str | None = None


def receipt_slip(ctx: Context, receipt_id: int) -> ReceiptSlip:
    """A receipt with, for each share, the order's customer, priority and whether the
    order can now go out whole: what the dock prints and sticks on the goods."""
    receipt = get_receipt(ctx, receipt_id)
    other = aliased(SoLine)  # the order's every line, beside the one served
    waiting = (
        select(
            func.coalesce(
                func.sum(waiting_qty(other)),
                0,
            )
        )
        .where(other.sales_order_id == SalesOrder.id)
        .scalar_subquery()
    )
    stmt = (
        select(
            SalesOrder.id.label("sales_order_id"),
            SalesOrder.source,
            SalesOrder.number,
            SoLine.line_no,
            Customer.name.label("customer"),
            SalesOrder.priority,
            SalesOrder.delivery_date,
            ReceiptLine.qty,
            (ReceiptLine.kind == "backorder").label("from_worklist"),
            (waiting == 0).label("ready_to_ship"),
        )
        .join(SoLine, SoLine.id == ReceiptLine.so_line_id)
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(ReceiptLine.receipt_id == receipt_id)
        .order_by(
            SalesOrder.priority.desc(), SalesOrder.delivery_date, SalesOrder.id, SoLine.line_no
        )
    )
    with ctx.db.read() as conn:
        rows = conn.execute(stmt).all()
        undone = conn.execute(
            select(Receipt.reversed_at, Receipt.reversed_by).where(Receipt.id == receipt_id)
        ).one()
    lines = tuple(
        SlipLine(**{**row._mapping, "priority": Priority.of_rank(row.priority).value})
        for row in rows
    )
    return ReceiptSlip(receipt, lines, undone.reversed_at, undone.reversed_by)
