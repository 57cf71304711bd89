"""Errands by clicking, in Chromium: an operator finds a customer, corrects the address and
sends again the email that failed on the old one; an admin adds a user and a token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from bopo.domain.roles import Role
from bopo.services.admin import users
from bopo.services.email import outbox
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import sign_in_as
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import SmtpServer


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


def test_an_operator_finds_a_customer_corrects_the_address_and_the_email_goes(
    make_site: Any, page: Any, server: SmtpServer
) -> None:
    site = make_site(smtp_port=server.port)
    given_stock(site.ctx, **{"W-5004": 0})
    given_status(site.ctx, "ON ORDER")
    given_template(site.ctx, "Back order", statuses=("ON ORDER",))
    given_po(site.ctx, "PO-1", ("W-5004", 10, day(5), "ON ORDER"))
    take_order(site.ctx, order("SO-5004", ("W-5004", 2)), actor="test")  # email 1 to C1
    server.sink.refuse["c1@example.com"] = "550 no such mailbox"
    outbox.send_now(site.ctx)
    assert outbox.show_email(site.ctx, 1).state == "failed"

    sign_in_as(page, site, Role.OPERATOR)
    page.keyboard.press("/")  # the dashboard has no list search: the header box
    page.keyboard.type("so-5004")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Sales orders 1")).to_be_visible()
    page.get_by_role("link", name="SO-5004").click()
    page.get_by_role("link", name="Customer C1").click()
    expect(page.get_by_role("heading", name="Customer C1")).to_be_visible()
    emails = page.get_by_role("table", name="Emails to Customer C1, newest first")
    expect(emails).to_contain_text("recipient refused: 550 no such mailbox")

    page.get_by_role("textbox", name="Email address").fill("c1@example.org")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text(
        "Customer C1: email c1@example.com → c1@example.org."
    )
    page.get_by_role("button", name="Retry email 1 to c1@example.org").click()
    expect(page.get_by_role("status")).to_contain_text("Email 1 to c1@example.org is pending")
    page.get_by_role("button", name="Send email 1 to c1@example.org now").click()
    expect(page.get_by_role("status")).to_contain_text("1 sent.")
    expect(emails.locator("tbody tr").first).to_contain_text("sent")
    assert [r.rcpt_tos for r in server.sink.received] == [["c1@example.org"]]
    assert page.problems == []


def test_an_admin_adds_a_user_and_makes_them_a_token(make_site: Any, page: Any) -> None:
    site = make_site()
    sign_in_as(page, site, Role.ADMIN)
    page.get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users and API tokens")).to_be_visible()
    add = page.get_by_role("form", name="Add a user")
    add.get_by_label("User name").fill("ines")
    add.get_by_label("Role").select_option("operator")
    add.get_by_label("Password").fill("a-long-password")
    add.get_by_role("button", name="Add the user").click()
    expect(page.get_by_role("status")).to_contain_text("User ines added as operator")

    token = page.get_by_role("form", name="Make an API token")
    token.get_by_label("For user").select_option("ines")
    token.get_by_label("Token name").fill("web shop")
    token.get_by_role("button", name="Make a token").click()
    expect(page.get_by_role("status")).to_contain_text("copy it now, it is not shown again")
    secret = page.locator("#new-secret").inner_text()
    assert users.authenticate_token(site.ctx, secret).name == "ines"
    page.get_by_role("button", name=re.compile(r"Revoke token \d+ of ines")).click()
    expect(page.get_by_role("status")).to_contain_text("of ines (web shop) revoked.")
    expect(page.locator("#new-secret")).to_have_count(0)
    assert page.problems == []


def test_an_admin_previews_switching_allocation_on_then_applies_it_without_a_restart(
    make_site: Any, page: Any
) -> None:
    site = make_site(allocate_existing_pos=False)
    given_stock(site.ctx, A=0)
    given_status(site.ctx, "ON ORDER")
    given_po(site.ctx, "PO-1", ("A", 5, day(4)))  # no status of its own
    take_order(site.ctx, order("SO-1", ("A", 2)), actor="test")  # waits: feature off
    sign_in_as(page, site, Role.ADMIN)
    page.get_by_role("link", name="Settings").click()
    page.get_by_label("Default status").select_option("ON ORDER")
    page.get_by_role("button", name="Preview with allocation on").click()

    expect(page.get_by_role("heading", level=1)).to_contain_text("default status ON ORDER")
    expect(page.locator("main")).to_contain_text("It would link 1 waiting order line")
    page.get_by_role("button", name=re.compile("^Apply: allocation on")).click()

    expect(page.get_by_role("status")).to_contain_text("allocate_existing_pos off → on")
    expect(page.get_by_role("region", name="Feature switch")).to_contain_text("is on")
    assert site.ctx.backorders().allocate_existing_pos  # the same process, no restart
    page.goto(site.url("/worklist"))
    page.get_by_role("button", name="Retry allocation for the whole worklist").click()
    expect(page.get_by_text("The worklist is empty.")).to_be_visible()
    assert page.problems == []


def test_the_worklist_an_order_and_goods_in_print_without_menus_forms_or_buttons(
    make_site: Any, page: Any
) -> None:
    site = make_site()
    given_stock(site.ctx, **{"W-5004": 0})
    given_status(site.ctx, "ON ORDER")
    given_po(site.ctx, "PO-1", ("W-5004", 1, day(5), "ON ORDER"))
    take_order(site.ctx, order("SO-5004", ("W-5004", 2)), actor="test")  # waits: too little
    sign_in_as(page, site, Role.OPERATOR)
    page.emulate_media(media="print")
    for path in ("/worklist", "/sales-orders/1", "/goods-in"):
        page.goto(site.url(path))
        expect(page.locator("header.top")).to_be_hidden()
        expect(page.locator("h1")).to_be_visible()
        assert page.locator("main button:visible").count() == 0, path
        assert page.locator("main form:visible").count() == 0, path
    page.goto(site.url("/worklist"))
    expect(page.get_by_text("SO-5004")).to_be_visible()
    assert page.problems == []
