"""Intake, told as stories: what happens to each line of a new sales order."""

from __future__ import annotations

from bopo.services.context import Context
from bopo.services.intake import take_order
from bopo.services.outcomes import OrderStatus
from tests.helpers import day, given_po, given_status, given_stock, order


def test_a_line_in_stock_is_taken_from_stock(ctx: Context) -> None:
    given_stock(ctx, A=10)
    result = take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    assert result.status is OrderStatus.TAKEN
    assert [line.outcome for line in result.lines] == ["from stock"]
    assert result.lines[0].from_stock == 4


def test_an_out_of_stock_line_is_linked_to_the_earliest_due_po_line(ctx: Context) -> None:
    given_stock(ctx, A=1)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-LATE", ("A", 10, day(20), "ON ORDER"))
    given_po(ctx, "PO-EARLY", ("A", 10, day(5), "ON ORDER"))
    result = take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    line = result.lines[0]
    assert (line.from_stock, line.linked_qty, line.po_number, line.expected) == (
        1,
        3,
        "PO-EARLY",
        day(5),
    )
