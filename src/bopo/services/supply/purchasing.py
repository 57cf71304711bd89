"""Purchase orders: bringing them in, and how each line stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from pydantic import computed_field
from sqlalchemy import Connection, Subquery, and_, exists, func, select

from bopo.db.models import (
    Association,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
    Supplier,
)
from bopo.db.queries import IS_OPEN, OUTSTANDING, AnySelect
from bopo.errors import Conflict, NotFound
from bopo.services.common import sorting
from bopo.services.common.inputs import NewPurchaseOrder
from bopo.services.common.lookup import as_stored
from bopo.services.common.pages import Page, fetch_page
from bopo.services.common.search import matches, normal, same
from bopo.services.context import Context
from bopo.services.supply.purchasing_add import PurchaseOrdersResult, add_purchase_orders

# Bringing purchase orders in is written beside (purchasing_add); its callers find it here.
__all__ = [
    "PURCHASE_ORDER_SORTS",
    "LinkedSalesLine",
    "PoLineView",
    "PurchaseOrderSummary",
    "PurchaseOrderView",
    "PurchaseOrdersResult",
    "add_purchase_orders",
    "create_purchase_order",
    "find_purchase_orders",
    "show_purchase_order",
]


@dataclass(frozen=True, slots=True)
class LinkedSalesLine:
    source: str
    number: str
    line_no: int
    qty: int
    delivery_date: date


@dataclass(frozen=True, slots=True)
class PoLineView:
    id: int
    line_no: int
    sku: str
    item_name: str
    ordered: int
    delivered: int
    cancelled: int
    associated: int
    due_date: date | None
    status: str | None
    linked: tuple[LinkedSalesLine, ...]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outstanding(self) -> int:
        return max(0, self.ordered - self.delivered - self.cancelled)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def free_on_order(self) -> int:
        return max(0, self.outstanding - self.associated)


@dataclass(frozen=True, slots=True)
class PurchaseOrderView:
    id: int
    number: str
    supplier_code: str
    supplier_name: str
    order_date: date | None
    lines: tuple[PoLineView, ...]


def _line_view(r: Any, linked: Sequence[LinkedSalesLine]) -> PoLineView:
    return PoLineView(
        id=r.id,
        line_no=r.line_no,
        sku=r.sku,
        item_name=r.name,
        ordered=r.qty_ordered,
        delivered=r.qty_delivered,
        cancelled=r.qty_cancelled,
        associated=r.qty_associated,
        due_date=r.due_date,
        status=r.code,
        linked=tuple(linked),
    )


def _heading() -> tuple[Any, ...]:
    """A purchase order's number, supplier and date, as its page and the list show them."""
    return (
        PurchaseOrder.id,
        PurchaseOrder.number,
        Supplier.code.label("supplier_code"),
        Supplier.name.label("supplier_name"),
        PurchaseOrder.order_date,
    )


def show_purchase_order(ctx: Context, number: str) -> PurchaseOrderView:
    """A PO by number, typed in any case, with its lines."""
    with ctx.db.read() as conn:
        number = as_stored(conn, PurchaseOrder.number, number)
        head = conn.execute(
            select(*_heading())
            .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            .where(PurchaseOrder.number == number)
        ).first()
        if head is None:
            raise NotFound("purchase order", number)
        lines = conn.execute(
            select(
                PoLine.id,
                PoLine.line_no,
                StockItem.sku,
                StockItem.name,
                PoLine.qty_ordered,
                PoLine.qty_delivered,
                PoLine.qty_cancelled,
                PoLine.qty_associated,
                PoLine.due_date,
                PoLineStatus.code,
            )
            .join(StockItem, StockItem.id == PoLine.stock_item_id)
            .outerjoin(PoLineStatus, PoLineStatus.id == PoLine.status_id)
            .where(PoLine.purchase_order_id == head.id)
            .order_by(PoLine.line_no)
        ).all()
        linked = _linked(conn, [line.id for line in lines])
        return PurchaseOrderView(
            **head._mapping, lines=tuple(_line_view(r, linked.get(r.id, ())) for r in lines)
        )


def _linked(conn: Connection, po_line_ids: list[int]) -> dict[int, list[LinkedSalesLine]]:
    """The sales-order lines actively linked to each PO line, soonest wanted first."""
    linked: dict[int, list[LinkedSalesLine]] = {}
    for r in conn.execute(
        select(
            Association.po_line_id,
            SalesOrder.source,
            SalesOrder.number,
            SoLine.line_no,
            Association.qty,
            SalesOrder.delivery_date,
        )
        .join(SoLine, SoLine.id == Association.so_line_id)
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .where(and_(Association.po_line_id.in_(po_line_ids), Association.state == "active"))
        .order_by(SalesOrder.delivery_date, SalesOrder.id, SoLine.line_no)
    ):
        line = dict(r._mapping)
        linked.setdefault(line.pop("po_line_id"), []).append(LinkedSalesLine(**line))
    return linked


# --- one purchase order by hand, and lists ---------------------------------------------


def create_purchase_order(
    ctx: Context, order: NewPurchaseOrder, *, actor: str
) -> PurchaseOrderView:
    """A new purchase order, whole or not at all; its number must not exist yet."""
    with ctx.db.read() as conn:
        if conn.scalar(select(PurchaseOrder.id).where(PurchaseOrder.number == order.number)):
            raise Conflict(f"purchase order {order.number!r} exists already")
    add_purchase_orders(ctx, [order], actor=actor, all_or_nothing=True)
    return show_purchase_order(ctx, order.number)


@dataclass(frozen=True, slots=True)
class PurchaseOrderSummary:
    id: int
    number: str
    supplier_code: str
    supplier_name: str
    order_date: date | None
    created_at: datetime
    lines: int
    open_lines: int
    outstanding: int
    next_due: date | None


# The columns a list of purchase orders may be sorted by (`sort=next_due`, `sort=-number`).
PURCHASE_ORDER_SORTS = ("number", "supplier", "ordered", "outstanding", "next_due")


def find_purchase_orders(
    ctx: Context,
    *,
    number: str | None = None,
    supplier: str | None = None,
    sku: str | None = None,
    status: str | None = None,
    open_only: bool | None = None,
    due_before: date | None = None,
    q: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[PurchaseOrderSummary]:
    """Purchase orders, newest first. `sku`, `status` and `due_before` match any line;
    `open_only` keeps those with something still to come (false: fully delivered); `q`
    is part of the PO number or of the supplier's code or name, in any case.

    The page is counted and sliced on the purchase orders alone (the suppliers or the
    line totals joined only to filter or sort by them); the line totals are added up
    for the page's orders only."""
    totals = _line_totals()
    sorts: dict[str, Any] = {  # PURCHASE_ORDER_SORTS
        "number": PurchaseOrder.number,
        "supplier": Supplier.name,
        "ordered": PurchaseOrder.order_date,
        "outstanding": func.coalesce(totals.c.outstanding, 0),
        "next_due": totals.c.next_due,
    }
    chosen = (sorting.sort_key(sort, sorts) or "").removeprefix("-")
    ids = select(PurchaseOrder.id)
    if supplier or (q and normal(q)) or chosen == "supplier":
        ids = ids.join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
    if chosen in ("outstanding", "next_due"):
        ids = ids.outerjoin(totals, totals.c.po_id == PurchaseOrder.id)
    ids = ids.order_by(*sorting.order_by(sort, sorts, PurchaseOrder.id, [PurchaseOrder.id.desc()]))
    ids = _filtered(
        ids,
        number=number,
        supplier=supplier,
        sku=sku,
        status=status,
        open_only=open_only,
        due_before=due_before,
        q=q,
    )
    with ctx.db.read() as conn:
        page = fetch_page(conn, ids, lambda **r: r["id"], limit=limit, offset=offset)
        found = {}
        if page.items:
            lines = _line_totals(page.items)
            rows = conn.execute(
                select(
                    *_heading(),
                    PurchaseOrder.created_at,
                    func.coalesce(lines.c.lines, 0).label("lines"),
                    func.coalesce(lines.c.open_lines, 0).label("open_lines"),
                    func.coalesce(lines.c.outstanding, 0).label("outstanding"),
                    lines.c.next_due,
                )
                .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
                .outerjoin(lines, lines.c.po_id == PurchaseOrder.id)
                .where(PurchaseOrder.id.in_(page.items))
            )
            found = {r.id: PurchaseOrderSummary(**r._mapping) for r in rows}
    return replace(page, items=[found[i] for i in page.items])


def _line_totals(po_ids: Sequence[int] | None = None) -> Subquery:
    """Each purchase order's (or these ones') lines, open lines, outstanding units and
    next due date."""
    stmt = select(
        PoLine.purchase_order_id.label("po_id"),
        func.count().label("lines"),
        func.count().filter(IS_OPEN).label("open_lines"),
        func.coalesce(func.sum(OUTSTANDING).filter(IS_OPEN), 0).label("outstanding"),
        func.min(PoLine.due_date).filter(IS_OPEN).label("next_due"),
    ).group_by(PoLine.purchase_order_id)
    if po_ids is not None:
        stmt = stmt.where(PoLine.purchase_order_id.in_(po_ids))
    return stmt.subquery()


def _filtered(
    stmt: AnySelect,
    *,
    number: str | None,
    supplier: str | None,
    sku: str | None,
    status: str | None,
    open_only: bool | None,
    due_before: date | None,
    q: str | None,
) -> AnySelect:
    """The list narrowed by what was asked (see find_purchase_orders)."""
    open_line = and_(PoLine.purchase_order_id == PurchaseOrder.id, IS_OPEN)
    any_line = PoLine.purchase_order_id == PurchaseOrder.id
    if number:
        stmt = stmt.where(same(PurchaseOrder.number, number))
    if supplier:
        stmt = stmt.where(Supplier.code == supplier)
    if q and normal(q):
        stmt = stmt.where(matches([PurchaseOrder.number, Supplier.code, Supplier.name], q))
    if sku:
        stmt = stmt.where(
            exists().where(any_line, PoLine.stock_item_id == StockItem.id, same(StockItem.sku, sku))
        )
    if status:
        stmt = stmt.where(
            exists().where(
                any_line, PoLine.status_id == PoLineStatus.id, PoLineStatus.code == status
            )
        )
    # A line due by a date is an open one: the open-lines index answers both at once.
    if open_only is not None and not (open_only and due_before):
        has_open = exists().where(open_line)
        stmt = stmt.where(has_open if open_only else ~has_open)
    if due_before:
        stmt = stmt.where(exists().where(open_line, PoLine.due_date <= due_before))
    return stmt
