"""Reversing a receipt booked in error: every unit goes out again and the lines it served
are offered again as allocation would; refused whole when the goods are gone."""

from __future__ import annotations

import pytest

from bopo.errors import Conflict
from bopo.services.context import Context
from bopo.services.orders import despatch
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog, goods_in, receipt_reversal
from tests.helpers import day, given_po, given_status, given_stock, line_of, order, po_line_of


@pytest.fixture
def shop(ctx: Context) -> Context:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4)), actor="t")  # linked: 4 of PO-1 line 1
    return ctx


def test_a_reversed_receipt_puts_the_linked_line_back_on_its_po_line(shop: Context) -> None:
    receipt = goods_in.receive(shop, "PO-1", 1, 6, actor="dock")  # 4 to SO-1, 2 stock
    assert line_of(shop, "SO-1").from_stock == 4

    done = receipt_reversal.reverse_receipt(shop, receipt.id, actor="dock")

    assert [(str(t.line), t.qty) for t in done.taken_back] == [("web/SO-1 line 1", 4)]
    line = line_of(shop, "SO-1")
    assert (line.from_stock, line.linked_qty, line.po_number) == (0, 4, "PO-1")
    po = po_line_of(shop, "PO-1")
    assert (po.delivered, po.outstanding) == (0, 10)
    item = catalog.get_stock_item(shop, "A")
    assert (item.on_hand, item.assigned) == (0, 0)
    assert [(o.line.number, o.linked_qty) for o in done.log.offered] == [("SO-1", 4)]


def test_a_line_served_in_part_is_released_whole_and_linked_again(shop: Context) -> None:
    receipt = goods_in.receive(shop, "PO-1", 1, 3, actor="dock")  # 3 of SO-1's 4
    assert (line_of(shop, "SO-1").from_stock, line_of(shop, "SO-1").linked_qty) == (3, 1)

    done = receipt_reversal.reverse_receipt(shop, receipt.id, actor="dock")

    assert [r.qty for r in done.log.released] == [1]
    line = line_of(shop, "SO-1")
    assert (line.from_stock, line.linked_qty) == (0, 4)


def test_a_worklist_line_served_by_a_receipt_waits_again(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_po(ctx, "PO-1", ("A", 5, day(5)))  # no status: nothing is linked to it
    take_order(ctx, order("SO-1", ("A", 2)), actor="t")  # waits
    receipt = goods_in.receive(ctx, "PO-1", 1, 5, actor="dock")
    assert line_of(ctx, "SO-1").from_stock == 2

    receipt_reversal.reverse_receipt(ctx, receipt.id, actor="dock")

    line = line_of(ctx, "SO-1")
    assert (line.from_stock, line.linked_qty, line.skipped) == (
        0,
        0,
        "purchase order line has no status",
    )


def test_nothing_is_reversed_when_the_goods_are_gone_or_it_was_done_before(
    shop: Context,
) -> None:
    receipt = goods_in.receive(shop, "PO-1", 1, 6, actor="dock")  # 2 to free stock
    take_order(shop, order("SO-2", ("A", 2)), actor="t")  # takes the 2 free
    before = (po_line_of(shop, "PO-1"), catalog.get_stock_item(shop, "A"), line_of(shop, "SO-1"))

    with pytest.raises(Conflict, match="2 of the units received are assigned to other orders"):
        receipt_reversal.reverse_receipt(shop, receipt.id, actor="dock")

    after = (po_line_of(shop, "PO-1"), catalog.get_stock_item(shop, "A"), line_of(shop, "SO-1"))
    assert after == before
    despatch.ship(shop, "SO-1", actor="dock")
    with pytest.raises(Conflict, match="shipped or given up"):
        receipt_reversal.reverse_receipt(shop, receipt.id, actor="dock")


def test_a_receipt_is_reversed_once(shop: Context) -> None:
    receipt = goods_in.receive(shop, "PO-1", 1, 4, actor="dock")
    receipt_reversal.reverse_receipt(shop, receipt.id, actor="dock")
    with pytest.raises(Conflict, match="reversed already"):
        receipt_reversal.reverse_receipt(shop, receipt.id, actor="dock")
    assert po_line_of(shop, "PO-1").delivered == 0
