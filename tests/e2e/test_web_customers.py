"""The search box and a customer's page over HTTP: what each role finds, sees and may do,
and an email that failed on a mistyped address sent again to the corrected one."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from bopo.db.models import AuditEvent
from bopo.domain.roles import Role
from bopo.services.email import outbox
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Web
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import SmtpServer

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


@pytest.fixture
def shop(make_web: Callable[..., Web], server: SmtpServer) -> Web:
    """Item W-5004 out of stock and on order (ON ORDER sends "Back order"); C1 ordered
    SO-5004 (linked: email 1), C2 ordered SO-6 (linked: email 2), and BOLT-1 waits for C1."""
    web = make_web(smtp_port=server.port)
    given_stock(web.ctx, **{"W-5004": 0, "BOLT-1": 0})
    given_status(web.ctx, "ON ORDER")
    given_template(web.ctx, "Back order", statuses=("ON ORDER",))
    given_po(web.ctx, "PO-1", ("W-5004", 10, day(5), "ON ORDER"))
    take_order(web.ctx, order("SO-5004", ("W-5004", 2), ("BOLT-1", 1)), actor="test")
    take_order(web.ctx, order("SO-6", ("W-5004", 1), customer="C2"), actor="test")
    return web


def test_the_search_box_is_on_every_page_and_finds_by_any_part_in_any_case(shop: Web) -> None:
    shop.sign_in(V)
    assert 'action="/search"' in shop.client.get("/worklist").text
    page = shop.client.get("/search", params={"q": "w-5004"}).text
    text = _text(page.split("<main")[1])
    assert "Stock items 1" in text
    assert "Sales orders" not in text  # nothing in that group: not shown
    assert 'href="/stock-items/W-5004"' in page
    page = shop.client.get("/search", params={"q": "5004"}).text
    assert 'href="/sales-orders/1"><strong>SO-5004</strong>' in page
    assert "W-5004" in page
    page = shop.client.get("/search", params={"q": "C2@EXAMPLE"}).text
    assert 'href="/customers/2"><strong>C2</strong>' in page
    assert "Nothing matches" in shop.client.get("/search", params={"q": "zzz"}).text


def test_the_list_filters_take_numbers_and_skus_in_any_case(shop: Web) -> None:
    shop.sign_in(V)
    assert "SO-5004" in shop.client.get("/sales-orders", params={"number": "so-5004"}).text
    assert "SO-5004" in shop.client.get("/sales-orders", params={"sku": "w-5004"}).text
    assert "PO-1" in shop.client.get("/purchase-orders", params={"number": "po-1"}).text
    assert "BOLT-1" in shop.client.get("/worklist", params={"sku": "bolt-1"}).text


def test_the_lists_search_by_any_part_with_q(shop: Web) -> None:
    shop.sign_in(V)
    orders = shop.client.get("/sales-orders", params={"q": "c2@EXAMPLE"}).text
    assert "SO-6" in orders
    assert "SO-5004" not in orders
    assert 'value="c2@EXAMPLE"' in orders  # the filter is kept
    assert "SO-5004" in shop.client.get("/sales-orders", params={"q": "500"}).text
    assert "PO-1" in shop.client.get("/purchase-orders", params={"q": "po-"}).text
    assert "PO-1" not in shop.client.get("/purchase-orders", params={"q": "zzz"}).text
    waiting = shop.client.get("/worklist", params={"q": "bolt"}).text
    assert "web/SO-5004" in waiting
    assert "No worklist lines match." in shop.client.get("/worklist", params={"q": "w-5004"}).text


def test_a_viewer_reads_a_customer_but_may_not_change_them(shop: Web) -> None:
    shop.sign_in(V)
    page = shop.client.get("/customers/1").text
    text = _text(page)
    assert "Customer C1" in text
    assert "c1@example.com" in text
    assert "web/SO-5004 line 2" in text  # BOLT-1 waits
    assert "Your order SO-5004: expected dates" in text
    assert 'name="email"' not in page
    assert ">Retry<" not in page
    assert ">Send now<" not in page
    answer = shop.post("/customers/1", {"name": "X", "email": "x@example.com"})
    assert answer.status_code == 403
    assert (
        shop.client.get("/customers/by-code/C2", follow_redirects=False).headers["location"]
        == "/customers/2"
    )
    assert shop.client.get("/customers/99").status_code == 404


def test_an_operator_corrects_an_address_and_the_failed_email_goes_to_it(
    shop: Web, server: SmtpServer
) -> None:
    server.sink.refuse["c1@example.com"] = "550 no such mailbox"
    shop.sign_in(OP)
    said = shop.act("/emails/send", {"all": "1", "back": "/emails"})
    assert said == ["1 sent, 1 failed: email 1: recipient refused: 550 no such mailbox."]
    page = shop.client.get("/customers/1").text
    assert 'aria-label="Retry email 1 to c1@example.com"' in page

    said = shop.act("/customers/1", {"name": "Customer C1", "email": "c1@example.org"})
    assert said == [
        "Customer C1: email c1@example.com → c1@example.org. 1 unsent email now addressed "
        "to c1@example.org (1); a failed one goes again when retried."
    ]
    said = shop.act("/emails/1", {"action": "retry", "back": "/customers/1"})
    assert said[0].startswith("Email 1 to c1@example.org is pending again")
    said = shop.act("/emails/1", {"action": "send", "back": "/customers/1"})
    assert said == ["1 sent."]
    assert server.sink.received[-1].rcpt_tos == ["c1@example.org"]
    assert outbox.show_email(shop.ctx, 1).state == "sent"
    with shop.ctx.db.read() as conn:
        rows = conn.execute(
            select(AuditEvent.action, AuditEvent.entity_id, AuditEvent.before, AuditEvent.after)
            .where(AuditEvent.action.in_(["customer.update", "email.readdress"]))
            .order_by(AuditEvent.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        ("customer.update", 1, {"email": "c1@example.com"}, {"email": "c1@example.org"}),
        ("email.readdress", 1, {"to": "c1@example.com"}, {"to": "c1@example.org"}),
    ]


def test_a_bad_address_or_no_name_is_refused_and_nothing_changes(shop: Web) -> None:
    shop.sign_in(OP)
    said = shop.act("/customers/1", {"name": "", "email": "not an address"})
    assert said[0].startswith("name: is required; email: not a valid email address")
    assert shop.act("/customers/1", {"name": "Customer C1", "email": "c1@example.com"}) == [
        "Customer C1: nothing changed."
    ]
    assert "c1@example.com" in shop.client.get("/customers/1").text
