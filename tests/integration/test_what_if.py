"""What happens if this shipment is late? What-if answers, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from bopo.errors import Conflict
from bopo.services.common.serial import to_json
from bopo.services.context import Context
from bopo.services.email import outbox, templates
from bopo.services.orders.intake import take_orders
from bopo.services.promise.what_if import (
    what_if_cancel,
    what_if_due_date,
    what_if_po_line_qty,
    what_if_receipt,
    what_if_switch_on,
)
from bopo.services.supply.changes import cancel_purchase_order, change_due_date
from tests.clock import T0, TODAY
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    given_template,
    order,
    po_line_of,
)


def refs(items: list) -> list[str]:  # type: ignore[type-arg]
    return [x.line.number for x in items]


def two_orders_on_po1(ctx: Context) -> None:
    """PO-1: 10 of A due 29 Nov, for SO-D5 (3, ships 30 Nov) and SO-D9 (4, ships 4 Dec).
    PO-2: 5 of A due 10 Dec."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 10, day(4), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 5, day(15), "ON ORDER"))
    take_orders(
        ctx,
        [
            order("SO-D5", ("A", 3), delivery=day(5), customer="ADA"),
            order("SO-D9", ("A", 4), delivery=day(9), customer="BOB"),
        ],
        actor="web",
    )


def test_what_if_a_shipment_is_a_week_late(ctx: Context) -> None:
    two_orders_on_po1(ctx)
    templates.add_template(
        ctx, "Delay", "New date", "{{ table(lines) }}", kind="BACK_ORDER_UPDATE", actor="t"
    )
    emails_before = len(outbox.list_emails(ctx))

    answer = what_if_due_date(ctx, "PO-1", 1, day(7))

    assert [(x.line.number, x.expected) for x in answer.late] == [("SO-D5", day(7))]
    # The back-order emails not sent yet give the old date: each is superseded by one
    # giving the new date; and each customer gets the delay notice.
    assert sorted((e.number, e.to, e.template, e.action) for e in answer.emails) == [
        ("SO-D5", "ada@example.com", "Back order", "queued"),
        ("SO-D5", "ada@example.com", "Back order", "superseded"),
        ("SO-D5", "ada@example.com", "Delay", "queued"),
        ("SO-D9", "bob@example.com", "Back order", "queued"),
        ("SO-D9", "bob@example.com", "Back order", "superseded"),
        ("SO-D9", "bob@example.com", "Delay", "queued"),
    ]
    assert (answer.relinked, answer.to_worklist) == ([], [])
    # and nothing was changed
    assert po_line_of(ctx, "PO-1").due_date == day(4)
    assert len(outbox.list_emails(ctx)) == emails_before


def test_what_if_a_po_is_cancelled(ctx: Context) -> None:
    two_orders_on_po1(ctx)
    answer = what_if_cancel(ctx, "PO-1")

    [moved] = answer.relinked
    assert (moved.line.number, [p.po_number for p in moved.before]) == ("SO-D5", ["PO-1"])
    assert [(p.po_number, p.qty, p.expected) for p in moved.after] == [("PO-2", 3, day(15))]
    assert [(w.line.number, w.reason) for w in answer.to_worklist] == [
        ("SO-D9", "not enough outstanding on order")
    ]
    assert refs(answer.late) == ["SO-D5"]  # PO-2 comes after it should ship
    # Both unsent emails named PO-1: SO-D5's gives way to one naming PO-2, SO-D9's to none.
    assert sorted((e.number, e.event, e.action) for e in answer.emails) == [
        ("SO-D5", "intake", "superseded"),
        ("SO-D5", "reallocation", "queued"),
        ("SO-D9", "intake", "superseded"),
    ]
    assert po_line_of(ctx, "PO-1").cancelled == 0


def test_what_if_a_po_line_is_cut(ctx: Context) -> None:
    two_orders_on_po1(ctx)
    answer = what_if_po_line_qty(ctx, "PO-1", 1, 4)
    assert refs(answer.relinked) == ["SO-D9"]
    assert answer.relinked[0].after[0].po_number == "PO-2"
    assert po_line_of(ctx, "PO-1").ordered == 10


def test_what_if_goods_arrive(ctx: Context) -> None:
    two_orders_on_po1(ctx)
    answer = what_if_receipt(ctx, "PO-1", 1, 5)
    assert [(s.line.number, s.qty) for s in answer.served] == [("SO-D5", 3), ("SO-D9", 2)]
    assert po_line_of(ctx, "PO-1").delivered == 0


def test_what_if_the_switch_were_turned_on_over_todays_worklist(
    make_ctx: Callable[..., Context],
) -> None:
    off = make_ctx(allocate_existing_pos=False)
    two_orders_on_po1(off)
    answer = what_if_switch_on(off)
    assert [(r.line.number, r.after[0].po_number) for r in answer.relinked] == [
        ("SO-D5", "PO-1"),
        ("SO-D9", "PO-1"),
    ]
    assert [(e.number, e.event) for e in answer.emails] == [
        ("SO-D5", "worklist"),
        ("SO-D9", "worklist"),
    ]
    assert po_line_of(off, "PO-1").associated == 0


def test_what_if_refuses_what_the_change_would_refuse(ctx: Context) -> None:
    two_orders_on_po1(ctx)
    cancel_purchase_order(ctx, "PO-1", actor="buyer")
    with pytest.raises(Conflict, match="cancelled already"):
        what_if_cancel(ctx, "PO-1")
    with pytest.raises(Conflict):
        what_if_receipt(ctx, "PO-1", 1, 3)


def test_an_answer_with_nothing_in_it_says_so(ctx: Context) -> None:
    two_orders_on_po1(ctx)
    answer = what_if_due_date(ctx, "PO-2", 1, day(16))
    assert answer.nothing
    assert to_json(answer)["change"] == "PO-2 line 1 due 2026-12-11"


def test_what_if_a_late_order_slips_further(ctx: Context) -> None:
    two_orders_on_po1(ctx)
    first = what_if_due_date(ctx, "PO-1", 1, day(7))
    assert [r.number for r in first.late_supply] == ["SO-D5"]  # it goes on the worklist
    change_due_date(ctx, "PO-1", 1, day(7), actor="buyer")

    further = what_if_due_date(ctx, "PO-1", 1, day(8))
    assert [(x.line.number, x.expected) for x in further.late] == [("SO-D5", day(8))]
    assert further.late_supply == []  # on the worklist already
    back = what_if_due_date(ctx, "PO-1", 1, day(5))
    assert refs(back.on_time_again) == ["SO-D5"]


WAITING = 70_000  # more than one statement may carry parameters (65,535 on PostgreSQL)


def _waiting_orders(ctx: Context, count: int) -> None:
    """`count` orders of one line of 1 A each, waiting on the worklist: written set-based,
    as taking them one by one would take minutes."""
    numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)"
    params = {"count": count, "today": TODAY, "delivery": day(7), "now": T0}
    with ctx.db.write() as conn:
        customer = conn.scalar(text("SELECT id FROM customers WHERE code = 'ADA'"))
        item = conn.scalar(text("SELECT id FROM stock_items WHERE sku = 'A'"))
        conn.execute(
            text(
                f"{numbers} INSERT INTO sales_orders (source, number, customer_id, order_date, "
                "delivery_date, status, created_at, created_by, priority) "
                "SELECT 'web', 'SO-W' || i, :customer, :today, :delivery, 'open', :now, 't', 1 "
                "FROM n"
            ).bindparams(customer=customer),
            params,
        )
        conn.execute(
            text(
                "INSERT INTO so_lines (sales_order_id, line_no, stock_item_id, qty, qty_assigned, "
                "qty_shipped, qty_cancelled, backorder_reason, backorder_since) "
                "SELECT id, 1, :item, 1, 0, 0, 0, 'feature off', :now FROM sales_orders "
                "WHERE number LIKE 'SO-W%'"
            ),
            {"item": item, "now": T0},
        )


@pytest.mark.slow
def test_the_switch_on_preview_takes_any_number_of_waiting_lines(
    make_ctx: Callable[..., Context],
) -> None:
    off = make_ctx(allocate_existing_pos=False)
    given_stock(off, A=0)
    given_status(off, "ON ORDER")
    given_template(off, statuses=("ON ORDER",))
    given_po(off, "PO-1", ("A", WAITING + 10, day(4), "ON ORDER"))
    take_orders(off, [order("SO-0", ("A", 1), customer="ADA")], actor="clerk")
    _waiting_orders(off, WAITING)

    answer = what_if_switch_on(off)

    assert len(answer.relinked) == len(answer.emails) == WAITING + 1
    assert {r.after[0].po_number for r in answer.relinked} == {"PO-1"}
    assert po_line_of(off, "PO-1").associated == 0
