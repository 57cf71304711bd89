"""Buying: the items running short (demand waiting beyond what is free or on order), and
a purchase order made in a form, after which the worklist is offered its new lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from bopo.db.models import PoLine, SoLine, StockItem
from bopo.db.queries import IS_OPEN, OPEN_QTY, waiting_qty
from bopo.domain.statuses import SkipReason
from bopo.services.common.inputs import NewPurchaseOrder
from bopo.services.context import Context
from bopo.services.supply import purchasing
from bopo.services.supply.purchasing import PurchaseOrdersResult, PurchaseOrderView
from bopo.services.worklist.backorders import RetrySummary, retry_lines

LIMIT = 500


@dataclass(frozen=True, slots=True)
class ShortItem:
    sku: str
    name: str
    waiting_lines: int  # worklist lines waiting for stock or a PO line (not late ones)
    waiting_units: int
    waiting_since: datetime | None  # the longest-waiting line went on the worklist then
    free_stock: int
    free_on_order: int  # outstanding on open PO lines and not yet promised
    shortfall: int  # what to order: waiting beyond free stock and free on order


def short_items(ctx: Context, *, limit: int = LIMIT) -> list[ShortItem]:
    """Items whose waiting lines want more than is free in stock and on order, the
    biggest shortfall first: the buyer's list of what to order."""
    waiting = waiting_qty()
    demand = (
        select(
            SoLine.stock_item_id.label("item_id"),
            func.count().label("lines"),
            func.sum(waiting).label("units"),
            func.min(SoLine.backorder_since).label("since"),
        )
        .where(
            SoLine.backorder_reason.is_not(None),
            SoLine.backorder_reason != SkipReason.LATE_SUPPLY.value,
        )
        .group_by(SoLine.stock_item_id)
        .subquery()
    )
    on_order = (
        select(func.coalesce(func.sum(OPEN_QTY - PoLine.qty_associated), 0))
        .where(PoLine.stock_item_id == StockItem.id, IS_OPEN)
        .scalar_subquery()
    )
    free = case(
        (StockItem.on_hand > StockItem.assigned, StockItem.on_hand - StockItem.assigned), else_=0
    )
    shortfall = demand.c.units - free - on_order
    with ctx.db.read() as conn:
        stmt = (
            select(
                StockItem.sku,
                StockItem.name,
                demand.c.lines.label("waiting_lines"),
                demand.c.units.label("waiting_units"),
                demand.c.since.label("waiting_since"),
                free.label("free_stock"),
                on_order.label("free_on_order"),
                shortfall.label("shortfall"),
            )
            .join(demand, demand.c.item_id == StockItem.id)
            .where(shortfall > 0)
            .order_by(shortfall.desc(), StockItem.sku)
            .limit(limit)
        )
        return [ShortItem(**row._mapping) for row in conn.execute(stmt)]


def create_purchase_order(
    ctx: Context, order: NewPurchaseOrder, *, actor: str
) -> tuple[PurchaseOrderView, RetrySummary]:
    """A new PO (purchasing.create_purchase_order: whole or not at all, its number new);
    then its items' waiting lines are offered to it, as the worklist retry would."""
    made = purchasing.create_purchase_order(ctx, order, actor=actor)
    return made, _offer_waiting(ctx, order, actor)


def add_lines(
    ctx: Context, order: NewPurchaseOrder, *, actor: str
) -> tuple[PurchaseOrdersResult, RetrySummary]:
    """Lines added to a PO, all or none; then the worklist retry for their items, so the
    lines waiting for them are linked at once."""
    created = purchasing.add_purchase_orders(ctx, [order], actor=actor, all_or_nothing=True)
    return created, _offer_waiting(ctx, order, actor)


def _offer_waiting(ctx: Context, order: NewPurchaseOrder, actor: str) -> RetrySummary:
    with ctx.db.write() as conn:
        items = set(
            conn.scalars(
                select(StockItem.id).where(StockItem.sku.in_({line.sku for line in order.lines}))
            )
        )
        return retry_lines(conn, ctx, item_ids=items, actor=actor, now=ctx.clock())
