"""The sales orders a template can be previewed against, and what its template sees of
one (see bopo.services.email.templates)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from bopo.db.models import Association, Customer, SalesOrder, SoLine
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.context import Context
from bopo.services.email.backorder_emails import load_announcements


@dataclass(frozen=True, slots=True)
class OrderChoice:
    """A sales order a template can be previewed against."""

    source: str
    number: str
    customer_name: str


def preview_orders(ctx: Context, *, limit: int = 10) -> list[OrderChoice]:
    """The sales orders most recently linked to a PO line (and still linked), newest first.

    Walks the associations backwards by id and stops once it has `limit` orders,
    so it costs the same however many orders there are.
    """
    stmt = (
        select(SalesOrder.id, SalesOrder.source, SalesOrder.number, Customer.name)
        .select_from(Association)
        .join(SoLine, SoLine.id == Association.so_line_id)
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(Association.state == "active")
        .order_by(Association.id.desc())
        .limit(limit * 5)  # an order with several linked lines shows up more than once
    )
    seen: dict[int, OrderChoice] = {}
    with ctx.db.read() as conn:
        for order_id, source, number, customer in conn.execute(stmt):
            seen.setdefault(order_id, OrderChoice(source, number, customer))
    return list(seen.values())[:limit]


def order_context(
    conn: Connection,
    ctx: Context,
    order_id: int | None,
    number: str | None,
    source: str | None,
) -> tuple[str, str, dict[str, Any]]:
    """(customer address, source/number, template context) of an order's linked lines."""
    stmt = select(SalesOrder.id, SalesOrder.source, SalesOrder.number)
    if order_id is not None:
        if number is not None or source is not None:
            raise InvalidInput(
                [FieldError("order_id", "give order_id, or order_number and order_source")]
            )
        stmt = stmt.where(SalesOrder.id == order_id)
    else:
        stmt = stmt.where(SalesOrder.number == number)
        if source is not None:
            stmt = stmt.where(SalesOrder.source == source)
    orders = conn.execute(stmt).all()
    if not orders:
        raise NotFound("sales order", order_id if order_id is not None else number)
    if len(orders) > 1:
        raise Conflict(f"sales order {number!r} exists in several sources; give one")
    found = orders[0]
    ids = conn.scalars(
        select(Association.id)
        .join(SoLine, SoLine.id == Association.so_line_id)
        .where(SoLine.sales_order_id == found.id, Association.state == "active")
    ).all()
    if not ids:
        raise Conflict(f"sales order {found.number!r} has no linked lines to show")
    (to, context), *_ = load_announcements(conn, ctx, ids).values()
    return to, f"{found.source}/{found.number}", context
