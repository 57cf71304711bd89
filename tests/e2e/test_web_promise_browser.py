"""Why, priority and previews by clicking, in Chromium, against bopo served on the test
database."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from bopo.domain.roles import Role
from bopo.services.email import templates
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Site, sign_in_as
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    given_template,
    order,
    po_line_of,
)

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def _shop(site: Site) -> None:
    """PO-1 brings 10 of A on 29 Nov, PO-2 5 on 10 Dec; SO-D5 (ships 30 Nov) and SO-D9
    (ships 4 Dec) are linked to PO-1; SO-BIG's four lines wait or took stock."""
    given_stock(site.ctx, A=0, B=2)
    given_status(site.ctx, "ON ORDER")
    given_template(site.ctx, statuses=("ON ORDER",))
    templates.add_template(
        site.ctx, "Delay", "New date", "{{ table(lines) }}", kind="BACK_ORDER_UPDATE", actor="t"
    )
    given_po(site.ctx, "PO-1", ("A", 10, day(4), "ON ORDER"))
    given_po(site.ctx, "PO-2", ("A", 5, day(15), "ON ORDER"))
    for number, qty, delivery, who in (("SO-D5", 3, 5, "ADA"), ("SO-D9", 4, 9, "BOB")):
        made = order(number, ("A", qty), delivery=day(delivery), customer=who)
        take_order(site.ctx, made, actor="test")
    big = order("SO-BIG", ("A", 6), ("B", 1), ("A", 1), ("B", 1), delivery=day(12))
    take_order(site.ctx, big, actor="test")


def _open_order(page: Any, site: Site, number: str) -> None:
    page.goto(site.url(f"/sales-orders/by-number?number={number}&source=web"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(number)


def test_an_operator_previews_a_due_date_change_sees_an_order_turn_late_then_applies_it(
    make_site: Any, page: Any
) -> None:
    site = make_site()
    _shop(site)
    sign_in_as(page, site, OP)
    page.goto(site.url("/purchase-orders/PO-1"))
    page.get_by_text("Change line 1").click()
    page.get_by_label("Due date of line 1", exact=True).fill(day(7).isoformat())
    page.get_by_role("button", name="Preview the due date change of line 1").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Preview: Move the due date of PO-1 line 1 (A) from Sun 29 Nov to Wed 2 Dec?"
    )
    expect(page.get_by_role("status")).to_have_text(
        "Nothing has changed yet. It would make 1 order line late (or later), put 1 order line "
        "on the worklist as late supply, queue 6 emails and supersede 3 unsent emails."
    )
    late = page.get_by_role("region", name=re.compile("^Late against their delivery date"))
    expect(late.locator("tbody tr")).to_have_count(1)
    expect(late).to_contain_text("web/SO-D5 line 1")
    expect(late).to_contain_text("Wed 2 Dec")
    emails = page.get_by_role("region", name=re.compile("^Emails"))
    expect(emails).to_contain_text("ada@example.com")
    expect(emails).to_contain_text("Delay")
    assert po_line_of(site.ctx, "PO-1").due_date == day(4)  # nothing changed yet

    page.get_by_role("button", name="Change the due date").click()
    expect(page).to_have_url(site.url("/purchase-orders/PO-1"))
    expect(page.get_by_role("status")).to_have_text(
        "PO-1 line 1: due Sun 29 Nov → Wed 2 Dec. "
        "1 order line now late, on the worklist: web/SO-D5 line 1."
    )
    assert po_line_of(site.ctx, "PO-1").due_date == day(7)
    assert page.problems == []


def test_going_back_from_a_preview_changes_nothing(make_site: Any, page: Any) -> None:
    site = make_site()
    _shop(site)
    sign_in_as(page, site, OP)
    page.goto(site.url("/purchase-orders/PO-1"))
    page.get_by_role("button", name="Preview cancelling the whole purchase order").click()
    relinked = page.get_by_role("region", name=re.compile("^Linked or re-linked"))
    expect(relinked).to_contain_text("web/SO-D5 line 1")
    expect(page.get_by_role("region", name=re.compile("^Sent to the worklist"))).to_contain_text(
        "web/SO-D9 line 1"
    )
    page.get_by_role("link", name="Back, change nothing").click()
    expect(page).to_have_url(site.url("/purchase-orders/PO-1"))
    assert po_line_of(site.ctx, "PO-1").cancelled == 0
    assert page.problems == []


def test_the_sales_order_page_says_why_each_line_got_what_it_got(make_site: Any, page: Any) -> None:
    site = make_site()
    _shop(site)
    sign_in_as(page, site, OP)
    _open_order(page, site, "SO-BIG")
    why = page.locator("#why-1")
    expect(why).not_to_have_attribute("open", "")  # four lines: each why starts closed
    expect(why.get_by_text("no PO line had 6 free")).to_be_hidden()

    page.get_by_role("link", name="Why line 1 got this").click()
    expect(why.get_by_text("Not linked, 6 waiting: no PO line had 6 free")).to_be_visible()
    considered = why.get_by_role("table")
    expect(considered.locator("tbody tr")).to_have_count(2)
    expect(considered.locator("tbody tr").nth(0)).to_contain_text("PO-1 line 1 Sun 29 Nov 3 6")
    expect(considered.locator("tbody tr").nth(1)).to_contain_text("PO-2 line 1 Thu 10 Dec 5 6")
    expect(considered).to_contain_text("too little free")

    _open_order(page, site, "SO-D5")  # one line: its why is open
    chosen = page.locator("#why-1 tr.chosen")
    expect(chosen).to_contain_text("PO-1 line 1")
    expect(chosen).to_contain_text("chosen")
    assert page.problems == []


def test_an_operator_makes_an_order_urgent(make_site: Any, page: Any) -> None:
    site = make_site()
    _shop(site)
    sign_in_as(page, site, OP)
    _open_order(page, site, "SO-D9")
    page.get_by_label("Priority", exact=True).select_option("urgent")
    page.get_by_role("button", name="Set priority").click()

    expect(page.get_by_role("status")).to_have_text(
        "web/SO-D9: priority normal → urgent. Nothing moves at once: the next goods in, "
        "re-allocation or worklist retry serves it in its new place."
    )
    expect(page.get_by_role("heading", level=1)).to_contain_text("urgent")
    assert sales.show_sales_order(site.ctx, "SO-D9").priority == "urgent"

    page.goto(site.url("/sales-orders"))
    page.get_by_label("Priority").select_option("urgent")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("SO-D9")
    assert page.problems == []


def test_a_viewer_reads_why_but_sees_no_priority_or_preview_controls(
    make_site: Any, page: Any
) -> None:
    site = make_site()
    _shop(site)
    sign_in_as(page, site, V)
    _open_order(page, site, "SO-D5")
    expect(page.locator("#why-1")).to_contain_text(
        "Linked to PO-1 line 1, due 29 Nov: the earliest due date with 10 free ≥ 3 needed."
    )
    expect(page.get_by_role("button", name="Set priority")).to_have_count(0)
    expect(page.get_by_label("Priority", exact=True)).to_have_count(0)
    page.goto(site.url("/purchase-orders/PO-1"))
    expect(page.get_by_role("button", name=re.compile("^Preview"))).to_have_count(0)
    page.goto(site.url("/goods-in"))
    expect(page.get_by_role("button", name=re.compile("^Preview"))).to_have_count(0)
    assert page.problems == []


def test_previews_and_changed_pages_load_for_each_role_without_console_errors(
    make_site: Any, page: Any
) -> None:
    site = make_site(allocate_existing_pos=False)
    _shop(site)
    for role in Role:
        page.context.clear_cookies()
        sign_in_as(page, site, role)
        for path in ("/sales-orders/3", "/sales-orders?priority=normal", "/worklist"):
            assert page.goto(site.url(path)).status == 200, f"{path} as {role.value}"
        if role is V:
            continue
        page.goto(site.url("/goods-in"))
        page.get_by_label("PO number", exact=True).first.fill("PO-2")
        page.get_by_label("Line").fill("1")
        page.get_by_label("Quantity").fill("2")
        page.get_by_role("button", name="Preview receiving").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "Preview: Receive 2 of A on PO-2 line 1 (5 outstanding)?"
        )
        if role is A:
            page.goto(site.url("/settings"))
            page.get_by_role("button", name="Preview with allocation on").click()
            relinked = page.get_by_role("region", name=re.compile("^Linked or re-linked"))
            expect(relinked).to_contain_text("web/SO-D5 line 1")
    assert page.problems == []
