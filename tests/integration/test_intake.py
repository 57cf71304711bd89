"""Intake, told as stories: what happens to each line of a new sales order."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from bopo.db.models import Association, AuditEvent, Customer, PoLine, SalesOrder, SoLine, StockItem
from bopo.services.context import Context
from bopo.services.orders.intake import take_order, take_orders
from bopo.services.orders.outcomes import OrderStatus
from bopo.services.orders.sales import show_sales_order
from bopo.services.supply.purchasing import show_purchase_order
from tests.helpers import day, given_po, given_status, given_stock, order


def test_a_line_in_stock_is_taken_from_stock(ctx: Context) -> None:
    given_stock(ctx, A=10)
    result = take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    assert result.status is OrderStatus.TAKEN
    assert [line.outcome for line in result.lines] == ["from stock"]
    assert result.lines[0].from_stock == 4
    with ctx.db.read() as conn:
        assert conn.scalar(select(StockItem.assigned)) == 4


def test_an_out_of_stock_line_is_linked_to_the_earliest_due_po_line(ctx: Context) -> None:
    given_stock(ctx, A=1)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-LATE", ("A", 10, day(20), "ON ORDER"))
    given_po(ctx, "PO-EARLY", ("A", 10, day(5), "ON ORDER"))
    result = take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    line = result.lines[0]
    assert (line.from_stock, line.linked_qty, line.po_number, line.po_line_no, line.expected) == (
        1,
        3,
        "PO-EARLY",
        1,
        day(5),
    )
    po = show_purchase_order(ctx, "PO-EARLY")
    assert (po.lines[0].associated, po.lines[0].free_on_order) == (3, 7)
    assert [(s.number, s.qty) for s in po.lines[0].linked] == [("SO-1", 3)]


def test_a_line_that_no_po_line_covers_whole_is_skipped_with_its_reason(ctx: Context) -> None:
    given_stock(ctx, A=0, B=0, C=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 3, day(5), "ON ORDER"), ("C", 10, day(5)))
    result = take_order(ctx, order("SO-1", ("A", 4), ("B", 1), ("C", 2)), actor="test")
    assert [line.skipped for line in result.lines] == [
        "not enough outstanding on order",
        "no open purchase order",
        "purchase order line has no status",
    ]
    assert show_purchase_order(ctx, "PO-1").lines[0].associated == 0


def test_with_a_default_status_a_po_line_without_one_is_linked_and_given_it(
    make_ctx: Callable[..., Context],
) -> None:
    ctx = make_ctx(default_po_line_status="ON ORDER")
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5)))
    result = take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    assert result.lines[0].po_number == "PO-1"
    assert show_purchase_order(ctx, "PO-1").lines[0].status == "ON ORDER"
    with ctx.db.read() as conn:
        actions = conn.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert "po_line.status" in actions


def test_with_the_feature_off_stock_is_taken_and_backorders_wait(
    make_ctx: Callable[..., Context],
) -> None:
    ctx = make_ctx(allocate_existing_pos=False)
    given_stock(ctx, A=2)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    result = take_order(ctx, order("SO-1", ("A", 5)), actor="test")
    assert (result.lines[0].from_stock, result.lines[0].skipped) == (2, "feature off")
    assert show_purchase_order(ctx, "PO-1").lines[0].associated == 0


def test_the_same_order_again_changes_nothing_and_says_so(ctx: Context) -> None:
    given_stock(ctx, A=10)
    first = take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    again = take_order(ctx, order("SO-1", ("A", 4)), actor="test")
    assert again.status is OrderStatus.DUPLICATE
    assert again.id == first.id
    assert [(line.qty, line.from_stock) for line in again.lines] == [(4, 4)]
    changed = take_order(ctx, order("SO-1", ("A", 9), ("B", 1), delivery=day(9)), actor="test")
    assert (changed.status, changed.id) == (OrderStatus.CHANGED, first.id)
    assert [str(d) for d in changed.differences] == [
        f"delivery_date: {day(7).isoformat()} → {day(9).isoformat()}",
        "line 1 qty: 4 → 9",
        "line 2: not in the order taken (1 x B)",
    ]
    assert [(line.qty, line.from_stock) for line in changed.lines] == [(4, 4)]
    with ctx.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(SalesOrder)) == 1
        assert conn.scalar(select(StockItem.assigned)) == 4


def test_the_same_number_from_another_source_is_another_order(ctx: Context) -> None:
    given_stock(ctx, A=10)
    web = take_order(ctx, order("1001", ("A", 1), source="web"), actor="test")
    shop = take_order(ctx, order("1001", ("A", 1), source="marketplace"), actor="test")
    assert {web.status, shop.status} == {OrderStatus.TAKEN}
    assert web.id != shop.id


def test_an_order_with_an_unknown_sku_is_rejected_whole(ctx: Context) -> None:
    given_stock(ctx, A=10)
    result = take_order(ctx, order("SO-1", ("A", 1), ("NOPE", 2)), actor="test")
    assert result.status is OrderStatus.REJECTED
    assert [(e.field, e.message) for e in result.errors] == [("lines[1].sku", "unknown SKU 'NOPE'")]
    with ctx.db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(SoLine)) == 0
        assert conn.scalar(select(func.count()).select_from(Customer)) == 0
        assert conn.scalar(select(StockItem.assigned)) == 0


def test_orders_in_one_batch_are_allocated_in_the_order_given(ctx: Context) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(5), "ON ORDER"))
    first, second, third = take_orders(
        ctx,
        [order("SO-1", ("A", 3)), order("SO-2", ("A", 3)), order("SO-3", ("A", 2))],
        actor="test",
    )
    assert [first.lines[0].linked_qty, second.lines[0].skipped, third.lines[0].linked_qty] == [
        3,
        "not enough outstanding on order",
        2,
    ]


def test_a_customer_is_created_once_and_kept_up_to_date(ctx: Context) -> None:
    given_stock(ctx, A=10)
    take_order(ctx, order("SO-1", ("A", 1), customer="C9"), actor="test")
    renamed = order("SO-2", ("A", 1), customer="C9").model_copy(
        update={
            "customer": order("x", ("A", 1), customer="C9").customer.model_copy(
                update={"email": "new@example.com"}
            )
        }
    )
    take_order(ctx, renamed, actor="test")
    with ctx.db.read() as conn:
        assert conn.execute(select(Customer.code, Customer.email)).all() == [
            ("C9", "new@example.com")
        ]


def test_the_outcome_of_an_order_can_be_read_back(ctx: Context) -> None:
    given_stock(ctx, A=1, B=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 3), ("B", 2)), actor="test")
    view = show_sales_order(ctx, "SO-1")
    assert [line.describe() for line in view.lines] == [
        f"1 from stock, 2 linked to PO-1 line 1 (expected {day(5).isoformat()})",
        "2 waiting: no open purchase order",
    ]


def test_every_change_is_in_the_audit_trail_with_who_did_it(ctx: Context) -> None:
    given_stock(ctx, A=1)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 3)), actor="api:alice")
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(AuditEvent.actor, AuditEvent.action, AuditEvent.before, AuditEvent.after)
            .where(AuditEvent.actor == "api:alice")
            .order_by(AuditEvent.id)
        ).all()
        assoc_id = conn.scalar(select(Association.id))
        po_line_id = conn.scalar(select(PoLine.id))
    assert [(r.action, r.before) for r in rows] == [
        ("stock.assign", {"assigned": 0}),
        ("association.create", None),
    ]
    assert rows[0].after["assigned"] == 1
    assert rows[1].after["po_line_id"] == po_line_id
    assert assoc_id is not None
