"""The backorder worklist through a day: what waits and why, and a person's hand on it.

Told in order, as the order desk sees the worklist page: each line with its reason and
the purchase-order lines that could take it; a link made by hand and one refused; a link
taken back so a customer who ships sooner gets the goods; and the retry once stock is
counted and more is on order.
"""

from __future__ import annotations

import pytest

from bopo.errors import Conflict
from bopo.services.common.inputs import NewStockItem
from bopo.services.context import Context
from bopo.services.orders.intake import take_order
from bopo.services.supply.catalog import upsert_stock_items
from bopo.services.supply.purchasing import show_purchase_order
from bopo.services.worklist.backorders import allocate_worklist, list_backorders
from bopo.services.worklist.manual_links import link_line, list_candidates, unlink_line
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


def test_a_day_on_the_worklist(ctx: Context) -> None:  # long: one story, read top to bottom
    # Nothing on the shelves. PO-300 brings 6 pans (ON ORDER) and 10 lids, a line the
    # supplier has not confirmed yet: it has no status.
    given_stock(ctx, PAN=0, LID=0, MUG=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-300", ("PAN", 6, day(6), "ON ORDER"), ("LID", 10, day(4)))
    assert [(p.sku, p.ordered, p.status) for p in show_purchase_order(ctx, "PO-300").lines] == [
        ("PAN", 6, "ON ORDER"),
        ("LID", 10, None),
    ]

    # --- Orders come in -----------------------------------------------------------------------
    # Dee's 5 pans (shipping in 9 days) come first and take PO-300's pans; Ada's 5 pans
    # (shipping in 3 days) no longer fit; Bob's lids and Cy's mug find nothing to link.
    taken = [
        take_order(ctx, order("SO-DEE", ("PAN", 5), delivery=day(9), customer="DEE"), actor="web"),
        take_order(ctx, order("SO-ADA", ("PAN", 5), delivery=day(3), customer="ADA"), actor="web"),
        take_order(ctx, order("SO-BOB", ("LID", 2), delivery=day(5), customer="BOB"), actor="web"),
        take_order(ctx, order("SO-CY", ("MUG", 1), delivery=day(8), customer="CY"), actor="web"),
    ]
    assert [t.lines[0].outcome for t in taken] == ["linked", "skipped", "skipped", "skipped"]

    # --- The worklist: what waits, how many, for whom and why; soonest delivery first ---------
    assert [
        (b.number, b.sku, b.waiting, b.customer_name, b.delivery_date, b.reason)
        for b in list_backorders(ctx)
    ] == [
        ("SO-ADA", "PAN", 5, "Customer ADA", day(3), "not enough outstanding on order"),
        ("SO-BOB", "LID", 2, "Customer BOB", day(5), "purchase order line has no status"),
        ("SO-CY", "MUG", 1, "Customer CY", day(8), "no open purchase order"),
    ]
    # Dee's pans are linked and not on the worklist.
    assert line_of(ctx, "SO-DEE").describe() == (
        f"5 linked to PO-300 line 1 (expected {day(6).isoformat()})"
    )

    # --- Beside each line, the PO lines that could take all of it -----------------------------
    offered = {
        c.line.number: [(p.po_number, p.line_no, p.free_on_order) for p in c.candidates]
        for c in list_candidates(ctx)
    }
    assert offered == {"SO-ADA": [], "SO-BOB": [("PO-300", 2, 10)], "SO-CY": []}

    # --- Ann tries to put Ada's pans on PO-300 by hand: refused, and told why -----------------
    with pytest.raises(Conflict) as refused:
        link_line(ctx, "SO-ADA", 1, "PO-300", 1, actor="ann")
    assert str(refused.value) == "PO-300 line 1 has 1 free on order; web/SO-ADA line 1 needs 5"
    assert worklist(ctx)["SO-ADA:1"] == "not enough outstanding on order"

    # --- The supplier confirms the lids on the phone: Ann links Bob's by hand -----------------
    linked = link_line(ctx, "SO-BOB", 1, "PO-300", 2, actor="ann")
    assert (linked.po_number, linked.po_line_no, linked.qty, linked.expected) == (
        "PO-300",
        2,
        2,
        day(4),
    )
    assert line_of(ctx, "SO-BOB").describe() == (
        f"2 linked to PO-300 line 2 (expected {day(4).isoformat()})"
    )
    assert po_line_of(ctx, "PO-300", 2).associated == 2
    assert "SO-BOB:1" not in worklist(ctx)

    # --- Ada ships before Dee: Ann takes Dee's pans off PO-300 --------------------------------
    # The pans set free go at once to the waiting line that ships soonest: Ada's.
    unlinked = unlink_line(ctx, "SO-DEE", 1, actor="ann")
    assert (unlinked.released.po_number, unlinked.released.qty) == ("PO-300", 5)
    assert [(o.line.number, o.po_number, o.linked_qty) for o in unlinked.log.offered] == [
        ("SO-ADA", "PO-300", 5)
    ]
    assert line_of(ctx, "SO-ADA").describe() == (
        f"5 linked to PO-300 line 1 (expected {day(6).isoformat()})"
    )
    assert worklist(ctx) == {"SO-DEE:1": "released", "SO-CY:1": "no open purchase order"}

    # --- Later: a mug is found in the stock count, the buyer orders more pans -----------------
    upsert_stock_items(ctx, [NewStockItem(sku="MUG", name="Item MUG", on_hand=1)], actor="ann")
    given_po(ctx, "PO-301", ("PAN", 5, day(15), "ON ORDER"))

    # --- Ann retries the worklist: Cy's mug from the shelf, Dee's pans on PO-301 --------------
    retry = allocate_worklist(ctx, actor="ann")
    assert (retry.lines, retry.from_stock, retry.units_from_stock, retry.linked) == (2, 1, 1, 1)
    assert dict(retry.still_waiting) == {}
    assert line_of(ctx, "SO-CY").describe() == "1 from stock"
    assert line_of(ctx, "SO-DEE").describe() == (
        f"5 linked to PO-301 line 1 (expected {day(15).isoformat()})"
    )
    # Nothing waits any more.
    assert list_backorders(ctx) == []
