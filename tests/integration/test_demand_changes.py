"""Demand changes, told as stories: customers cancel or want less."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bopo.errors import Conflict, InvalidInput, InvalidTransition
from bopo.services.context import Context
from bopo.services.orders.demand_changes import (
    cancel_sales_order,
    cancel_so_line,
    change_so_line_qty,
)
from bopo.services.orders.despatch import ship
from bopo.services.orders.intake import take_order
from bopo.services.orders.sales import show_sales_order
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    line_of,
    order,
    po_line_of,
    stock_of,
    worklist,
)


def test_a_cancelled_line_hands_its_stock_to_the_oldest_waiting_order(ctx: Context) -> None:
    given_stock(ctx, A=5)
    take_order(ctx, order("SO-1", ("A", 5)), actor="test")
    take_order(ctx, order("SO-LATE", ("A", 3), delivery=day(20)), actor="test")
    take_order(ctx, order("SO-SOON", ("A", 4), delivery=day(2)), actor="test")
    assert set(worklist(ctx)) == {"SO-LATE:1", "SO-SOON:1"}

    result = cancel_so_line(ctx, "SO-1", 1, actor="clerk")

    assert [(c.given_up, c.from_stock) for c in result.lines] == [(5, 5)]
    assert [(o.line.number, o.from_stock) for o in result.log.offered] == [
        ("SO-SOON", 4),
        ("SO-LATE", 1),
    ]
    assert worklist(ctx) == {"SO-LATE:1": "no open purchase order"}
    assert stock_of(ctx, "A") == (5, 5)
    assert result.status == "cancelled"


def test_a_cancelled_order_frees_its_po_quantity_for_the_worklist(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 6, day(10), "ON ORDER"))
    take_order(ctx, order("SO-BIG", ("A", 5), delivery=day(4)), actor="test")
    take_order(ctx, order("SO-LATE", ("A", 3), delivery=day(9)), actor="test")
    take_order(ctx, order("SO-SOON", ("A", 4), delivery=day(6)), actor="test")
    assert set(worklist(ctx)) == {"SO-LATE:1", "SO-SOON:1"}

    result = cancel_sales_order(ctx, "SO-BIG", actor="clerk")

    assert [(r.line.number, r.qty) for r in result.log.released] == [("SO-BIG", 5)]
    # SO-LATE was offered too, but 3 do not fit in the 1 left: nothing changed for it.
    assert [(o.line.number, o.po_number) for o in result.log.offered] == [("SO-SOON", "PO-1")]
    assert worklist(ctx) == {"SO-LATE:1": "not enough outstanding on order"}
    assert show_sales_order(ctx, "SO-BIG").status == "cancelled"
    assert line_of(ctx, "SO-BIG").outcome == "cancelled"
    with pytest.raises(InvalidTransition):
        cancel_sales_order(ctx, "SO-BIG", actor="clerk")


def test_with_the_switch_off_freed_quantity_on_order_just_waits(
    make_ctx: Callable[..., Context],
) -> None:
    on = make_ctx()
    given_stock(on, A=0)
    given_status(on, "ON ORDER")
    given_po(on, "PO-1", ("A", 5, day(10), "ON ORDER"))
    take_order(on, order("SO-1", ("A", 5)), actor="test")
    off = make_ctx(allocate_existing_pos=False)
    take_order(off, order("SO-2", ("A", 2)), actor="test")

    cancel_sales_order(off, "SO-1", actor="clerk")

    assert worklist(off) == {"SO-2:1": "feature off"}
    assert po_line_of(off, "PO-1").associated == 0


def test_a_reduced_line_gives_up_its_backorder_before_its_stock(ctx: Context) -> None:
    given_stock(ctx, A=2)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 6, day(10), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 6)), actor="test")  # 2 from stock, 4 linked
    take_order(ctx, order("SO-2", ("A", 3)), actor="test")  # waits: only 2 free on PO-1

    result = change_so_line_qty(ctx, "SO-1", 1, 3, actor="clerk")

    assert [(c.from_backorder, c.from_stock) for c in result.lines] == [(3, 0)]
    one = line_of(ctx, "SO-1")
    assert (one.from_stock, one.linked_qty, one.cancelled) == (2, 1, 3)
    assert line_of(ctx, "SO-2").po_number == "PO-1"
    assert po_line_of(ctx, "PO-1").associated == 4
    assert worklist(ctx) == {}

    change_so_line_qty(ctx, "SO-1", 1, 1, actor="clerk")
    one = line_of(ctx, "SO-1")
    assert (one.from_stock, one.linked_qty, one.cancelled) == (1, 0, 5)
    assert stock_of(ctx, "A") == (2, 1)


def test_a_line_cannot_be_raised_or_cut_below_what_shipped(ctx: Context) -> None:
    given_stock(ctx, A=4)
    take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    ship(ctx, "SO-1", actor="warehouse")
    with pytest.raises(Conflict, match="completed"):
        change_so_line_qty(ctx, "SO-1", 1, 2, actor="clerk")

    take_order(ctx, order("SO-2", ("A", 3), ("A", 1)), actor="test")
    with pytest.raises(InvalidInput, match="can only go down from 3"):
        change_so_line_qty(ctx, "SO-2", 1, 5, actor="clerk")
    with pytest.raises(InvalidInput, match="whole number"):
        change_so_line_qty(ctx, "SO-2", 1, -1, actor="clerk")


def test_cancelling_the_last_open_line_of_a_part_shipped_order_completes_it(
    ctx: Context,
) -> None:
    given_stock(ctx, A=2)
    take_order(ctx, order("SO-1", ("A", 2), ("A", 3)), actor="test")
    ship(ctx, "SO-1", line_nos=[1], actor="warehouse")

    result = cancel_so_line(ctx, "SO-1", 2, actor="clerk")

    assert result.status == "completed"
    assert worklist(ctx) == {}
    with pytest.raises(Conflict, match="completed"):
        cancel_so_line(ctx, "SO-1", 2, actor="clerk")
