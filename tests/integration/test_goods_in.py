"""Goods in, told as stories: a delivery arrives and the stock finds its orders."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bopo.errors import Conflict, InvalidInput, NotFound
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply.changes import cancel_po_line
from bopo.services.supply.deliveries import expected_deliveries
from bopo.services.supply.goods_in import list_receipts, receive
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


@pytest.fixture
def two_linked_orders(ctx: Context) -> Context:
    """PO-1 line 1: 10 of A due in 10 days; SO-LATER (4, ships day 5) and SO-SOONER (3, day 2)."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(10), "ON ORDER"))
    take_order(ctx, order("SO-LATER", ("A", 4), delivery=day(5)), actor="test")
    take_order(ctx, order("SO-SOONER", ("A", 3), delivery=day(2)), actor="test")
    return ctx


def test_a_full_delivery_fulfils_the_linked_orders_and_the_rest_is_free_stock(
    two_linked_orders: Context,
) -> None:
    ctx = two_linked_orders
    result = receive(ctx, "PO-1", 1, 10, actor="warehouse")

    got = [(r.line.number, r.qty, r.kind) for r in result.lines]
    assert got == [("SO-SOONER", 3, "linked"), ("SO-LATER", 4, "linked")]
    assert result.to_stock == 3
    assert stock_of(ctx, "A") == (10, 7)
    assert po_line_of(ctx, "PO-1").delivered == 10
    assert po_line_of(ctx, "PO-1").associated == 0
    assert po_line_of(ctx, "PO-1").linked == ()
    assert line_of(ctx, "SO-LATER").outcome == "from stock"
    assert line_of(ctx, "SO-SOONER").from_stock == 3


def test_a_partial_delivery_serves_the_soonest_order_first_and_keeps_the_rest_linked(
    two_linked_orders: Context,
) -> None:
    ctx = two_linked_orders
    first = receive(ctx, "PO-1", 1, 5, actor="warehouse")

    assert [(r.line.number, r.qty) for r in first.lines] == [
        ("SO-SOONER", 3),
        ("SO-LATER", 2),
    ]
    later = line_of(ctx, "SO-LATER")
    assert (later.from_stock, later.linked_qty, later.po_number) == (2, 2, "PO-1")
    assert po_line_of(ctx, "PO-1").associated == 2
    assert po_line_of(ctx, "PO-1").outstanding == 5

    second = receive(ctx, "PO-1", 1, 5, actor="warehouse")
    assert [(r.line.number, r.qty) for r in second.lines] == [("SO-LATER", 2)]
    assert second.to_stock == 3
    assert line_of(ctx, "SO-LATER").from_stock == 4
    assert stock_of(ctx, "A") == (10, 7)


def test_an_over_delivery_is_accepted_and_goes_to_stock(two_linked_orders: Context) -> None:
    ctx = two_linked_orders
    result = receive(ctx, "PO-1", 1, 12, actor="warehouse")

    assert result.over_delivered == 2
    assert result.to_stock == 5
    assert stock_of(ctx, "A") == (12, 7)
    line = po_line_of(ctx, "PO-1")
    assert (line.delivered, line.outstanding) == (12, 0)


def test_after_the_linked_orders_the_worklist_gets_stock_oldest_delivery_first(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(10), "ON ORDER"))
    take_order(ctx, order("SO-LINKED", ("A", 5), delivery=day(9)), actor="test")
    take_order(ctx, order("SO-WAIT-LATE", ("A", 4), delivery=day(8)), actor="test")
    take_order(ctx, order("SO-WAIT-SOON", ("A", 2), delivery=day(3)), actor="test")
    assert worklist(ctx) == {
        "SO-WAIT-SOON:1": "not enough outstanding on order",
        "SO-WAIT-LATE:1": "not enough outstanding on order",
    }

    result = receive(ctx, "PO-1", 1, 9, actor="warehouse")

    assert [(r.line.number, r.qty, r.kind) for r in result.lines] == [
        ("SO-LINKED", 5, "linked"),
        ("SO-WAIT-SOON", 2, "backorder"),
        ("SO-WAIT-LATE", 2, "backorder"),
    ]
    assert worklist(ctx) == {"SO-WAIT-LATE:1": "not enough outstanding on order"}
    waiting = line_of(ctx, "SO-WAIT-LATE")
    assert (waiting.from_stock, waiting.waiting) == (2, 2)
    assert stock_of(ctx, "A") == (9, 9)


def test_with_the_switch_off_a_delivery_still_serves_the_worklist(
    make_ctx: Callable[..., Context],
) -> None:
    ctx = make_ctx(allocate_existing_pos=False)
    given_stock(ctx, A=0)
    given_po(ctx, "PO-1", ("A", 10, day(10)))
    take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    assert worklist(ctx) == {"SO-1:1": "feature off"}

    receive(ctx, "PO-1", 1, 10, actor="warehouse")

    assert worklist(ctx) == {}
    assert stock_of(ctx, "A") == (10, 4)


def test_the_receipts_view_lists_each_receipt_with_who_got_what(
    two_linked_orders: Context,
) -> None:
    ctx = two_linked_orders
    receive(ctx, "PO-1", 1, 3, actor="ann")
    receive(ctx, "PO-1", 1, 6, actor="bob")

    receipts = list_receipts(ctx)
    assert [(r.qty, r.received_by, r.to_stock) for r in receipts] == [(6, "bob", 2), (3, "ann", 0)]
    assert [(x.line.number, x.qty, x.customer_code) for x in receipts[0].lines] == [
        ("SO-LATER", 4, "C1")
    ]
    assert to_json(receipts[1])["to_orders"][0]["number"] == "SO-SOONER"
    assert list_receipts(ctx, po_number="PO-404") == []


def test_nothing_can_be_received_on_a_cancelled_line(two_linked_orders: Context) -> None:
    ctx = two_linked_orders
    cancel_po_line(ctx, "PO-1", 1, actor="buyer")
    with pytest.raises(Conflict, match="PO-1 line 1 is cancelled"):
        receive(ctx, "PO-1", 1, 1, actor="warehouse")
    assert stock_of(ctx, "A") == (0, 0)


def test_a_bad_quantity_or_an_unknown_line_changes_nothing(two_linked_orders: Context) -> None:
    ctx = two_linked_orders
    with pytest.raises(InvalidInput) as bad:
        receive(ctx, "PO-1", 1, 0, actor="warehouse")
    assert bad.value.errors[0].field == "qty"
    with pytest.raises(NotFound):
        receive(ctx, "PO-1", 2, 1, actor="warehouse")
    assert stock_of(ctx, "A") == (0, 0)
    assert po_line_of(ctx, "PO-1").associated == 7


def test_expected_deliveries_come_by_due_date_then_po_with_undated_lines_last(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0, B=0)
    given_po(ctx, "PO-2", ("A", 1, day(-3)), ("B", 1, None), ("A", 1, day(1)))
    given_po(ctx, "PO-1", ("B", 1, day(1)), ("A", 1, None), ("B", 1, day(-3)))
    given_po(ctx, "PO-3", ("A", 1, day(30)))
    receive(ctx, "PO-1", 3, 1, actor="test")  # no longer expected

    def shown(window: str, sku: str | None = None) -> list[tuple[str, int]]:
        return [(e.po_number, e.line_no) for e in expected_deliveries(ctx, window=window, sku=sku)]

    assert shown("overdue") == [("PO-2", 1)]
    assert shown("next") == [("PO-2", 1), ("PO-1", 1), ("PO-2", 3)]
    assert shown("all") == [
        *shown("next"),
        ("PO-3", 1),
        ("PO-1", 2),  # no date: after every dated line
        ("PO-2", 2),
    ]
    assert shown("all", sku="A") == [("PO-2", 1), ("PO-2", 3), ("PO-3", 1), ("PO-1", 2)]
