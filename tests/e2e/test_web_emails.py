"""The emails page, the template editor and PO line statuses over HTTP: what each page shows,
what each action says, and mail sent through a real SMTP server (aiosmtpd in the test)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import pytest

from bopo.domain.roles import Role
from bopo.services.email import outbox, templates
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog
from tests.e2e.conftest import Web, flashes
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import SmtpServer

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN
HTML = '<p style="color: #1f4e79">Dear {{ customer.name }},</p><p>{{ lines | length }} line(s)</p>'


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


def _shop(web: Web) -> None:
    """No stock of A; PO-1 line 1 brings 10 (ON ORDER, which sends "Back order"), line 2
    brings 10 more (CONFIRMED, no template)."""
    given_stock(web.ctx, A=0)
    given_status(web.ctx, "ON ORDER")
    given_status(web.ctx, "CONFIRMED")
    given_template(web.ctx, "Back order", html=HTML, statuses=("ON ORDER",))
    given_po(web.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), ("A", 10, day(9), "CONFIRMED"))


def _take(web: Web, number: str, customer: str = "C1", qty: int = 2) -> int:
    result = take_order(web.ctx, order(number, ("A", qty), customer=customer), actor="test")
    assert result.id is not None
    return result.id


def _text(page: str) -> str:
    """A page as text, tags dropped, for reading what it says."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def shop(make_web: Callable[..., Web], server: SmtpServer) -> Web:
    web = make_web(smtp_port=server.port)
    _shop(web)
    return web


# --- the outbox -------------------------------------------------------------------------


def test_the_outbox_shows_each_email_with_its_order_and_the_dashboard_links_to_it(
    shop: Web,
) -> None:
    so = _take(shop, "SO-1")
    shop.sign_in(V)
    page = shop.client.get("/emails").text
    assert f'href="/sales-orders/{so}">web/SO-1</a>' in page
    row = _text(page.split("<tbody>")[1].split("</tbody>")[0])
    assert "c1@example.com" in row
    assert "Your order SO-1: expected dates" in row
    assert "new order" in row
    assert "pending" in row
    assert "Pending 1" in _text(page.split('aria-label="Emails by state"')[1].split("</nav>")[0])
    assert "No failed emails." in shop.client.get("/emails?state=failed").text
    assert "No emails match" not in shop.client.get("/emails?event=intake").text
    assert "No pending emails match." in shop.client.get("/emails?event=status_change").text
    dashboard = shop.client.get("/").text
    for state in ("pending", "failed", "sent"):
        assert f'href="/emails?state={state}"' in dashboard
    shop.sign_in(OP)  # who sees Import as well
    menu = re.findall(r'<li><a href="(/[a-z-]*)"', shop.client.get("/").text.split("</nav>")[0])
    assert menu[menu.index("/goods-in") + 1 : menu.index("/import")] == ["/emails"]


def test_an_email_is_previewed_as_the_customer_will_see_it_with_its_html_in_a_sandbox(
    shop: Web,
) -> None:
    evil = order("SO-1", ("A", 2))
    evil = evil.model_copy(
        update={"customer": evil.customer.model_copy(update={"name": "Ada <script>x()</script>"})}
    )
    take_order(shop.ctx, evil, actor="test")
    shop.sign_in(V)
    answer = shop.client.get("/emails/1")
    page = answer.text
    assert "<script>x()" not in page
    assert "Dear Ada &lt;script&gt;x()&lt;/script&gt;," in page  # the text body, escaped
    frame = re.search(r"<iframe[^>]*>", page)
    assert frame is not None
    assert " sandbox " in frame.group(0)  # no allow-scripts, no allow-same-origin
    # The HTML body escaped the name once; the srcdoc attribute escapes the whole body again.
    srcdoc = html.unescape(re.search(r'srcdoc="([^"]*)"', frame.group(0))[1])  # type: ignore[index]
    assert srcdoc == (
        '<p style="color: #1f4e79">Dear Ada &lt;script&gt;x()&lt;/script&gt;,</p><p>1 line(s)</p>'
    )
    [policy] = answer.headers.get_list("content-security-policy")
    assert "style-src 'self' 'unsafe-inline'" in policy  # the email's own styles show
    assert "script-src 'self';" in policy
    assert "img-src 'self' data:;" in policy
    assert "style-src 'self';" in shop.client.get("/emails").headers["content-security-policy"]
    assert "From Test Shop <shop@example.com>" in _text(page)
    assert "web/SO-1 line 1 A 2 PO-1 line 1" in _text(page)  # what it announces


def test_sending_the_ticked_emails_delivers_each_once_and_says_how_many(
    shop: Web, server: SmtpServer
) -> None:
    _take(shop, "SO-1")
    _take(shop, "SO-2", customer="C2")
    shop.sign_in(OP)
    said = shop.act("/emails/send", {"id": ["1", "2"], "back": "/emails"})
    assert said == ["2 sent."]
    assert sorted(r.rcpt_tos[0] for r in server.sink.received) == [
        "c1@example.com",
        "c2@example.com",
    ]
    said = shop.act("/emails/send", {"id": ["1", "2"], "back": "/emails"})
    assert said == ["Nothing was sent: none of those emails is pending any more."]
    said = shop.act("/emails/send", {"all": "1", "back": "/emails"})
    assert said == ["Nothing was sent: no email is due."]
    assert len(server.sink.received) == 2
    assert [e.state for e in outbox.list_emails(shop.ctx)] == ["sent", "sent"]
    sent = _text(shop.client.get("/emails?state=sent").text)
    assert "c1@example.com" in sent
    assert "c2@example.com" in sent
    assert shop.act("/emails/send", {"back": "/emails"}) == [
        "emails: tick the emails to send first"
    ]


def test_a_refused_recipient_is_reported_with_its_error_then_retried_or_cancelled(
    shop: Web, server: SmtpServer
) -> None:
    _take(shop, "SO-1")
    _take(shop, "SO-2", customer="C2")
    _take(shop, "SO-3", customer="C3")
    server.sink.refuse["c2@example.com"] = "550 no such mailbox"
    shop.sign_in(OP)
    said = shop.act("/emails/send", {"all": "1", "back": "/emails"})
    assert said == ["2 sent, 1 failed: email 2: recipient refused: 550 no such mailbox."]
    failed = _text(shop.client.get("/emails?state=failed").text)
    assert "c2@example.com" in failed
    assert "recipient refused: 550 no such mailbox" in failed

    said = shop.act("/emails/2", {"action": "retry", "back": "/emails?state=failed"})
    assert said == [
        "Email 2 to c2@example.com is pending again with its attempts reset: "
        "send it now, or the batch mailer will."
    ]
    said = shop.act("/emails/2", {"action": "cancel"})
    assert said == ["Email 2 to c2@example.com cancelled: it will not be sent."]
    said = shop.act("/emails/2", {"action": "retry"})
    assert said == ["EmailState cannot go from 'cancelled' to 'pending'"]
    assert shop.act("/emails/1", {"action": "send"}) == [
        "Nothing was sent: none of those emails is pending any more."
    ]
    assert len(server.sink.received) == 2


def test_an_unreachable_mail_server_is_reported_and_the_emails_wait(
    make_web: Callable[..., Web],
) -> None:
    web = make_web()  # SMTP on a port nobody listens on
    _shop(web)
    _take(web, "SO-1")
    web.sign_in(OP)
    answer = web.post("/emails/send", {"all": "1", "back": "/emails"})
    assert answer.status_code == 303
    [said] = flashes(web.client.get(answer.headers["location"]).text)
    assert said.startswith("0 sent. The mail server could not be reached (SMTP 127.0.0.1:")
    assert said.endswith("): 1 email stays pending, to be tried again later.")
    [email] = outbox.list_emails(web.ctx)
    assert (email.state, email.attempts) == ("pending", 1)
    page = _text(web.client.get("/emails").text)
    assert "next try" in page
    assert "Connection refused" in page


def test_an_email_for_another_order_or_an_unknown_one_is_not_found(shop: Web) -> None:
    shop.sign_in(OP)
    assert shop.client.get("/emails/99").status_code == 404
    assert shop.act("/emails/send", {"id": "99"}) == ["email 99 not found"]
    assert shop.act("/emails/send", {"id": "x"}) == ["id: not an email number"]
    assert shop.client.get("/emails?order=99").status_code == 404


# --- PO line statuses ---------------------------------------------------------------------


def test_setting_a_po_line_status_says_how_many_emails_it_queued(shop: Web) -> None:
    _take(shop, "SO-1", qty=4)
    _take(shop, "SO-2", customer="C2", qty=3)
    catalog.set_status_template(shop.ctx, "CONFIRMED", "Back order", actor="test")
    shop.sign_in(OP)
    page = shop.client.get("/purchase-orders/PO-1").text
    assert "CONFIRMED (emails the linked customers)" in page

    said = shop.act(
        "/purchase-orders/PO-1", {"action": "status", "line_no": 1, "status": "confirmed"}
    )
    assert said == [
        "PO-1 line 1: status ON ORDER → CONFIRMED; 2 emails queued to the customers linked to it."
    ]
    assert [e.event for e in outbox.list_emails(shop.ctx)][-2:] == ["status_change"] * 2
    said = shop.act(
        "/purchase-orders/PO-1", {"action": "status", "line_no": 1, "status": "CONFIRMED"}
    )
    assert said == ["PO-1 line 1 has the status CONFIRMED already; nothing changed."]
    given_status(shop.ctx, "LATE")
    said = shop.act("/purchase-orders/PO-1", {"action": "status", "line_no": 1, "status": "LATE"})
    assert said == [
        "PO-1 line 1: status CONFIRMED → LATE; no email queued (LATE has no email template)."
    ]
    said = shop.act(
        "/purchase-orders/PO-1", {"action": "status", "line_no": 2, "status": "ON ORDER"}
    )
    assert said == [
        "PO-1 line 2: status CONFIRMED → ON ORDER; "
        "no email queued (no sales order is linked to it)."
    ]
    said = shop.act("/purchase-orders/PO-1", {"action": "status", "line_no": 1, "status": "NOPE"})
    assert said == ["PO line status NOPE not found"]


# --- templates ----------------------------------------------------------------------------


def test_an_admin_adds_a_template_and_gives_it_to_a_status_which_then_sends_it(shop: Web) -> None:
    shop.sign_in(A)
    assert "New template" in shop.client.get("/system").text
    form = {
        "name": "Delay",
        "type": "BACK_ORDER",
        "subject": "Order {{ order.number }} is delayed",
        "body_text": "Dear {{ customer.name }},\r\n\r\nsorry.\r\n",
        "body_html": "",
        "intent": "save",
    }
    answer = shop.post("/system/templates/new", form)
    assert answer.status_code == 303
    assert flashes(shop.client.get(answer.headers["location"]).text) == [
        "Added the email template Delay. It is sent once a PO line status has it: "
        "choose it for a status on System data."
    ]
    made = templates.get_template(shop.ctx, "Delay")
    assert (made.body_text, made.body_html) == ("Dear {{ customer.name }},\n\nsorry.\n", None)
    assert answer.headers["location"] == f"/system/templates/{made.id}"

    said = shop.act("/system/statuses/template", {"code": "ON ORDER", "template": "Delay"})
    assert said == [
        "ON ORDER now sends the email template Delay: to each customer whose back order "
        "is linked to a PO line with this status."
    ]
    _take(shop, "SO-1")
    assert [e.subject for e in outbox.list_emails(shop.ctx)] == ["Order SO-1 is delayed"]
    said = shop.act("/system/statuses/template", {"code": "ON ORDER", "template": ""})
    assert said == ["ON ORDER sends no email now."]
    _take(shop, "SO-2")
    assert len(outbox.list_emails(shop.ctx)) == 1
    assert _text(shop.client.get("/system").text).count("no status: not sent") == 2
    answer = shop.post("/system/templates/new", form)
    assert answer.status_code == 422
    assert "email template &#39;Delay&#39; exists already" in answer.text


def test_a_template_that_does_not_render_is_refused_with_the_part_and_line_by_its_field(
    shop: Web,
) -> None:
    shop.sign_in(A)
    before = templates.get_template(shop.ctx, "Back order")
    form = {
        "name": "Back order",
        "subject": "Your order {{ order.number }}",
        "body_text": "Dear {{ customer.name }},\r\n\r\n{{ custmer.name }}\r\n",
        "body_html": "<p>{{ customer.name }}</p>",
        "order": "",
        "intent": "save",
    }
    answer = shop.post(f"/system/templates/{before.id}", form)
    assert answer.status_code == 422
    error = re.search(r'<p class="field-error" id="e-body_text"[^>]*>([^<]*)</p>', answer.text)
    assert error is not None
    assert html.unescape(error.group(1)) == "line 3: 'custmer' is undefined"
    assert "Not saved: body text: line 3: &#39;custmer&#39; is undefined" in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert "{{ custmer.name }}" in answer.text  # the form comes back as typed
    assert templates.get_template(shop.ctx, "Back order") == before

    form |= {"body_html": "<p>{% if %}</p>"}  # does not parse: said before any rendering
    answer = shop.post(f"/system/templates/{before.id}", form)
    assert answer.status_code == 422
    error = re.search(r'id="e-body_html"[^>]*>([^<]*)</p>', answer.text)
    assert error is not None
    assert error.group(1).startswith("line 1: ")
    assert templates.get_template(shop.ctx, "Back order") == before


def test_saving_a_template_changes_the_emails_queued_after_but_not_before(shop: Web) -> None:
    _take(shop, "SO-1")
    shop.sign_in(A)
    tid = templates.get_template(shop.ctx, "Back order").id
    form = {
        "name": "Back order",
        "subject": "Good news about {{ order.number }}",
        "body_text": "Dear {{ customer.name }}",
        "body_html": "",
        "order": "web/SO-1",
        "intent": "save",
    }
    answer = shop.post(f"/system/templates/{tid}", form)
    assert answer.headers["location"] == f"/system/templates/{tid}?order=web%2FSO-1"
    assert flashes(shop.client.get(answer.headers["location"]).text) == [
        "Saved the email template Back order. Emails queued already keep the text they were "
        "written with."
    ]
    _take(shop, "SO-2", customer="C2")
    assert [e.subject for e in outbox.list_emails(shop.ctx)] == [
        "Your order SO-1: expected dates",
        "Good news about SO-2",
    ]
    assert templates.get_template(shop.ctx, "Back order").body_html is None


def test_the_live_preview_renders_the_template_as_typed_for_a_real_order(shop: Web) -> None:
    _take(shop, "SO-1", qty=3)
    shop.sign_in(A)
    typed = {
        "type": "BACK_ORDER",
        "subject": "Order {{ order.number }} for {{ customer.name }}",
        "body_text": "{% for line in lines %}{{ line.qty }} x {{ line.sku }}\r\n{% endfor %}",
        "body_html": "<b>{{ customer.name }}</b>",
    }
    for asked in ("web/SO-1", "SO-1"):
        answer = shop.post("/system/templates/preview", typed | {"order": asked})
        assert answer.status_code == 200
        assert answer.json() == {
            "ok": True,
            "note": "web/SO-1, as c1@example.com will get it.",
            "errors": {},
            "to": "c1@example.com",
            "subject": "Order SO-1 for Customer C1",
            "body_text": "3 x A\n",
            "body_html": "<b>Customer C1</b>",
        }
    sample = shop.post("/system/templates/preview", typed | {"order": "NOPE"}).json()
    assert sample["note"] == "The sample order: sales order NOPE not found."
    assert sample["subject"] == "Order W-1001 for Ada Lovelace"
    broken = shop.post("/system/templates/preview", typed | {"body_text": "{{ lines[0].colour }}"})
    assert broken.json()["ok"] is False
    assert broken.json()["errors"] == {
        "body_text": "line 1: 'dict object' has no attribute 'colour'"
    }
    page = shop.client.get("/system/templates/1?order=web/SO-1").text
    assert "web/SO-1, as c1@example.com will get it." in page
    assert '<option value="web/SO-1">Customer C1</option>' in page


def test_the_editor_refuses_a_template_that_runs_too_long_and_says_which_limit(
    shop: Web,
) -> None:
    shop.sign_in(A)
    endless = "{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}"
    typed = {"type": "BACK_ORDER", "subject": "Hi", "body_text": endless, "body_html": ""}
    answer = shop.post("/system/templates/preview", typed).json()
    assert answer["ok"] is False
    assert "takes longer than 200 ms to render" in answer["errors"]["body_text"]
    saved = shop.post("/system/templates/new", typed | {"name": "Slow"})
    assert saved.status_code == 422
    assert "template_time_limit_ms" in saved.text


def test_a_viewer_reads_and_previews_a_template_but_cannot_change_it(shop: Web) -> None:
    _take(shop, "SO-1")
    shop.sign_in(V)
    page = shop.client.get("/system/templates/1").text
    assert "web/SO-1, as c1@example.com will get it." in page  # the latest linked order
    assert "readonly" in page.split('id="f-body_text"')[1].split(">")[0]
    assert 'value="save"' not in page
    assert "data-preview" not in page
    sample = shop.client.get("/system/templates/1?order=").text
    assert "The sample order: choose one of yours to see it for real." in sample
    system = shop.client.get("/system").text
    assert 'action="/system/statuses/template"' not in system
    assert "New template" not in system
