"""Priority apart from delivery date: nobody has to fake a date to push an order forward."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, tuple_, update

from bopo.db.models import SalesOrder, SoLine
from bopo.errors import InvalidInput
from bopo.services.context import Context
from bopo.services.files.imports import import_sales_orders
from bopo.services.orders.intake import take_orders
from bopo.services.orders.sales import set_order_priority, show_sales_order
from bopo.services.supply.changes import change_po_line_qty
from bopo.services.supply.goods_in import receive
from bopo.services.worklist.backorders import allocate_worklist, find_backorders, list_backorders
from tests.helpers import day, given_po, given_status, given_stock, line_of, order, po_line_of


def an_urgent_order_and_a_sooner_one(ctx: Context) -> None:
    """PO-1: 10 of A. SO-SOON ships on day 3; SO-URGENT ships on day 9 but is urgent."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_orders(
        ctx,
        [
            order("SO-SOON", ("A", 3), delivery=day(3)),
            order("SO-URGENT", ("A", 3), delivery=day(9), priority="urgent"),
        ],
        actor="web",
    )


def test_goods_in_serves_the_urgent_order_before_the_one_that_ships_sooner(ctx: Context) -> None:
    an_urgent_order_and_a_sooner_one(ctx)
    result = receive(ctx, "PO-1", 1, 4, actor="warehouse")
    assert [(x.line.number, x.qty) for x in result.lines] == [
        ("SO-URGENT", 3),
        ("SO-SOON", 1),
    ]
    assert line_of(ctx, "SO-URGENT").linked_qty == 0  # all here: its link is fulfilled


def test_a_cut_po_line_keeps_the_urgent_orders_link(ctx: Context) -> None:
    an_urgent_order_and_a_sooner_one(ctx)
    result = change_po_line_qty(ctx, "PO-1", 1, 4, actor="buyer")
    assert [r.line.number for r in result.log.released] == ["SO-SOON"]
    assert [s.number for s in po_line_of(ctx, "PO-1").linked] == ["SO-URGENT"]


def test_pushing_an_order_forward_changes_who_is_served_next(ctx: Context) -> None:
    an_urgent_order_and_a_sooner_one(ctx)
    change = set_order_priority(ctx, "SO-URGENT", "low", actor="clerk")
    assert (change.before, change.after, change.changed) == ("urgent", "low", True)
    assert show_sales_order(ctx, "SO-URGENT").priority == "low"
    result = receive(ctx, "PO-1", 1, 3, actor="warehouse")
    assert [x.line.number for x in result.lines] == ["SO-SOON"]
    again = set_order_priority(ctx, "SO-URGENT", "LOW", actor="clerk")
    assert again.changed is False


def test_an_unknown_priority_is_refused_by_name(ctx: Context) -> None:
    an_urgent_order_and_a_sooner_one(ctx)
    with pytest.raises(InvalidInput, match="low, normal, high, urgent"):
        set_order_priority(ctx, "SO-SOON", "asap", actor="clerk")


def test_the_worklist_lists_and_serves_the_highest_priority_first(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    take_orders(
        ctx,
        [
            order("SO-LOW", ("A", 2), delivery=day(1), priority="low"),
            order("SO-NORMAL", ("A", 2), delivery=day(2)),
            order("SO-HIGH", ("A", 2), delivery=day(8), priority="high"),
        ],
        actor="web",
    )
    assert [b.number for b in list_backorders(ctx)] == ["SO-HIGH", "SO-NORMAL", "SO-LOW"]

    given_stock(ctx, A=3)  # a stock count finds three
    allocate_worklist(ctx, actor="system")
    assert [line_of(ctx, n).from_stock for n in ("SO-HIGH", "SO-NORMAL", "SO-LOW")] == [2, 1, 0]


HEADER = (
    "source,order_number,customer_code,customer_name,customer_email,order_date,"
    "delivery_date,line_no,sku,qty,priority\n"
)


def test_priority_comes_in_from_the_import_file_and_a_bad_one_is_reported(
    ctx: Context, tmp_path: Path
) -> None:
    given_stock(ctx, A=5)
    file = tmp_path / "orders.csv"
    file.write_text(
        HEADER
        + "web,F-1,C1,Ada,a@example.com,2026-11-25,2026-12-01,1,A,1,High\n"
        + "web,F-2,C1,Ada,a@example.com,2026-11-25,2026-12-01,1,A,1,\n"
        + "web,F-3,C1,Ada,a@example.com,2026-11-25,2026-12-01,1,A,1,soonish\n"
        + "web,F-4,C1,Ada,a@example.com,2026-11-25,2026-12-01,1,A,1,low\n"
        + "web,F-4,C1,Ada,a@example.com,2026-11-25,2026-12-01,2,A,1,high\n"
    )
    summary = import_sales_orders(ctx, file)
    assert summary.orders_taken == 2
    assert [(e.row, e.field) for e in summary.errors] == [(4, "priority"), (6, "priority")]
    assert "must be one of low, normal, high, urgent" in summary.errors[0].message
    assert [show_sales_order(ctx, n).priority for n in ("F-1", "F-2")] == ["high", "normal"]

    json_file = tmp_path / "orders.json"
    json_file.write_text(
        '{"orders": [{"order_number": "J-1", "customer_code": "C1", "customer_name": "Ada",'
        ' "customer_email": "a@example.com", "order_date": "2026-11-25",'
        ' "delivery_date": "2026-12-01", "priority": "urgent",'
        ' "lines": [{"sku": "A", "qty": 1}]}]}'
    )
    assert import_sales_orders(ctx, json_file).orders_taken == 1
    assert show_sales_order(ctx, "J-1").priority == "urgent"


def _served(ctx: Context, **filters: Any) -> list[str]:
    """The worklist's orders as its pages list them, in serving order."""
    return [line.number for line in find_backorders(ctx, **filters).items]


def test_an_orders_new_priority_delivery_date_or_source_moves_its_lines_in_the_worklist(
    make_ctx: Callable[..., Context],
) -> None:
    """The worklist is served on its lines' copies of their orders' fields: whatever
    changes an order's, the database writes them on its lines."""
    ctx = make_ctx(allocate_existing_pos=False)
    given_stock(ctx, A=0, B=0)
    take_orders(
        ctx,
        [
            order("SO-1", ("A", 1), delivery=day(3)),
            order("SO-2", ("A", 1), ("B", 1), delivery=day(5)),
            order("SO-3", ("B", 1), delivery=day(7)),
        ],
        actor="web",
    )
    assert _served(ctx) == ["SO-1", "SO-2", "SO-2", "SO-3"]
    set_order_priority(ctx, "SO-3", "urgent", actor="clerk")
    assert _served(ctx) == ["SO-3", "SO-1", "SO-2", "SO-2"]
    first = find_backorders(ctx, limit=1)
    assert first.next_after is not None
    assert _served(ctx, after=first.next_after) == ["SO-1", "SO-2", "SO-2"]
    with ctx.db.write() as conn:  # no service moves a delivery date or a source yet
        conn.execute(
            update(SalesOrder).where(SalesOrder.number == "SO-2").values(delivery_date=day(1))
        )
        conn.execute(update(SalesOrder).where(SalesOrder.number == "SO-1").values(source="shop"))
    assert _served(ctx) == ["SO-3", "SO-2", "SO-2", "SO-1"]
    assert _served(ctx, source="shop") == ["SO-1"]
    assert _served(ctx, source="web", delivery_to=day(2)) == ["SO-2", "SO-2"]
    assert _served(ctx, reason="feature off", source="web", offset=1) == ["SO-2", "SO-2"]
    with ctx.db.read() as conn:
        stale = conn.scalar(
            select(func.count())
            .select_from(SoLine)
            .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
            .where(
                tuple_(SoLine.order_source, SoLine.order_priority, SoLine.order_delivery_date)
                != tuple_(SalesOrder.source, SalesOrder.priority, SalesOrder.delivery_date)
            )
        )
    assert stale == 0
