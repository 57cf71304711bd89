"""Buying: the items running short, and a PO made by hand that the worklist is offered."""

from __future__ import annotations

import pytest

from bopo.errors import Conflict, InvalidInput
from bopo.services.common.inputs import NewPurchaseOrder, NewPurchaseOrderLine
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply import buying
from tests.helpers import day, given_po, given_status, given_stock, line_of, order


def _po(number: str, *lines: tuple[str, int], status: str | None = "ON ORDER") -> NewPurchaseOrder:
    return NewPurchaseOrder(
        number=number,
        supplier_code="ACME",
        lines=[
            NewPurchaseOrderLine(line_no=n, sku=sku, qty=qty, due_date=day(7), status=status)
            for n, (sku, qty) in enumerate(lines, 1)
        ],
    )


def test_items_running_short_are_what_waits_beyond_free_stock_and_free_on_order(
    ctx: Context,
) -> None:
    given_stock(ctx, A=1, B=0, C=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("B", 2, day(5), "ON ORDER"), ("C", 9, day(5)))  # C: no status
    take_order(ctx, order("SO-1", ("A", 4), ("B", 3)), actor="t")  # A: 1 from stock, 3 wait
    take_order(ctx, order("SO-2", ("A", 2), ("C", 4)), actor="t")  # C waits: PO line unmarked
    take_order(ctx, order("SO-3", ("B", 2)), actor="t")  # B: 2 on order taken by SO-3

    short = {i.sku: i for i in buying.short_items(ctx)}

    assert set(short) == {"A", "B"}  # C's 4 are covered by 9 free on order
    a, b = short["A"], short["B"]
    assert (a.waiting_lines, a.waiting_units, a.free_stock, a.free_on_order) == (2, 5, 0, 0)
    assert a.shortfall == 5
    assert (b.waiting_lines, b.waiting_units, b.free_on_order, b.shortfall) == (1, 3, 0, 3)
    assert [i.sku for i in buying.short_items(ctx)] == ["A", "B"]  # biggest shortfall first


def test_a_po_made_by_hand_is_offered_to_the_lines_waiting_for_its_items(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    take_order(ctx, order("SO-1", ("A", 4)), actor="t")

    created, retried = buying.create_purchase_order(ctx, _po("PO-7", ("A", 5)), actor="t")

    assert (created.number, len(created.lines)) == ("PO-7", 1)
    assert retried.linked == 1
    assert line_of(ctx, "SO-1").linked_qty == 4
    assert buying.short_items(ctx) == []


def test_a_new_po_with_a_number_in_use_or_an_unknown_item_changes_nothing(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 2, day(5), "ON ORDER"))

    with pytest.raises(Conflict, match="'PO-1' exists already"):
        buying.create_purchase_order(ctx, _po("PO-1", ("A", 5)), actor="t")
    with pytest.raises(InvalidInput) as refused:
        buying.create_purchase_order(ctx, _po("PO-2", ("A", 5), ("NOPE", 1)), actor="t")

    assert "NOPE" in str(refused.value)
    created, _ = buying.add_lines(ctx, _po("PO-2", ("A", 1)), actor="t")
    assert created.lines_created == 1  # PO-2 was not half made before
