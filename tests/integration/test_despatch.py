"""Despatch, told as stories: assigned stock leaves the warehouse."""

from __future__ import annotations

import pytest

from bopo.errors import Conflict, NotFound
from bopo.services.context import Context
from bopo.services.orders.despatch import ship
from bopo.services.orders.intake import take_order
from bopo.services.supply.goods_in import receive
from tests.helpers import day, given_po, given_status, given_stock, line_of, order, stock_of


def test_shipping_an_order_takes_its_assigned_stock_out(ctx: Context) -> None:
    given_stock(ctx, A=10, B=1)
    take_order(ctx, order("SO-1", ("A", 4), ("B", 3)), actor="test")

    shipment = ship(ctx, "SO-1", actor="warehouse")

    assert [(s.line_no, s.qty) for s in shipment.lines] == [(1, 4), (2, 1)]
    assert shipment.status == "open"  # two of B still wait
    assert stock_of(ctx, "A") == (6, 0)
    assert stock_of(ctx, "B") == (0, 0)
    b = line_of(ctx, "SO-1", 2)
    assert (b.shipped, b.from_stock, b.waiting) == (1, 1, 2)


def test_chosen_lines_ship_alone_and_the_last_one_completes_the_order(ctx: Context) -> None:
    given_stock(ctx, A=10, B=10)
    take_order(ctx, order("SO-1", ("A", 4), ("B", 3)), actor="test")

    assert ship(ctx, "SO-1", line_nos=[2], actor="warehouse").status == "open"
    assert stock_of(ctx, "A") == (10, 4)
    assert ship(ctx, "SO-1", line_nos=[1], actor="warehouse").status == "completed"
    with pytest.raises(Conflict, match="completed"):
        ship(ctx, "SO-1", actor="warehouse")


def test_a_line_waiting_for_its_po_ships_once_the_goods_are_in(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(3), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 5)), actor="test")
    with pytest.raises(Conflict, match="no stock to ship"):
        ship(ctx, "SO-1", actor="warehouse")

    receive(ctx, "PO-1", 1, 5, actor="warehouse")

    assert ship(ctx, "SO-1", actor="warehouse").status == "completed"
    assert stock_of(ctx, "A") == (0, 0)


def test_an_unknown_line_or_one_with_nothing_assigned_is_refused(ctx: Context) -> None:
    given_stock(ctx, A=1)
    take_order(ctx, order("SO-1", ("A", 1), ("A", 2)), actor="test")
    with pytest.raises(NotFound):
        ship(ctx, "SO-1", line_nos=[3], actor="warehouse")
    with pytest.raises(Conflict, match="line 2 has no stock assigned"):
        ship(ctx, "SO-1", line_nos=[1, 2], actor="warehouse")
    assert stock_of(ctx, "A") == (1, 1)
