"""A week of supply: pans on order, a short shipment, a late one, and the delivery.

Told in order, as the buyer and goods-in see it: orders wait for pans until the buyer
orders some and retries the worklist; the supplier cuts a line and the customer it no
longer covers is moved to the next purchase order; a due date slips past a customer's
delivery date; the pans arrive and go to the linked orders before anyone else.
"""

from __future__ import annotations

from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply.changes import change_due_date, change_po_line_qty
from bopo.services.supply.goods_in import receive
from bopo.services.worklist.backorders import allocate_worklist, list_backorders
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


def test_a_week_of_pans_on_order(ctx: Context) -> None:  # long: one story, read top to bottom
    # No pans on the shelf and none on order yet.
    given_stock(ctx, PAN=0)
    given_status(ctx, "ON ORDER")
    assert stock_of(ctx, "PAN") == (0, 0)  # on hand, assigned

    # --- Three customers order pans -----------------------------------------------------------
    # Ada ships in a week, Bob in ten days, Cy in a fortnight.
    take_order(ctx, order("SO-ADA", ("PAN", 4), delivery=day(7), customer="ADA"), actor="web")
    take_order(ctx, order("SO-BOB", ("PAN", 3), delivery=day(10), customer="BOB"), actor="web")
    take_order(ctx, order("SO-CY", ("PAN", 2), delivery=day(14), customer="CY"), actor="web")
    assert worklist(ctx) == {
        "SO-ADA:1": "no open purchase order",
        "SO-BOB:1": "no open purchase order",
        "SO-CY:1": "no open purchase order",
    }

    # --- The buyer orders pans from two suppliers ---------------------------------------------
    # 8 due in five days, 5 more due in twelve.
    given_po(ctx, "PO-200", ("PAN", 8, day(5), "ON ORDER"), supplier="PANS-LTD")
    given_po(ctx, "PO-201", ("PAN", 5, day(12), "ON ORDER"), supplier="IRONWORKS")
    # A new purchase order links nothing by itself: the worklist waits for its retry.
    assert len(list_backorders(ctx)) == 3

    # --- The buyer retries the worklist: each line finds the earliest pans it fits ------------
    retry = allocate_worklist(ctx, actor="buyer")
    assert (retry.lines, retry.linked, dict(retry.still_waiting)) == (3, 3, {})
    assert worklist(ctx) == {}
    # Ada's 4 and Bob's 3 fit in PO-200's 8; Cy's 2 do not fit in the 1 left, so PO-201.
    assert [(s.number, s.qty) for s in po_line_of(ctx, "PO-200").linked] == [
        ("SO-ADA", 4),
        ("SO-BOB", 3),
    ]
    assert po_line_of(ctx, "PO-200").free_on_order == 1
    assert line_of(ctx, "SO-CY").describe() == (
        f"2 linked to PO-201 line 1 (expected {day(12).isoformat()})"
    )

    # --- PANS-LTD writes: they can only send 5 of the 8 ---------------------------------------
    cut = change_po_line_qty(ctx, "PO-200", 1, 5, actor="buyer")
    assert (cut.lines[0].before["ordered"], cut.lines[0].after["ordered"]) == (8, 5)
    # 7 linked no longer fit in 5: the order shipping last, Bob's, lets go of its link...
    assert [(r.line.number, r.qty, r.po_number) for r in cut.log.released] == [
        ("SO-BOB", 3, "PO-200")
    ]
    # ...and is offered again at once: PO-201 has 3 free, just enough.
    assert [(o.line.number, o.po_number, o.expected) for o in cut.log.offered] == [
        ("SO-BOB", "PO-201", day(12))
    ]
    assert line_of(ctx, "SO-BOB").describe() == (
        f"3 linked to PO-201 line 1 (expected {day(12).isoformat()})"
    )
    assert [s.number for s in po_line_of(ctx, "PO-200").linked] == ["SO-ADA"]
    assert po_line_of(ctx, "PO-201").free_on_order == 0
    assert worklist(ctx) == {}

    # --- PANS-LTD's pans will come two days after Ada's delivery date -------------------------
    moved = change_due_date(ctx, "PO-200", 1, day(9), actor="buyer")
    assert [(r.number, r.line_no) for r in moved.late_supply] == [("SO-ADA", 1)]
    # Ada keeps her link, with the new date, and is on the worklist for a person to see.
    ada = line_of(ctx, "SO-ADA")
    assert (ada.po_number, ada.linked_qty, ada.expected) == ("PO-200", 4, day(9))
    assert worklist(ctx) == {"SO-ADA:1": "late supply"}
    [late] = list_backorders(ctx)
    assert (late.po_number, late.expected, late.delivery_date) == ("PO-200", day(9), day(7))

    # --- A new order for 2 pans, to ship the day after tomorrow -------------------------------
    # Nothing on order has 2 free, so Dee waits, though she ships before Ada.
    take_order(ctx, order("SO-DEE", ("PAN", 2), delivery=day(2), customer="DEE"), actor="web")
    assert worklist(ctx)["SO-DEE:1"] == "not enough outstanding on order"

    # --- The lorry is in: goods in receives PANS-LTD's 5 pans ---------------------------------
    got = receive(ctx, "PO-200", 1, 5, actor="goods-in")
    # Ada's linked order is served first, then the worklist: Dee gets the one left.
    assert [(r.number, r.qty, r.kind) for r in got.lines] == [
        ("SO-ADA", 4, "linked"),
        ("SO-DEE", 1, "backorder"),
    ]
    assert got.to_stock == 0
    assert stock_of(ctx, "PAN") == (5, 5)  # on hand, assigned
    assert line_of(ctx, "SO-ADA").describe() == "4 from stock"
    assert (
        line_of(ctx, "SO-DEE").describe()
        == "1 from stock, 1 waiting: not enough outstanding on order"
    )
    pans = po_line_of(ctx, "PO-200")
    assert (pans.delivered, pans.outstanding, pans.associated) == (5, 0, 0)
    # Ada is off the worklist; Dee still waits for one pan.
    assert worklist(ctx) == {"SO-DEE:1": "not enough outstanding on order"}
