"""Finding the PO line or sales order a caller names by its business keys."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select

from bopo.db.models import PoLine, PurchaseOrder, SalesOrder, SoLine
from bopo.domain.records import SalesLineRef
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.common.inputs import MAX_QTY
from bopo.services.context import Context


class PoLineKey(NamedTuple):
    id: int
    stock_item_id: int
    purchase_order_id: int


class OrderKey(NamedTuple):
    id: int
    source: str
    number: str
    status: str


class SoLineKey(NamedTuple):
    id: int
    line_no: int
    stock_item_id: int


def as_stored(conn: Connection, column: Any, typed: str) -> str:
    """A business key (PO number, order number, SKU) as stored, however it was typed:
    `po-1001` is PO-1001. The exact spelling wins; else the one value equal to it in any
    case (served by the lower() search index); else the key as typed, so that "not
    found" names what was typed."""
    if conn.scalar(select(column).where(column == typed).limit(1)) is not None:
        return typed
    found = conn.scalars(select(column).where(func.lower(column) == typed.lower()).limit(2)).all()
    return found[0] if len(found) == 1 else typed


def find_po_line(conn: Connection, po_number: str, line_no: int) -> PoLineKey:
    po_number = as_stored(conn, PurchaseOrder.number, po_number)
    row = conn.execute(
        select(PoLine.id, PoLine.stock_item_id, PoLine.purchase_order_id)
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .where(PurchaseOrder.number == po_number, PoLine.line_no == line_no)
    ).first()
    if row is None:
        raise NotFound("purchase order line", f"{po_number} line {line_no}")
    return PoLineKey(**row._mapping)


def find_sales_order(conn: Connection, number: str, source: str | None) -> OrderKey:
    """A sales order by number (typed in any case), and by source when two channels
    share the number."""
    number = as_stored(conn, SalesOrder.number, number)
    stmt = select(SalesOrder.id, SalesOrder.source, SalesOrder.number, SalesOrder.status).where(
        SalesOrder.number == number
    )
    if source is not None:
        stmt = stmt.where(SalesOrder.source == source)
    rows = conn.execute(stmt).all()
    if not rows:
        raise NotFound("sales order", number if source is None else f"{source}/{number}")
    if len(rows) > 1:
        sources = ", ".join(sorted(r.source for r in rows))
        raise Conflict(
            f"sales order {number!r} exists in several sources ({sources}); say which source"
        )
    return OrderKey(**rows[0]._mapping)


def sales_order_key(ctx: Context, order_id: int) -> OrderKey:
    """The source and number of the order the API names by id.

    Neither ever changes, so a caller may look them up first and then call a
    service that names the order by them.
    """
    with ctx.db.read() as conn:
        row = conn.execute(
            select(SalesOrder.id, SalesOrder.source, SalesOrder.number, SalesOrder.status).where(
                SalesOrder.id == order_id
            )
        ).first()
    if row is None:
        raise NotFound("sales order", order_id)
    return OrderKey(**row._mapping)


def sales_line_ref(ctx: Context, so_line_id: int) -> SalesLineRef:
    """The order source, number and line number of the SO line the API names by id."""
    with ctx.db.read() as conn:
        row = conn.execute(
            select(SalesOrder.source, SalesOrder.number, SoLine.line_no)
            .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
            .where(SoLine.id == so_line_id)
        ).first()
    if row is None:
        raise NotFound("sales order line", so_line_id)
    return SalesLineRef(**row._mapping)


def order_lines(
    conn: Connection, order: OrderKey, line_nos: Collection[int] | None = None
) -> list[SoLineKey]:
    """The order's lines (all, or those numbered), each named line required to exist."""
    rows = [
        SoLineKey(**r._mapping)
        for r in conn.execute(
            select(SoLine.id, SoLine.line_no, SoLine.stock_item_id)
            .where(SoLine.sales_order_id == order.id)
            .order_by(SoLine.line_no)
        )
    ]
    if line_nos is None:
        return rows
    known = {r.line_no for r in rows}
    missing = sorted(set(line_nos) - known)
    if missing:
        raise NotFound("sales order line", f"{order.source}/{order.number} line {missing[0]}")
    return [r for r in rows if r.line_no in set(line_nos)]


def positive_qty(value: int, field: str = "qty", *, allow_zero: bool = False) -> int:
    """A whole quantity from a caller, refused by field name when it is not one."""
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= MAX_QTY:
        raise InvalidInput([FieldError(field, f"must be a whole number from {low} to {MAX_QTY}")])
    return value
