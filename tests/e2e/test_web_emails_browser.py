"""Emails and email templates by clicking, in Chromium, with mail going to a real SMTP
server (aiosmtpd in the test process)."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from bopo.domain.roles import Role
from bopo.services.email import outbox, templates
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Site, sign_in_as
from tests.helpers import day, given_po, given_status, given_stock, given_template, order
from tests.smtp_sink import SmtpServer

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN
HTML = '<p class="hello" style="color: rgb(31, 78, 121)">Dear {{ customer.name }},</p>'


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


class Elsewhere:
    """A web server standing for 'another site': it records every request it gets."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.hits = hits
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Elsewhere]:
    site = Elsewhere()
    yield site
    site.close()


def _shop(site: Site, html: str = HTML) -> None:
    """SO-1 is linked to PO-1 line 1 (ON ORDER, which sends "Back order"): email 1."""
    given_stock(site.ctx, A=0)
    given_status(site.ctx, "ON ORDER")
    given_template(site.ctx, "Back order", html=html, statuses=("ON ORDER",))
    given_po(site.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(site.ctx, order("SO-1", ("A", 2)), actor="test")


def test_an_operator_previews_a_pending_email_and_sends_it_to_the_mail_server_once(
    make_site: Any, page: Any, server: SmtpServer
) -> None:
    site = make_site(smtp_port=server.port)
    _shop(site)
    sign_in_as(page, site, OP)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Emails").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("Your order SO-1: expected dates")
    page.get_by_role("link", name="Preview email 1").click()

    expect(page.get_by_label("Text body of email 1")).to_contain_text("Dear Customer C1,")
    frame = page.frame_locator("iframe[title='HTML body of email 1']")
    expect(frame.locator("p.hello")).to_have_text("Dear Customer C1,")
    expect(frame.locator("p.hello")).to_have_css("color", "rgb(31, 78, 121)")  # as styled
    page.get_by_role("button", name="Send now").click()

    expect(page.locator(".flash.ok")).to_have_text("1 sent.")
    expect(page.get_by_role("button", name="Send now")).to_have_count(0)
    [received] = server.sink.received
    assert received.rcpt_tos == ["c1@example.com"]
    assert received.part("html").strip().startswith('<p class="hello"')
    page.get_by_role("link", name="Emails", exact=True).first.click()
    expect(page.get_by_text("No emails waiting to be sent.")).to_be_visible()
    expect(page.get_by_role("button", name="Send all due emails")).to_have_count(0)
    page.get_by_role("link", name=re.compile(r"^Sent 1")).click()
    expect(page.locator("tbody tr")).to_contain_text("sent")
    assert len(server.sink.received) == 1
    assert [e.state for e in outbox.list_emails(site.ctx)] == ["sent"]
    assert page.problems == []


def test_an_email_preview_runs_no_script_and_loads_nothing_from_another_site(
    make_site: Any, page: Any, elsewhere: Elsewhere
) -> None:
    site = make_site()
    hostile = (
        f'<p class="hello">Hi</p><img src="{elsewhere.url}/pixel.png">'
        f'<link rel="stylesheet" href="{elsewhere.url}/look.css">'
        "<script>parent.document.title = 'taken'; document.body.dataset.ran = 'yes'</script>"
        f'<form action="{elsewhere.url}/steal"><button id="go">Go</button></form>'
    )
    _shop(site, html=hostile)
    sign_in_as(page, site, V)
    page.goto(site.url("/emails/1"))
    frame = page.frame_locator("iframe[title='HTML body of email 1']")
    expect(frame.locator("p.hello")).to_have_text("Hi")
    frame.locator("#go").click()
    page.wait_for_timeout(300)

    assert frame.locator("body").get_attribute("data-ran") is None
    assert page.title() == "Email 1 · bopo"
    assert elsewhere.hits == []
    refused = ("Content Security Policy", "sandboxed")
    assert page.problems, "the browser says what it refused"
    assert all(any(why in p for why in refused) for p in page.problems), page.problems


def test_an_admin_edits_a_template_and_the_preview_follows_as_they_type(
    make_site: Any, page: Any
) -> None:
    site = make_site()
    _shop(site)
    sign_in_as(page, site, A)
    page.goto(site.url("/system"))
    page.get_by_role("link", name="Back order").click()
    note = page.locator("#p-note")
    expect(note).to_have_text("web/SO-1, as c1@example.com will get it.")

    page.get_by_label("Subject", exact=True).fill(
        "Hello {{ customer.name }}, about {{ order.number }}"
    )
    expect(page.locator("#p-subject")).to_have_text("Hello Customer C1, about SO-1")
    body = page.get_by_label("Text body", exact=True)
    body.fill("Dear {{ custmer.name }}")
    error = page.locator("#e-body_text")
    expect(error).to_have_text("line 1: 'custmer' is undefined")
    expect(body).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#p-mail")).to_have_class("stale")
    body.fill("Dear {{ customer.name }}, {{ lines | length }} line(s) on order.")
    expect(error).to_be_hidden()
    expect(page.locator("#p-text")).to_have_text("Dear Customer C1, 1 line(s) on order.")
    page.get_by_label("HTML body", exact=True).fill("<h1>{{ company.name }}</h1>")
    frame = page.frame_locator("#p-html")
    expect(frame.locator("h1")).to_have_text("Test Shop")
    page.get_by_label("HTML body", exact=True).fill("")
    expect(page.locator("#p-nohtml")).to_be_visible()
    page.get_by_label("Order to preview it for").fill("")
    expect(note).to_have_text("The sample order: choose one of yours to see it for real.")
    expect(page.locator("#p-subject")).to_have_text("Hello Ada Lovelace, about W-1001")

    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash.ok")).to_contain_text("Saved the email template Back order.")
    saved = templates.get_template(site.ctx, "Back order")
    assert saved.subject == "Hello {{ customer.name }}, about {{ order.number }}"
    assert saved.body_text == "Dear {{ customer.name }}, {{ lines | length }} line(s) on order."
    assert saved.body_html is None
    assert page.problems == []


def test_a_viewer_sees_no_action_on_emails_or_templates_and_a_forged_one_is_refused(
    make_site: Any, page: Any, server: SmtpServer
) -> None:
    site = make_site(smtp_port=server.port)
    _shop(site)
    sign_in_as(page, site, V)
    page.goto(site.url("/emails"))
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.get_by_role("button")).to_have_count(3)  # Filter, the header's Search, Sign out
    expect(page.get_by_role("checkbox")).to_have_count(0)
    page.goto(site.url("/emails/1"))
    expect(page.get_by_role("button", name="Send now")).to_have_count(0)
    page.goto(site.url("/system/templates/1"))
    expect(page.get_by_label("Text body", exact=True)).not_to_be_editable()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    page.goto(site.url("/system"))
    expect(page.get_by_role("link", name="New template")).to_have_count(0)
    expect(page.get_by_role("combobox")).to_have_count(0)

    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    for path, form in [
        ("/emails/send", {"all": "1"}),
        ("/emails/1", {"action": "cancel"}),
        ("/system/templates/1", {"name": "Back order", "subject": "x", "body_text": "x"}),
        ("/system/templates/preview", {"subject": "x", "body_text": "x"}),
        ("/system/statuses/template", {"code": "ON ORDER", "template": ""}),
    ]:
        answer = page.request.post(
            site.url(path), form={"csrf_token": token, **form}, max_redirects=0
        )
        assert answer.status == 403, path
    assert server.sink.received == []
    assert [e.state for e in outbox.list_emails(site.ctx)] == ["pending"]
    assert templates.get_template(site.ctx, "Back order").subject.startswith("Your order")
    assert page.problems == []


def test_the_new_pages_fit_a_tablet_and_every_action_is_reached_by_keyboard(
    make_site: Any, browser: Any
) -> None:
    site = make_site()
    _shop(site)
    tablet = browser.new_context(viewport={"width": 820, "height": 1100})
    page = tablet.new_page()
    try:
        sign_in_as(page, site, A)
        for path in ("/emails", "/emails/1", "/system", "/system/templates/1"):
            page.goto(site.url(path))
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 820, f"{path} is {wide} px wide"
            menu = page.get_by_role("navigation", name="Main")
            expect(menu.get_by_role("link", name="Settings")).to_be_in_viewport(ratio=1)
        page.goto(site.url("/emails"))
        reached = set()
        for _ in range(40):
            page.keyboard.press("Tab")
            reached.add(page.evaluate("document.activeElement.textContent.trim()"))
        assert {"Send all due emails", "Send the ticked emails", "Cancel"} <= reached
    finally:
        tablet.close()
