"""The backorder worklist: what waits, why, and retrying it."""

from __future__ import annotations

from collections.abc import Callable

from bopo.services.common.inputs import NewStockItem
from bopo.services.context import Context
from bopo.services.orders.intake import take_orders
from bopo.services.orders.sales import show_sales_order
from bopo.services.supply.catalog import upsert_stock_items
from bopo.services.worklist.backorders import allocate_worklist, list_backorders
from tests.helpers import day, given_po, given_status, given_stock, order


def test_the_worklist_lists_waiting_lines_oldest_delivery_date_first(ctx: Context) -> None:
    given_stock(ctx, A=0, B=1)
    take_orders(
        ctx,
        [
            order("SO-LATE", ("A", 2), delivery=day(9)),
            order("SO-SOON", ("B", 3), ("A", 1), delivery=day(2)),
        ],
        actor="test",
    )
    lines = list_backorders(ctx)
    assert [(b.number, b.line_no, b.sku, b.waiting, b.reason) for b in lines] == [
        ("SO-SOON", 1, "B", 2, "no open purchase order"),
        ("SO-SOON", 2, "A", 1, "no open purchase order"),
        ("SO-LATE", 1, "A", 2, "no open purchase order"),
    ]
    assert [b.number for b in list_backorders(ctx, sku="B")] == ["SO-SOON"]


def test_retrying_the_worklist_links_lines_to_po_lines_that_arrived_since(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    take_orders(
        ctx,
        [order("SO-1", ("A", 4), delivery=day(8)), order("SO-2", ("A", 5), delivery=day(3))],
        actor="test",
    )
    given_po(ctx, "PO-1", ("A", 6, day(5), "ON ORDER"))
    summary = allocate_worklist(ctx, actor="test")
    assert (summary.lines, summary.linked, dict(summary.still_waiting)) == (
        2,
        1,
        {"not enough outstanding on order": 1},
    )
    assert show_sales_order(ctx, "SO-2").lines[0].po_number == "PO-1"  # the sooner delivery first
    assert [b.number for b in list_backorders(ctx)] == ["SO-1"]


def test_retrying_the_worklist_takes_stock_counted_in_since(ctx: Context) -> None:
    given_stock(ctx, A=0)
    take_orders(ctx, [order("SO-1", ("A", 4))], actor="test")
    upsert_stock_items(ctx, [NewStockItem(sku="A", name="Item A", on_hand=3)], actor="test")
    summary = allocate_worklist(ctx, actor="test")
    assert (summary.from_stock, summary.units_from_stock) == (1, 3)
    (waiting,) = list_backorders(ctx)
    assert (waiting.waiting, waiting.reason) == (1, "no open purchase order")


def test_retrying_with_the_feature_off_changes_no_links(make_ctx: Callable[..., Context]) -> None:
    ctx = make_ctx(allocate_existing_pos=False)
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 6, day(5), "ON ORDER"))
    take_orders(ctx, [order("SO-1", ("A", 4))], actor="test")
    summary = allocate_worklist(ctx, actor="test")
    assert (summary.linked, dict(summary.still_waiting)) == (0, {"feature off": 1})
