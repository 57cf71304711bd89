"""A day at the shop: the web shop's order file comes in.

Told in order, as the order desk sees it: what each line got (stock, a purchase order,
or the worklist), the back-order email waiting for the customer, and what happens when
the web shop sends the same file again, and then once more with an order changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bopo.services.context import Context
from bopo.services.email import outbox
from bopo.services.files.imports import import_sales_orders
from bopo.services.supply.catalog import list_statuses
from bopo.services.worklist.backorders import list_backorders
from tests.clock import TODAY
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    given_template,
    line_of,
    po_line_of,
    stock_of,
    worklist,
)

HEADER = (
    "source,order_number,customer_code,customer_name,customer_email,order_date,"
    "delivery_date,line_no,sku,qty\n"
)


def rows(number: str, customer: str, *lines: tuple[str, int]) -> str:
    """The web shop's rows of one order, shipping in a week."""
    head = f"web,{number},{customer.upper()},{customer},{customer.lower()}@example.com"
    dates = f"{TODAY.isoformat()},{day(7).isoformat()}"
    return "".join(f"{head},{dates},{n},{sku},{qty}\n" for n, (sku, qty) in enumerate(lines, 1))


def test_a_morning_of_orders_from_the_web_shop(
    make_ctx: Callable[..., Context], tmp_path: Path
) -> None:  # long: one story, read top to bottom
    # A PO line without a status is given ON ORDER when an order is linked to it, and
    # ON ORDER sends the customer the "Back order" email.
    shop = make_ctx(default_po_line_status="ON ORDER")
    given_status(shop, "ON ORDER")
    given_template(shop, "Back order", statuses=("ON ORDER",))
    assert [(s.code, s.template) for s in list_statuses(shop)] == [("ON ORDER", "Back order")]

    # On the shelves: 10 kettles, no pans, no mugs.
    given_stock(shop, KETTLE=10, PAN=0, MUG=0)
    assert [stock_of(shop, sku) for sku in ("KETTLE", "PAN", "MUG")] == [(10, 0), (0, 0), (0, 0)]

    # The buyer ordered 10 pans, due in five days; the supplier has not confirmed yet.
    given_po(shop, "PO-100", ("PAN", 10, day(5)), supplier="PANS-LTD")
    assert po_line_of(shop, "PO-100").status is None

    # --- The web shop's overnight file arrives ------------------------------------------------
    # Ada wants 2 kettles and 3 pans; Bob 4 kettles, a mug and 8 pans.
    orders = tmp_path / "web-orders.csv"
    orders.write_text(
        HEADER
        + rows("W-1", "Ada", ("KETTLE", 2), ("PAN", 3))
        + rows("W-2", "Bob", ("KETTLE", 4), ("MUG", 1), ("PAN", 8))
    )
    summary = import_sales_orders(shop, orders, actor="import:web")

    # Both orders are in: kettles from the shelf, Ada's pans on the purchase order,
    # Bob's mug and pans wait.
    assert summary.ok
    assert (summary.orders_taken, summary.lines_from_stock, summary.lines_linked) == (2, 2, 1)
    assert dict(summary.lines_skipped) == {
        "no open purchase order": 1,
        "not enough outstanding on order": 1,
    }

    # --- The kettles are set aside from stock -------------------------------------------------
    assert stock_of(shop, "KETTLE") == (10, 6)  # on hand, assigned
    assert line_of(shop, "W-1", 1).describe() == "2 from stock"
    assert line_of(shop, "W-2", 1).describe() == "4 from stock"

    # --- Ada's pans are linked to the pans on order -------------------------------------------
    assert line_of(shop, "W-1", 2).describe() == (
        f"3 linked to PO-100 line 1 (expected {day(5).isoformat()})"
    )
    pans = po_line_of(shop, "PO-100")
    assert pans.status == "ON ORDER"  # given when Ada's line was linked
    assert (pans.outstanding, pans.associated, pans.free_on_order) == (10, 3, 7)
    assert [(s.number, s.qty) for s in pans.linked] == [("W-1", 3)]

    # --- Ada has a back-order email waiting; Bob, with nothing linked, has none ---------------
    [email] = outbox.list_emails(shop)
    assert (email.state, email.to_address, email.sales_order) == (
        "pending",
        "ada@example.com",
        "web/W-1",
    )
    assert email.subject == "Your order W-1: expected dates"
    text = outbox.show_email(shop, email.id).body_text
    assert "Dear Ada," in text
    assert "3 x Item PAN (PAN), expected 30 November 2026" in text
    assert "KETTLE" not in text  # on the shelf: nothing to announce

    # --- What no purchase order covers waits on the worklist, with why ------------------------
    # Bob's 8 pans do not fit in the 7 still free on PO-100: a line is never split.
    assert worklist(shop) == {
        "W-2:2": "no open purchase order",
        "W-2:3": "not enough outstanding on order",
    }
    assert [(b.sku, b.waiting, b.customer_name) for b in list_backorders(shop)] == [
        ("MUG", 1, "Bob"),
        ("PAN", 8, "Bob"),
    ]

    # --- The web shop sends the same file again: nothing changes ------------------------------
    again = import_sales_orders(shop, orders, actor="import:web")
    assert again.ok
    assert (again.orders_taken, again.orders_duplicate) == (0, 2)
    assert stock_of(shop, "KETTLE") == (10, 6)
    assert po_line_of(shop, "PO-100").associated == 3
    assert len(outbox.list_emails(shop)) == 1
    assert set(worklist(shop)) == {"W-2:2", "W-2:3"}

    # --- Bob's order comes again with 2 mugs: reported, not taken -----------------------------
    changed = tmp_path / "web-orders-2.csv"
    changed.write_text(HEADER + rows("W-2", "Bob", ("KETTLE", 4), ("MUG", 2), ("PAN", 8)))
    resend = import_sales_orders(shop, changed, actor="import:web")
    assert not resend.ok
    assert (resend.orders_taken, resend.orders_changed) == (0, 1)
    assert resend.exit_code == 5  # the CLI's "conflict with what is stored"
    [report] = resend.changed
    assert str(report) == (
        "row 2, order W-2: taken before with other content; nothing changed: line 2 qty: 1 → 2"
    )
    # Bob's order stands as it was taken: one mug, still waiting.
    assert (line_of(shop, "W-2", 2).qty, line_of(shop, "W-2", 2).waiting) == (1, 1)
    assert stock_of(shop, "KETTLE") == (10, 6)
