"""Supply changes, told as stories: the supplier sends less, later, or nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from bopo.db.models import AuditEvent
from bopo.errors import Conflict, InvalidInput
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply import status_change
from bopo.services.supply.changes import (
    cancel_po_line,
    cancel_purchase_order,
    change_due_date,
    change_po_line_qty,
    close_po_line_short,
)
from bopo.services.supply.goods_in import receive
from bopo.services.supply.po_line_update import change_po_line, update_po_line
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    line_of,
    order,
    po_line_of,
    worklist,
)


def three_orders_on_po1(ctx: Context) -> None:
    """PO-1: 10 of A due day 10, linked to SO-D3 (3, ships day 3), SO-D6 (3), SO-D9 (3)."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(10), "ON ORDER"))
    for n in (9, 3, 6):
        take_order(ctx, order(f"SO-D{n}", ("A", 3), delivery=day(n)), actor="test")
    assert po_line_of(ctx, "PO-1").associated == 9


def test_a_reduced_po_line_releases_the_latest_due_order_to_the_worklist(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    result = change_po_line_qty(ctx, "PO-1", 1, 7, actor="buyer")

    assert [(r.line.number, r.qty) for r in result.log.released] == [("SO-D9", 3)]
    assert [(o.line.number, o.reason) for o in result.log.offered] == [
        ("SO-D9", "not enough outstanding on order")
    ]
    assert worklist(ctx) == {"SO-D9:1": "not enough outstanding on order"}
    assert [s.number for s in po_line_of(ctx, "PO-1").linked] == ["SO-D3", "SO-D6"]
    assert (result.lines[0].before["ordered"], result.lines[0].after["ordered"]) == (10, 7)


def test_a_released_order_is_linked_to_another_po_line_that_covers_it(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    given_po(ctx, "PO-2", ("A", 5, day(20), "ON ORDER"))
    change_po_line_qty(ctx, "PO-1", 1, 6, actor="buyer")

    moved = line_of(ctx, "SO-D9")
    assert (moved.po_number, moved.expected) == ("PO-2", day(20))
    assert worklist(ctx) == {}


def test_cancelling_a_purchase_order_reallocates_its_orders_to_another_po(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    given_po(ctx, "PO-2", ("A", 7, day(14), "ON ORDER"))
    result = cancel_purchase_order(ctx, "PO-1", actor="buyer")

    assert [r.line.number for r in result.log.released] == ["SO-D9", "SO-D6", "SO-D3"]
    # Offered again oldest delivery date first: the two soonest fit on PO-2.
    assert [(o.line.number, o.po_number) for o in result.log.offered] == [
        ("SO-D3", "PO-2"),
        ("SO-D6", "PO-2"),
        ("SO-D9", None),
    ]
    assert worklist(ctx) == {"SO-D9:1": "not enough outstanding on order"}
    cancelled = po_line_of(ctx, "PO-1")
    assert (cancelled.cancelled, cancelled.outstanding, cancelled.associated) == (10, 0, 0)
    with pytest.raises(Conflict, match="cancelled already"):
        cancel_purchase_order(ctx, "PO-1", actor="buyer")


def test_a_cancelled_po_line_sends_its_orders_to_the_worklist_when_nothing_else_fits(
    ctx: Context,
) -> None:
    three_orders_on_po1(ctx)
    cancel_po_line(ctx, "PO-1", 1, actor="buyer")
    assert worklist(ctx) == {
        "SO-D3:1": "no open purchase order",
        "SO-D6:1": "no open purchase order",
        "SO-D9:1": "no open purchase order",
    }
    with pytest.raises(Conflict, match="cancelled already"):
        cancel_po_line(ctx, "PO-1", 1, actor="buyer")


def test_closing_a_part_delivered_line_short_releases_what_will_not_come(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    receive(ctx, "PO-1", 1, 4, actor="warehouse")  # SO-D3 served, SO-D6 gets 1 of 3
    with pytest.raises(Conflict, match="close it short"):
        cancel_po_line(ctx, "PO-1", 1, actor="buyer")

    result = close_po_line_short(ctx, "PO-1", 1, actor="buyer")

    assert [(r.line.number, r.qty) for r in result.log.released] == [("SO-D9", 3), ("SO-D6", 2)]
    line = po_line_of(ctx, "PO-1")
    assert (line.delivered, line.cancelled, line.outstanding) == (4, 6, 0)
    d6 = line_of(ctx, "SO-D6")
    assert (d6.from_stock, d6.waiting, d6.skipped) == (1, 2, "no open purchase order")


def test_with_the_switch_off_released_orders_just_wait(make_ctx: Callable[..., Context]) -> None:
    on = make_ctx()
    three_orders_on_po1(on)
    given_po(on, "PO-2", ("A", 5, day(20), "ON ORDER"))
    off = make_ctx(allocate_existing_pos=False)

    result = change_po_line_qty(off, "PO-1", 1, 6, actor="buyer")

    assert result.log.offered == []
    assert worklist(off) == {"SO-D9:1": "released"}
    assert po_line_of(off, "PO-2").associated == 0


def test_a_larger_po_line_takes_waiting_orders_oldest_delivery_first(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    take_order(ctx, order("SO-D8", ("A", 2), delivery=day(8)), actor="test")
    take_order(ctx, order("SO-D1", ("A", 2), delivery=day(1)), actor="test")
    assert set(worklist(ctx)) == {"SO-D1:1", "SO-D8:1"}

    result = change_po_line_qty(ctx, "PO-1", 1, 12, actor="buyer")

    assert [(o.line.number, o.po_number) for o in result.log.offered] == [("SO-D1", "PO-1")]
    assert worklist(ctx) == {"SO-D8:1": "not enough outstanding on order"}


def test_a_po_line_cannot_go_below_what_was_delivered(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    receive(ctx, "PO-1", 1, 5, actor="warehouse")
    with pytest.raises(InvalidInput) as bad:
        change_po_line_qty(ctx, "PO-1", 1, 4, actor="buyer")
    assert bad.value.errors[0].field == "qty"
    assert po_line_of(ctx, "PO-1").ordered == 10


def test_an_undelivered_line_is_cancelled_not_closed_short(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    with pytest.raises(Conflict, match="cancel it instead"):
        close_po_line_short(ctx, "PO-1", 1, actor="buyer")
    assert po_line_of(ctx, "PO-1").associated == 9


def test_a_due_date_change_moves_every_expected_date(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    change_due_date(ctx, "PO-1", 1, day(2), actor="buyer")
    assert {line_of(ctx, f"SO-D{n}").expected for n in (3, 6, 9)} == {day(2)}
    assert worklist(ctx) == {}


def test_supply_moved_past_delivery_dates_puts_those_orders_on_the_worklist_as_late(
    ctx: Context,
) -> None:
    three_orders_on_po1(ctx)
    change_due_date(ctx, "PO-1", 1, day(2), actor="buyer")

    result = change_due_date(ctx, "PO-1", 1, day(7), actor="buyer")

    assert [r.number for r in result.late_supply] == ["SO-D3", "SO-D6"]
    assert worklist(ctx) == {"SO-D3:1": "late supply", "SO-D6:1": "late supply"}
    late = line_of(ctx, "SO-D3")
    assert (late.outcome, late.po_number, late.expected, late.linked_qty) == (
        "linked",
        "PO-1",
        day(7),
        3,
    )
    assert "late supply" in late.describe()

    back = change_due_date(ctx, "PO-1", 1, day(5), actor="buyer")
    assert [r.number for r in back.on_time_again] == ["SO-D6"]
    assert worklist(ctx) == {"SO-D3:1": "late supply"}


def test_a_late_order_is_fulfilled_by_its_delivery_and_leaves_the_worklist(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    change_due_date(ctx, "PO-1", 1, day(12), actor="buyer")
    assert len(worklist(ctx)) == 3
    receive(ctx, "PO-1", 1, 10, actor="warehouse")
    assert worklist(ctx) == {}


def test_each_supply_change_is_audited_with_who_made_it(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    change_po_line_qty(ctx, "PO-1", 1, 7, actor="buyer")
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(AuditEvent.action, AuditEvent.actor).where(AuditEvent.actor == "buyer")
        ).all()
    assert sorted({r.action for r in rows}) == [
        "association.release",
        "po_line.qty",
        "so_line.release",
    ]


def test_a_quantity_and_a_due_date_change_together_or_not_at_all(ctx: Context) -> None:
    three_orders_on_po1(ctx)
    result = change_po_line(ctx, "PO-1", 1, qty=7, due_date=day(8), actor="buyer")
    assert [r.line.number for r in result.log.released] == ["SO-D9"]
    assert [r.number for r in result.late_supply] == ["SO-D3", "SO-D6"]
    assert (po_line_of(ctx, "PO-1").ordered, po_line_of(ctx, "PO-1").due_date) == (7, day(8))

    receive(ctx, "PO-1", 1, 2, actor="goods-in")
    with pytest.raises(Conflict, match="nothing outstanding"):  # the date cannot move then
        change_po_line(ctx, "PO-1", 1, qty=2, due_date=None, actor="buyer")
    assert (po_line_of(ctx, "PO-1").ordered, po_line_of(ctx, "PO-1").due_date) == (7, day(8))
    with pytest.raises(InvalidInput, match="qty"):
        change_po_line(ctx, "PO-1", 1, actor="buyer")


def test_a_quantity_and_a_status_change_are_one_transaction(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One request that cuts a PO line and gives it a status: if the status step fails,
    the cut is not left done either."""
    three_orders_on_po1(ctx)
    given_status(ctx, "DELAYED")

    def fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(status_change, "set_po_line_status_in", fails)
    with pytest.raises(RuntimeError):
        update_po_line(ctx, "PO-1", 1, qty=7, status="DELAYED", actor="buyer")
    assert po_line_of(ctx, "PO-1").ordered == 10
    assert worklist(ctx) == {}
    monkeypatch.undo()
    done = update_po_line(ctx, "PO-1", 1, qty=7, status="DELAYED", actor="buyer")
    assert done.supply is not None
    assert [r.line.number for r in done.supply.log.released] == ["SO-D9"]
    assert (po_line_of(ctx, "PO-1").ordered, po_line_of(ctx, "PO-1").status) == (7, "DELAYED")
