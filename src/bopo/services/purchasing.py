"""Purchase orders: bringing them in, and how each line stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import computed_field
from sqlalchemy import and_, exists, func, select

from bopo.db.bulk import Writes, one_of
from bopo.db.models import (
    Association,
    AuditEvent,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
    Supplier,
)
from bopo.db.queries import IS_OPEN, OUTSTANDING, ensure_codes, pairs
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services import sorting
from bopo.services.context import Context
from bopo.services.inputs import NewPurchaseOrder, NewPurchaseOrderLine
from bopo.services.linking import event
from bopo.services.pages import Page, fetch_page
from bopo.services.search import matches, normal, same


@dataclass
class PurchaseOrdersResult:
    orders_created: int = 0
    lines_created: int = 0
    lines_unchanged: int = 0
    # (index of the order in the input, index of the line or None, error)
    errors: list[tuple[int, int | None, FieldError]] = field(default_factory=list)


def add_purchase_orders(
    ctx: Context,
    orders: Sequence[NewPurchaseOrder],
    *,
    actor: str,
    all_or_nothing: bool = False,
) -> PurchaseOrdersResult:
    """Create purchase orders and lines; lines that exist already are left as they are.

    A line is refused on its own (unknown SKU or status, another supplier's PO)
    and the rest of its order still comes in; with `all_or_nothing`, any refusal
    raises InvalidInput and nothing comes in.
    """
    now = ctx.clock()
    result = PurchaseOrdersResult()
    with ctx.db.write() as conn:
        skus = {line.sku for o in orders for line in o.lines}
        items = pairs(
            conn.execute(
                select(StockItem.sku, StockItem.id).where(one_of(conn, StockItem.sku, skus))
            )
        )
        codes = {line.status for o in orders for line in o.lines if line.status}
        statuses = pairs(
            conn.execute(
                select(PoLineStatus.code, PoLineStatus.id).where(
                    one_of(conn, PoLineStatus.code, codes), PoLineStatus.retired_at.is_(None)
                )
            )
        )
        # A file's supplier name only fills in new suppliers; it does not rename.
        names: dict[str, dict[str, Any]] = {}
        for o in orders:
            if o.supplier_code not in names or o.supplier_name:
                names[o.supplier_code] = {
                    "name": o.supplier_name or o.supplier_code,
                    "email": None,
                    "created_at": now,
                }
        supplier_ids = ensure_codes(conn, Supplier, names)
        pos = {
            r.number: (r.id, r.supplier_code)
            for r in conn.execute(
                select(PurchaseOrder.number, PurchaseOrder.id, Supplier.code.label("supplier_code"))
                .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
                .where(one_of(conn, PurchaseOrder.number, {o.number for o in orders}))
            )
        }
        existing_lines = {
            (r.purchase_order_id, r.line_no): (r.stock_item_id, r.qty_ordered)
            for r in conn.execute(
                select(
                    PoLine.purchase_order_id,
                    PoLine.line_no,
                    PoLine.stock_item_id,
                    PoLine.qty_ordered,
                ).where(one_of(conn, PoLine.purchase_order_id, [v[0] for v in pos.values()]))
            )
        }
        new_orders: dict[str, NewPurchaseOrder] = {}
        new_lines: list[tuple[str, NewPurchaseOrderLine]] = []
        for n, o in enumerate(orders):
            if o.number in pos and pos[o.number][1] != o.supplier_code:
                message = f"{o.number} belongs to supplier {pos[o.number][1]}"
                result.errors.append((n, None, FieldError("supplier_code", message)))
                continue
            for k, line in enumerate(o.lines):
                problem = _line_problem(o, line, items, statuses, pos, existing_lines)
                if problem == "same":
                    result.lines_unchanged += 1
                elif isinstance(problem, FieldError):
                    result.errors.append((n, k, problem))
                else:
                    new_lines.append((o.number, line))
                    if o.number not in pos:
                        new_orders.setdefault(o.number, o)

        if all_or_nothing and result.errors:  # raising rolls back the suppliers added above
            raise InvalidInput(
                [
                    FieldError(err.field if k is None else f"lines[{k}].{err.field}", err.message)
                    for _, k, err in result.errors
                ]
            )
        writes = Writes(conn)
        ids = writes.reserve_ids({PurchaseOrder: len(new_orders), PoLine: len(new_lines)})
        po_ids = {number: po[0] for number, po in pos.items()}
        po_ids.update(zip(new_orders, ids[PurchaseOrder], strict=True))
        writes.insert(
            PurchaseOrder,
            [
                {
                    "id": po_ids[number],
                    "number": number,
                    "supplier_id": supplier_ids[o.supplier_code],
                    "order_date": o.order_date,
                    "created_at": now,
                    "cancelled_at": None,
                }
                for number, o in new_orders.items()
            ],
        )
        line_rows = [
            {
                "id": line_id,
                "purchase_order_id": po_ids[number],
                "line_no": line.line_no,
                "stock_item_id": items[line.sku],
                "qty_ordered": line.qty,
                "qty_delivered": 0,
                "qty_cancelled": 0,
                "qty_associated": 0,
                "due_date": line.due_date,
                "status_id": statuses[line.status] if line.status else None,
                "created_at": now,
            }
            for (number, line), line_id in zip(new_lines, ids[PoLine], strict=True)
        ]
        writes.insert(PoLine, line_rows)
        writes.insert(
            AuditEvent,
            [
                event(
                    now,
                    actor,
                    "po_line.create",
                    "po_line",
                    r["id"],
                    None,
                    {
                        "qty_ordered": r["qty_ordered"],
                        "status_id": r["status_id"],
                        "due_date": r["due_date"].isoformat() if r["due_date"] else None,
                    },
                )
                for r in line_rows
            ],
        )
        writes.flush()
        result.orders_created = len(new_orders)
        result.lines_created = len(line_rows)
    return result


def _line_problem(
    order: NewPurchaseOrder,
    line: NewPurchaseOrderLine,
    items: dict[str, int],
    statuses: dict[str, int],
    pos: dict[str, tuple[int, str]],
    existing: dict[tuple[int, int], tuple[int, int]],
) -> FieldError | str | None:
    """Why a line cannot come in, "same" if it is there already, or None if it is new."""
    if line.sku not in items:
        return FieldError("sku", f"unknown SKU {line.sku!r}")
    if line.status and line.status not in statuses:
        return FieldError("status", f"unknown or retired PO line status {line.status!r}")
    if order.number in pos:
        old = existing.get((pos[order.number][0], line.line_no))
        if old == (items[line.sku], line.qty):
            return "same"
        if old is not None:
            return FieldError(
                "line_no",
                f"{order.number} line {line.line_no} exists with other values; "
                "change it with the purchase-order commands",
            )
    return None


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


def show_purchase_order(ctx: Context, number: str) -> PurchaseOrderView:
    with ctx.db.read() as conn:
        head = conn.execute(
            select(
                PurchaseOrder.id,
                PurchaseOrder.number,
                Supplier.code.label("supplier_code"),
                Supplier.name.label("supplier_name"),
                PurchaseOrder.order_date,
            )
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
            .where(
                and_(
                    Association.po_line_id.in_([line.id for line in lines]),
                    Association.state == "active",
                )
            )
            .order_by(SalesOrder.delivery_date, SalesOrder.id, SoLine.line_no)
        ):
            line = dict(r._mapping)
            linked.setdefault(line.pop("po_line_id"), []).append(LinkedSalesLine(**line))
        return PurchaseOrderView(
            **head._mapping, lines=tuple(_line_view(r, linked.get(r.id, ())) for r in lines)
        )


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


def list_purchase_orders(
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
    is part of the PO number or of the supplier's code or name, in any case."""
    open_line = and_(PoLine.purchase_order_id == PurchaseOrder.id, IS_OPEN)
    lines = (
        select(
            PoLine.purchase_order_id.label("po_id"),
            func.count().label("lines"),
            func.count().filter(IS_OPEN).label("open_lines"),
            func.coalesce(func.sum(OUTSTANDING).filter(IS_OPEN), 0).label("outstanding"),
            func.min(PoLine.due_date).filter(IS_OPEN).label("next_due"),
        )
        .group_by(PoLine.purchase_order_id)
        .subquery()
    )
    stmt = (
        select(
            PurchaseOrder.id,
            PurchaseOrder.number,
            Supplier.code.label("supplier_code"),
            Supplier.name.label("supplier_name"),
            PurchaseOrder.order_date,
            PurchaseOrder.created_at,
            func.coalesce(lines.c.lines, 0).label("lines"),
            func.coalesce(lines.c.open_lines, 0).label("open_lines"),
            func.coalesce(lines.c.outstanding, 0).label("outstanding"),
            lines.c.next_due,
        )
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .outerjoin(lines, lines.c.po_id == PurchaseOrder.id)
    )
    sorts: dict[str, Any] = {  # PURCHASE_ORDER_SORTS
        "number": PurchaseOrder.number,
        "supplier": Supplier.name,
        "ordered": PurchaseOrder.order_date,
        "outstanding": func.coalesce(lines.c.outstanding, 0),
        "next_due": lines.c.next_due,
    }
    stmt = stmt.order_by(
        *sorting.order_by(sort, sorts, PurchaseOrder.id, [PurchaseOrder.id.desc()])
    )
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
    if open_only is not None:
        has_open = exists().where(open_line)
        stmt = stmt.where(has_open if open_only else ~has_open)
    if due_before:
        stmt = stmt.where(exists().where(open_line, PoLine.due_date <= due_before))
    with ctx.db.read() as conn:
        return fetch_page(conn, stmt, PurchaseOrderSummary, limit=limit, offset=offset)
