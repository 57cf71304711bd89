"""An operator's errand by clicking, in Chromium: find the customer, correct their address,
send again the email that failed on the old one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from bopo.domain.roles import Role
from bopo.services import outbox
from bopo.services.intake import take_order
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
    assert outbox.show_email(site.ctx, 1).summary.state == "failed"

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
