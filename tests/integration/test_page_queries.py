"""The queries behind the pages: the dashboard's figures, a worklist page with its
candidates, paged sales orders, linking several lines by hand, the outbox a page at a
time, and the orders a template is previewed against."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from bopo.domain.records import SalesLineRef
from bopo.services.context import Context
from bopo.services.email import outbox, templates
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from bopo.services.supply import changes
from bopo.services.supply.goods_in import receive
from bopo.services.worklist import backorders, dashboard, manual_links
from bopo.services.worklist.manual_links import LinkRequest
from tests.helpers import (
    TODAY,
    day,
    given_po,
    given_status,
    given_stock,
    given_template,
    line_of,
    order,
)


def _at_noon(ctx: Context) -> Context:
    ctx.clock = lambda: datetime.combine(TODAY, time(12), tzinfo=UTC)
    return ctx


def test_the_dashboard_counts_open_supply_the_worklist_and_todays_goods_in(ctx: Context) -> None:
    _at_noon(ctx)
    given_stock(ctx, A=0, B=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 10, day(-2), "ON ORDER"), ("B", 1, day(5), "ON ORDER"))
    given_po(ctx, "PO-2", ("A", 3, day(4), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 4)), actor="t")
    take_order(ctx, order("SO-2", ("B", 3)), actor="t")
    receive(ctx, "PO-2", 1, 3, actor="t")  # PO-2 is fully delivered

    o = dashboard.overview(ctx)

    assert (o.open_purchase_orders, o.open_po_lines, o.overdue_po_lines) == (1, 2, 1)
    assert o.worklist == {"not enough outstanding on order": 1}
    assert o.open_sales_orders == 2
    assert (o.receipts_today, o.units_today) == (1, 3)
    assert [r.po_number for r in o.recent_receipts] == ["PO-2"]
    assert o.allocation_on


def test_a_worklist_page_is_in_delivery_order_with_the_total_and_each_lines_candidates(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0)
    given_po(ctx, "PO-9", ("A", 5, day(6)))  # no status: intake passes it by
    for n, delivery in ((1, 9), (2, 3), (3, 6)):
        take_order(ctx, order(f"SO-{n}", ("A", n), delivery=day(delivery)), actor="t")

    first = manual_links.find_candidates(ctx, limit=2)
    second = manual_links.find_candidates(ctx, limit=2, offset=2)

    assert first.total == 3
    assert [c.line.number for c in first.items + second.items] == ["SO-2", "SO-3", "SO-1"]
    assert [[(x.po_number, x.free_on_order) for x in c.candidates] for c in first.items] == [
        [("PO-9", 5)],
        [("PO-9", 5)],
    ]
    assert backorders.find_backorders(ctx, delivery_to=day(6)).total == 2
    assert backorders.find_backorders(ctx, source="shop").total == 0


def test_a_late_supply_line_comes_with_its_po_line_and_is_offered_only_others(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_po(ctx, "PO-1", ("A", 5, day(2), "ON ORDER"), ("A", 5, day(3), "ON ORDER"))
    take_order(ctx, order("SO-1", ("A", 2), delivery=day(4)), actor="t")
    changes.change_due_date(ctx, "PO-1", 1, day(10), actor="t")

    (late,) = manual_links.find_candidates(ctx).items

    assert (late.line.reason, late.line.po_number, late.line.po_line_no) == (
        "late supply",
        "PO-1",
        1,
    )
    assert late.line.expected == day(10)
    assert [(c.po_number, c.line_no) for c in late.candidates] == [("PO-1", 2)]


def test_sales_orders_are_paged_newest_first_and_filtered_by_the_worklist(ctx: Context) -> None:
    given_stock(ctx, A=10, B=0)
    for n in range(1, 6):
        take_order(ctx, order(f"SO-{n}", ("A" if n % 2 else "B", 1)), actor="t")

    page = sales.find_sales_orders(ctx, limit=2, offset=2)
    waiting = sales.find_sales_orders(ctx, waiting=True)
    served = sales.find_sales_orders(ctx, waiting=False)

    assert (page.total, [s.number for s in page.items]) == (5, ["SO-3", "SO-2"])
    assert [(s.number, s.lines, s.waiting_lines) for s in waiting.items] == [
        ("SO-4", 1, 1),
        ("SO-2", 1, 1),
    ]
    assert [s.number for s in served.items] == ["SO-5", "SO-3", "SO-1"]
    assert sales.find_sales_orders(ctx, sku="B", customer="C1").total == 2
    assert sales.find_sales_orders(ctx, customer="NOBODY").total == 0


def test_linking_several_lines_links_each_that_fits_and_says_why_not_the_others(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0)
    given_po(ctx, "PO-9", ("A", 3, day(6)))
    for n in (1, 2):
        take_order(ctx, order(f"SO-{n}", ("A", 2)), actor="t")

    batch = manual_links.link_lines(
        ctx,
        [
            LinkRequest(SalesLineRef("web", "SO-1", 1), "PO-9", 1),
            LinkRequest(SalesLineRef("web", "SO-2", 1), "PO-9", 1),
            LinkRequest(SalesLineRef("web", "SO-404", 1), "PO-9", 1),
        ],
        actor="t",
    )

    assert [r.line.number for r in batch.linked] == ["SO-1"]
    assert [(ref.number, why) for ref, why in batch.refused] == [
        ("SO-2", "PO-9 line 1 has 1 free on order; web/SO-2 line 1 needs 2"),
        ("SO-404", "sales order 'web/SO-404' not found"),
    ]
    assert line_of(ctx, "SO-2").linked_qty == 0


def _emails_for_five_orders(ctx: Context) -> None:
    """SO-1..SO-5 each linked under a templated status; SO-2's email is then cancelled."""
    given_stock(ctx, A=0)
    given_status(ctx, "ON ORDER")
    given_template(ctx, "Back order", statuses=("ON ORDER",))
    given_po(ctx, "PO-1", ("A", 50, day(5), "ON ORDER"))
    for n in range(1, 6):
        take_order(ctx, order(f"SO-{n}", ("A", 1), customer=f"C{n}"), actor="t")
    outbox.cancel_email(ctx, 2, actor="t")


def test_the_outbox_is_paged_oldest_first_with_each_emails_order_and_template(
    ctx: Context,
) -> None:
    _emails_for_five_orders(ctx)

    page = outbox.find_emails(ctx, state="pending", limit=2, offset=1)
    everything = outbox.find_emails(ctx, limit=10)

    assert page.total == 4
    assert [(e.id, e.sales_order, e.template) for e in page.items] == [
        (3, "web/SO-3", "Back order"),
        (4, "web/SO-4", "Back order"),
    ]
    assert [e.state for e in everything.items] == ["pending", "cancelled", *["pending"] * 3]
    assert outbox.find_emails(ctx, state="pending", offset=4).items == []
    so5 = sales.show_sales_order(ctx, "SO-5").id
    assert [e.id for e in outbox.find_emails(ctx, sales_order_id=so5).items] == [5]


def test_templates_are_previewed_against_the_orders_linked_last_and_found_by_id(
    ctx: Context,
) -> None:
    _emails_for_five_orders(ctx)
    changes.cancel_po_line(ctx, "PO-1", 1, actor="t")  # every link released
    given_po(ctx, "PO-2", ("A", 50, day(9), "ON ORDER"))
    take_order(ctx, order("SO-6", ("A", 1), customer="C6"), actor="t")
    take_order(ctx, order("SO-7", ("A", 1), customer="C7"), actor="t")

    choices = templates.preview_orders(ctx, limit=5)

    assert [(c.number, c.customer_name) for c in choices] == [
        ("SO-7", "Customer C7"),
        ("SO-6", "Customer C6"),
    ]
    made = templates.get_template(ctx, "Back order")
    assert templates.get_template_by_id(ctx, made.id) == made


def test_the_dashboard_charts_how_long_lines_have_waited_and_what_is_due_each_week(
    ctx: Context,
) -> None:
    given_stock(ctx, A=0, B=0)
    noon = datetime.combine(TODAY, time(12), tzinfo=UTC)
    for number, qty, waited in (("SO-1", 2, timedelta(days=20)), ("SO-2", 1, timedelta(days=5))):
        ctx.clock = lambda at=noon - waited: at  # type: ignore[misc]
        take_order(ctx, order(number, ("A", qty)), actor="t")  # nothing on order for A
    ctx.clock = lambda: noon - timedelta(hours=2)
    take_order(ctx, order("SO-3", ("A", 3)), actor="t")
    # TODAY is a Wednesday: day(1) is this week, day(5) the Monday after.
    given_po(ctx, "PO-1", ("B", 4, day(-2)), ("B", 5, day(1)), ("B", 6, day(5)))
    given_po(ctx, "PO-2", ("B", 7, day(60)), ("B", 8, None))
    _at_noon(ctx)

    o = dashboard.overview(ctx)

    assert [(b.label, b.lines, b.units) for b in o.ageing] == [
        ("under a day", 1, 3),
        ("1-2 days", 0, 0),
        ("3-6 days", 1, 1),
        ("1-2 weeks", 0, 0),
        ("2-4 weeks", 1, 2),
        ("4 weeks or more", 0, 0),
    ]
    assert [(b.label, b.units) for b in o.supply_due] == [
        ("overdue", 4),
        ("this week", 5),
        ("w/c 30 Nov", 6),
        ("w/c 7 Dec", 0),
        ("w/c 14 Dec", 0),
        ("w/c 21 Dec", 0),
        ("w/c 28 Dec", 0),
        ("later", 7),
        ("no date", 8),
    ]
