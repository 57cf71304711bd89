"""Despatch: shipping an order's assigned stock."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.statuses import SalesOrderStatus
from bopo.errors import Conflict
from bopo.services.common.engine import commit
from bopo.services.common.lookup import find_sales_order, order_lines
from bopo.services.context import Context


@dataclass(frozen=True, slots=True)
class ShippedLine:
    line_no: int
    sku: str
    qty: int


@dataclass(frozen=True, slots=True)
class Shipment:
    """What left the warehouse; the order completes when nothing is left open."""

    id: int
    source: str
    number: str
    status: str
    lines: tuple[ShippedLine, ...]


def ship(
    ctx: Context,
    number: str,
    *,
    source: str | None = None,
    line_nos: Collection[int] | None = None,
    actor: str,
) -> Shipment:
    """Ship the assigned stock of an order's lines (all, or those numbered).

    On-hand and assigned go down together and each line records what it
    shipped; an order with nothing left open is completed.
    """
    now = ctx.clock()
    with ctx.db.write() as conn:
        order = find_sales_order(conn, number, source)
        keys = order_lines(conn, order)
        chosen = {k.line_no for k in order_lines(conn, order, line_nos)}
        query = WorksetQuery.of({k.stock_item_id for k in keys}, so_line_ids=[k.id for k in keys])
        workset = load_workset(conn, query, now=now, actor=actor)
        rows = workset.order_lines(order.id)
        status = rows[0].order_status
        if status != SalesOrderStatus.OPEN:
            raise Conflict(f"sales order {order.source}/{order.number} is {status}")
        shipped = []
        for line in rows:
            if line.line_no not in chosen:
                continue
            qty = line.assigned
            if qty == 0:
                if line_nos is not None:
                    raise Conflict(f"{line.ref} has no stock assigned to ship")
                continue
            workset.touch_line(line, "so_line.ship")
            line.assigned = 0
            line.shipped += qty
            pos = workset.stock[line.item_id]
            pos.on_hand -= qty
            pos.assigned -= qty
            shipped.append(ShippedLine(line.line_no, line.sku, qty))
        if not shipped:
            raise Conflict(f"sales order {order.source}/{order.number} has no stock to ship")
        if all(r.qty == r.shipped + r.cancelled for r in rows):
            workset.set_order_status(order.id, status, SalesOrderStatus.COMPLETED.value)
            status = SalesOrderStatus.COMPLETED.value
        details = {"sales_order_id": order.id}
        commit(conn, ctx, workset, stock_action="stock.ship", details=details)
    return Shipment(order.id, order.source, order.number, status, tuple(shipped))
