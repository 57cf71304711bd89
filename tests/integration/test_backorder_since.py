"""How long a line has waited: `backorder_since` is set when a line goes on the worklist,
kept while it waits, and cleared by every path that takes it off (a link, or stock)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from bopo.db.models import SalesOrder, SoLine
from bopo.services.common.inputs import NewStockItem
from bopo.services.context import Context
from bopo.services.orders.demand_changes import cancel_sales_order
from bopo.services.orders.intake import take_order
from bopo.services.supply.catalog import upsert_stock_items
from bopo.services.supply.changes import cancel_po_line
from bopo.services.supply.goods_in import receive
from bopo.services.worklist.backorders import allocate_worklist
from bopo.services.worklist.manual_links import link_line
from tests.clock import T0, Clock
from tests.helpers import day, given_po, given_status, given_stock, order, worklist


def since(ctx: Context, number: str, line_no: int = 1) -> datetime | None:
    with ctx.db.read() as conn:
        return conn.scalar(
            select(SoLine.backorder_since)
            .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
            .where(SalesOrder.number == number, SoLine.line_no == line_no)
        )


def waiting_since_t0(ctx: Context, number: str, qty: int = 4) -> None:
    """An order taken at T0 whose line waits on the worklist; then an hour passes."""
    clock = Clock()
    ctx.clock = clock
    take_order(ctx, order(number, ("A", qty)), actor="test")
    assert number + ":1" in worklist(ctx)
    assert since(ctx, number) == T0
    clock.advance(hours=1)


def test_a_line_waits_from_when_it_first_went_on_the_worklist(ctx: Context) -> None:
    given_stock(ctx, A=0)
    waiting_since_t0(ctx, "SO-1")
    upsert_stock_items(ctx, [NewStockItem(sku="A", name="Item A", on_hand=1)], actor="test")
    allocate_worklist(ctx, actor="test")  # takes 1, still waits for 3
    assert since(ctx, "SO-1") == T0


def test_a_worklist_retry_that_links_the_line_clears_its_since(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    waiting_since_t0(ctx, "SO-1")
    given_po(ctx, "PO-1", ("A", 6, day(5), "ON ORDER"))
    assert allocate_worklist(ctx, actor="test").linked == 1
    assert since(ctx, "SO-1") is None


def test_a_worklist_retry_that_serves_the_line_from_stock_clears_its_since(ctx: Context) -> None:
    given_stock(ctx, A=0)
    waiting_since_t0(ctx, "SO-1")
    upsert_stock_items(ctx, [NewStockItem(sku="A", name="Item A", on_hand=4)], actor="test")
    allocate_worklist(ctx, actor="test")
    assert since(ctx, "SO-1") is None


def test_a_link_by_hand_clears_its_since(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 2, day(5), "ON ORDER"))
    waiting_since_t0(ctx, "SO-1")  # 4 wanted, only 2 on order: waits
    given_po(ctx, "PO-2", ("A", 9, day(9), "ON ORDER"))
    link_line(ctx, "SO-1", 1, "PO-2", 1, actor="test")
    assert since(ctx, "SO-1") is None


def test_goods_in_that_serves_a_waiting_line_clears_its_since(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_po(ctx, "PO-1", ("A", 2, day(5)))  # no status and no default: not a candidate
    waiting_since_t0(ctx, "SO-1", qty=2)
    receive(ctx, "PO-1", 1, 2, actor="test")
    assert worklist(ctx) == {}
    assert since(ctx, "SO-1") is None


def test_quantity_freed_by_a_cancelled_order_clears_the_since_of_the_line_it_links(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 4, day(5), "ON ORDER"))
    take_order(ctx, order("SO-0", ("A", 4)), actor="test")  # takes all of PO-1
    waiting_since_t0(ctx, "SO-1")
    cancel_sales_order(ctx, "SO-0", actor="test")
    assert worklist(ctx) == {}
    assert since(ctx, "SO-1") is None


def test_a_line_released_by_a_cut_po_line_waits_from_the_cut(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 4, day(5), "ON ORDER"))
    clock = Clock()
    ctx.clock = clock
    take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    assert since(ctx, "SO-1") is None
    clock.advance(hours=2)
    cancel_po_line(ctx, "PO-1", 1, actor="test")
    assert worklist(ctx) == {"SO-1:1": "no open purchase order"}
    assert since(ctx, "SO-1") == T0 + timedelta(hours=2)
