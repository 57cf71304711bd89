"""The main flows by clicking, in Chromium, against bopo served on the test database."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from bopo.domain.roles import Role, allows
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Site, sign_in_as
from tests.e2e.test_web_pages import PAGES
from tests.helpers import (
    BACK_ORDER_HTML,
    day,
    given_po,
    given_status,
    given_stock,
    given_template,
    line_of,
    order,
)

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def _scene(site: Site) -> None:
    given_stock(site.ctx, A=5, B=0)
    given_status(site.ctx, "ON ORDER")
    given_template(site.ctx, "Back order", html=BACK_ORDER_HTML, statuses=("ON ORDER",))
    given_po(site.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), ("B", 2, day(9)))
    take_order(site.ctx, order("SO-1", ("A", 8)), actor="test")  # 5 from stock, 3 linked: email 1
    take_order(site.ctx, order("SO-2", ("B", 2)), actor="test")  # PO line has no status


def test_every_page_loads_for_each_role_without_console_errors(make_site: Any, page: Any) -> None:
    site = make_site()
    _scene(site)
    for role in Role:
        page.context.clear_cookies()
        sign_in_as(page, site, role)
        for path, least in PAGES:
            if not allows(role, least):
                continue
            answer = page.goto(site.url(path))
            assert answer.status == 200, f"{path} as {role.value}"
            expect(page.locator("h1")).to_be_visible()
    assert page.problems == []


def test_an_operator_signs_in_takes_an_order_by_form_and_sees_its_lines_linked(
    make_site: Any, page: Any
) -> None:
    site = make_site()
    _scene(site)
    page.goto(site.url("/sales-orders"))
    expect(page).to_have_url(re.compile(r"/login\?next=/sales-orders$"))
    page.get_by_label("User name").fill("operator")
    page.get_by_label("Password").fill("operator-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sales orders")).to_be_visible()

    page.get_by_role("link", name="New sales order").click()
    page.get_by_label("Order number").fill("WEB-1")
    page.get_by_label("Customer code").fill("C7")
    page.get_by_label("Name").fill("Customer Seven")
    page.get_by_label("Email").fill("seven@example.com")
    page.get_by_label("SKU of line 1").fill("A")
    page.get_by_label("Quantity of line 1").fill("4")
    page.get_by_role("button", name="Add a line").click()
    page.get_by_label("SKU of line 6").fill("A")
    page.get_by_label("Quantity of line 6").fill("2")
    page.get_by_role("button", name="Take the order").click()

    expect(page.get_by_role("status")).to_contain_text("Sales order WEB-1 taken: 2 linked")
    rows = page.get_by_role("table", name="Each line and where it stands").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("linked to PO-1 line 1")
    expect(rows.nth(1)).to_contain_text("linked to PO-1 line 1")
    assert line_of(site.ctx, "WEB-1", 2).linked_qty == 2
    assert page.problems == []


def test_an_operator_links_a_worklist_line_by_hand(make_site: Any, page: Any) -> None:
    site = make_site()
    _scene(site)
    sign_in_as(page, site, OP)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Worklist").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Link web/SO-2 line 1 to PO-1 line 2").click()

    expect(page.get_by_role("status")).to_have_text(
        "Linked web/SO-2 line 1 (2 of B) to PO-1 line 2, expected Fri 4 Dec."
    )
    expect(page.get_by_text("The worklist is empty.")).to_be_visible()
    assert line_of(site.ctx, "SO-2").linked_qty == 2
    assert page.problems == []


def test_goods_received_at_the_po_release_the_linked_backorder(make_site: Any, page: Any) -> None:
    site = make_site()
    _scene(site)
    sign_in_as(page, site, OP)
    page.goto(site.url("/purchase-orders"))
    page.get_by_role("link", name="PO-1").click()
    page.get_by_text("Change line 1").click()
    page.get_by_label("Quantity to receive on line 1").fill("3")
    page.get_by_role("button", name="Receive", exact=True).click()

    expect(page.get_by_role("status")).to_have_text(
        "Received 3 of A on PO-1 line 1: 3 to web/SO-1 line 1."
    )
    page.get_by_role("link", name="web/SO-1").first.click()
    line = page.locator("tbody tr").first
    expect(line).to_contain_text("8 from stock")
    expect(line).not_to_contain_text("linked")
    assert page.problems == []


def test_a_viewer_sees_no_actions_and_a_forged_one_is_refused(make_site: Any, page: Any) -> None:
    site = make_site()
    _scene(site)
    sign_in_as(page, site, V)
    page.goto(site.url("/purchase-orders/PO-1"))
    expect(page.get_by_text("Change line 1")).to_have_count(0)
    page.goto(site.url("/worklist"))
    expect(page.get_by_role("button", name=re.compile("^Link"))).to_have_count(0)
    page.goto(site.url("/"))
    expect(page.get_by_role("link", name="New sales order")).to_have_count(0)

    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    answer = page.request.post(
        site.url("/purchase-orders/PO-1"),
        form={"csrf_token": token, "action": "receive", "line_no": "1", "qty": "3"},
        max_redirects=0,
    )
    assert answer.status == 403
    assert line_of(site.ctx, "SO-1").linked_qty == 3


def test_the_api_docs_render_with_no_internet(make_site: Any, page: Any) -> None:
    site = make_site()
    outside: list[str] = []

    def only_bopo(route: Any) -> None:
        if route.request.url.startswith(site.base):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_bopo)
    page.goto(site.url("/docs"))
    # The bundle is large and the schema is built on first ask: give it time on a busy machine.
    expect(page.get_by_text("/api/sales-orders").first).to_be_visible(timeout=30_000)
    assert outside == []
    assert page.problems == []


def test_a_buyer_orders_a_short_item_from_the_worklist(make_site: Any, page: Any) -> None:
    site = make_site()
    _scene(site)
    # B is on order (PO-1 line 2) without a status, so nothing is linked to it: SO-2 and SO-3 wait.
    take_order(site.ctx, order("SO-3", ("B", 5)), actor="test")
    sign_in_as(page, site, OP)
    page.goto(site.url("/worklist"))
    page.get_by_role("link", name="Order 5 of B for web/SO-3 line 1").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("New purchase order")
    expect(page.get_by_label("SKU of line 1")).to_have_value("B")
    expect(page.get_by_label("Quantity of line 1")).to_have_value("5")
    page.get_by_label("Quantity of line 1").fill("7")  # and SO-2's 2 with it
    page.get_by_label("PO number").fill("PO-77")
    page.get_by_label("Supplier code").fill("ACME")
    page.get_by_label("Due date of line 1").fill("2026-12-03")
    page.get_by_label("Status of line 1").select_option(value="ON ORDER")
    page.get_by_role("button", name="Add a line").click()  # left empty: left out
    page.get_by_role("button", name="Make the purchase order").click()

    expect(page).to_have_url(site.url("/purchase-orders/PO-77"))
    expect(page.get_by_role("status")).to_have_text(
        "PO-77: 1 line added; 2 waiting lines linked to it."
    )
    assert line_of(site.ctx, "SO-3").linked_qty == 5
    assert line_of(site.ctx, "SO-2").linked_qty == 2
    page.goto(site.url("/short-items"))
    expect(page.get_by_text("Nothing is running short")).to_be_visible()
    assert page.problems == []
