"""Buying: the items running short (demand waiting beyond what is free or on order), and
a purchase order made in a form, after which the worklist is offered its new lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select

from bopo.db.models import PoLine, SoLine, StockItem
from bopo.db.queries import IS_OPEN, OPEN_QTY
from bopo.services.common.inputs import NewPurchaseOrder
from bopo.services.context import Context
from bopo.services.supply import purchasing
from bopo.services.supply.purchasing import PurchaseOrdersResult, PurchaseOrderView
from bopo.services.worklist.backorders import UNALLOCATED, RetrySummary, retry_lines

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
    biggest shortfall first: the buyer's list of what to order.

    What waits is each item's counters (kept by the database as lines come on and off
    the worklist), so the ranking adds up only the open PO lines; how long the page's
    items have waited is read for those items alone."""
    on_order = (
        select(
            PoLine.stock_item_id.label("item_id"),
            func.sum(OPEN_QTY - PoLine.qty_associated).label("free"),
        )
        .where(IS_OPEN)
        .group_by(PoLine.stock_item_id)
        .subquery()
    )
    free_on_order = func.coalesce(on_order.c.free, 0)
    free = case(
        (StockItem.on_hand > StockItem.assigned, StockItem.on_hand - StockItem.assigned), else_=0
    )
    shortfall = StockItem.waiting_units - free - free_on_order
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(
                StockItem.id,
                StockItem.sku,
                StockItem.name,
                StockItem.waiting_lines,
                StockItem.waiting_units,
                free.label("free_stock"),
                free_on_order.label("free_on_order"),
                shortfall.label("shortfall"),
            )
            .outerjoin(on_order, on_order.c.item_id == StockItem.id)
            .where(StockItem.waiting_lines > 0, shortfall > 0)
            .order_by(shortfall.desc(), StockItem.sku)
            .limit(limit)
        ).all()
        since: dict[int, datetime | None] = {}
        if rows:
            waited = (
                select(SoLine.stock_item_id, func.min(SoLine.backorder_since).label("since"))
                .where(*UNALLOCATED, SoLine.stock_item_id.in_([r.id for r in rows]))
                .group_by(SoLine.stock_item_id)
            )
            since = {w.stock_item_id: w.since for w in conn.execute(waited)}
    return [
        ShortItem(
            sku=r.sku,
            name=r.name,
            waiting_lines=r.waiting_lines,
            waiting_units=r.waiting_units,
            waiting_since=since.get(r.id),
            free_stock=r.free_stock,
            free_on_order=r.free_on_order,
            shortfall=r.shortfall,
        )
        for r in rows
    ]


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
