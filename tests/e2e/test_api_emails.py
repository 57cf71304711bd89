"""Back-order emails over HTTP: templates, statuses that send them, the outbox, and sending
through a real SMTP server (aiosmtpd in the test process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from bopo.domain.roles import Role
from bopo.services.email import outbox, templates
from tests.e2e.conftest import Api, order_json, watch_threads
from tests.helpers import day, given_po, given_status, given_stock
from tests.smtp_sink import SmtpServer

A, OP, V = Role.ADMIN, Role.OPERATOR, Role.VIEWER
TEXT = """Dear {{ customer.name }},

These items on your order {{ order.number }} are on their way to us:
{% for line in lines %}
- {{ line.qty }} x {{ line.item_name }}, expected {{ line.expected | date }}
{% endfor %}

{{ company.name }}
"""
TEMPLATE = {
    "name": "Back order",
    "subject": "Your order {{ order.number }}: expected dates",
    "body_text": TEXT,
    "body_html": "<p>Dear {{ customer.name }}</p>",
}
SOURCE = {k: v for k, v in TEMPLATE.items() if k != "name"}  # an unsaved template
BACK_ORDER = quote("Back order")


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    yield smtp
    smtp.stop()


@pytest.fixture
def shop(make_api: Callable[..., Api], server: SmtpServer) -> Api:
    """No stock of A; PO-1 brings 10 on day 10 (ON ORDER), PO-2 brings 10 on day 20 (no
    status yet); mail goes to the test's SMTP server."""
    api = make_api(smtp_port=server.port)
    given_stock(api.ctx, A=0)
    given_status(api.ctx, "ON ORDER")
    given_status(api.ctx, "CONFIRMED")
    given_po(api.ctx, "PO-1", ("A", 10, day(10), "ON ORDER"))
    given_po(api.ctx, "PO-2", ("A", 10, day(20)))
    return api


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


def fields(response: Any) -> dict[str, str]:
    return {e["field"]: e["message"] for e in problem(response, 422)["errors"]}


def given_template_on(api: Api, status: str) -> dict[str, Any]:
    made = ok(api.post("/api/email-templates", A, json=TEMPLATE), 201)
    ok(api.patch(f"/api/po-line-statuses/{quote(status)}", A, json={"template": made["name"]}))
    return dict(made)


def take(api: Api, number: str, qty: int, **extra: Any) -> dict[str, Any]:
    return dict(
        ok(api.post("/api/sales-orders", json=order_json(number, ("A", qty), **extra)), 201)
    )


def emails(api: Api, query: str = "") -> list[dict[str, Any]]:
    return list(ok(api.get(f"/api/emails?{query}"))["items"])


def test_an_order_linked_under_a_templated_status_emails_its_customer_once(
    shop: Api, server: SmtpServer
) -> None:
    made = ok(shop.post("/api/email-templates", A, json=TEMPLATE), 201)
    assert made["statuses"] == []
    assert ok(shop.get(f"/api/email-templates/{BACK_ORDER}")) == made
    status = ok(shop.patch("/api/po-line-statuses/ON%20ORDER", A, json={"template": "Back order"}))
    assert (status["code"], status["template"]) == ("ON ORDER", "Back order")
    assert ok(shop.get("/api/email-templates"))[0]["statuses"] == ["ON ORDER"]

    so = take(shop, "SO-1", 4)
    assert so["lines"][0]["po_number"] == "PO-1"

    [listed] = emails(shop, "state=pending")
    assert (listed["sales_order"], listed["sales_order_id"], listed["event"]) == (
        "web/SO-1",
        so["id"],
        "intake",
    )
    assert (listed["to"], listed["subject"], listed["attempts"]) == (
        "c1@example.com",
        "Your order SO-1: expected dates",
        0,
    )
    shown = ok(shop.get(f"/api/emails/{listed['id']}"))
    headers = {h["name"]: h["value"] for h in shown["headers"]}
    assert headers["To"] == "Customer One <c1@example.com>"
    assert headers["From"] == "Test Shop <shop@example.com>"
    assert headers["Subject"] == "Your order SO-1: expected dates"
    assert headers["Message-ID"] == shown["message_id"]
    assert "- 4 x Item A, expected 5 December 2026" in shown["body_text"]
    assert shown["body_html"] == "<p>Dear Customer One</p>"
    [link] = shown["associations"]
    assert (link["number"], link["po_number"], link["qty"], link["state"]) == (
        "SO-1",
        "PO-1",
        4,
        "active",
    )
    assert (shown["last_error"], shown["template"]) == (None, "Back order")

    preview = ok(shop.get(f"/api/email-templates/{BACK_ORDER}/preview?order_id={so['id']}"))
    assert (preview["to"], preview["order"]) == ("c1@example.com", "web/SO-1")
    assert (preview["subject"], preview["body_text"], preview["body_html"]) == (
        shown["subject"],
        shown["body_text"],
        shown["body_html"],
    )

    sent = ok(shop.post("/api/emails/send"))
    assert (sent["sent"], sent["failed"], sent["left"], sent["stopped"]) == (1, 0, 0, None)
    again = ok(shop.post("/api/emails/send", json={"ids": [listed["id"]]}))
    assert (again["sent"], again["left"]) == (0, 0)
    [received] = server.sink.received
    assert received.rcpt_tos == ["c1@example.com"]
    assert received.message_id == shown["message_id"]
    assert "- 4 x Item A, expected 5 December 2026" in received.part("plain")
    after = ok(shop.get(f"/api/emails/{listed['id']}"))
    assert (after["state"], after["attempts"]) == ("sent", 1)
    assert after["sent_at"] is not None


def test_a_customer_name_that_looks_encoded_is_shown_not_a_crash(shop: Api) -> None:
    given_template_on(shop, "ON ORDER")
    odd = {"code": "C9", "name": "=?x-unknown?q?Ada?=", "email": "c9@example.com"}
    take(shop, "SO-1", 2, customer=odd)
    [email] = emails(shop)
    headers = ok(shop.get(f"/api/emails/{email['id']}"))["headers"]
    assert {"name": "To", "value": "=?x-unknown?q?Ada?= <c9@example.com>"} in headers


def test_the_outbox_is_listed_by_state_order_and_event_a_page_at_a_time(
    shop: Api, server: SmtpServer
) -> None:
    given_template_on(shop, "ON ORDER")
    first = take(shop, "SO-1", 2)
    take(shop, "SO-2", 3)

    page = ok(shop.get("/api/emails?limit=1"))
    assert (page["total"], page["next_offset"], page["items"][0]["sales_order"]) == (
        2,
        1,
        "web/SO-1",
    )
    assert ok(shop.get("/api/emails?limit=1&offset=1"))["items"][0]["sales_order"] == "web/SO-2"
    assert [e["sales_order"] for e in emails(shop, f"sales_order_id={first['id']}")] == ["web/SO-1"]
    assert len(emails(shop, "event=intake")) == 2
    assert emails(shop, "event=status_change") == []
    assert emails(shop, "state=sent") == []
    assert set(fields(shop.get("/api/emails?state=lost&event=party"))) == {"state", "event"}

    sent = ok(shop.post("/api/emails/send", json={"limit": 1}))  # the oldest goes first
    assert (sent["sent"], sent["left"]) == (1, 1)
    assert [e["sales_order"] for e in emails(shop, "state=sent")] == ["web/SO-1"]
    assert len(server.sink.received) == 1

    # The status loses its template: SO-2's unsent email is superseded by none, and a
    # new order under that status gets no email.
    shop.patch("/api/po-line-statuses/ON%20ORDER", A, json={"template": None})
    take(shop, "SO-3", 1)
    [gone] = emails(shop, "state=superseded")
    assert (gone["sales_order"], gone["superseded_by"]) == ("web/SO-2", None)
    assert emails(shop, "state=pending") == []


def test_a_pending_email_is_cancelled_and_a_failed_one_retried(
    shop: Api, server: SmtpServer
) -> None:
    given_template_on(shop, "ON ORDER")
    take(shop, "SO-1", 2)
    take(shop, "SO-2", 3, customer={"code": "C2", "name": "Two", "email": "c2@example.com"})
    first, second = (e["id"] for e in emails(shop))

    cancelled = ok(shop.post(f"/api/emails/{first}/cancel"))
    assert cancelled["state"] == "cancelled"
    assert (
        "'cancelled' to 'cancelled'"
        in problem(shop.post(f"/api/emails/{first}/cancel"), 409)["detail"]
    )
    problem(shop.post(f"/api/emails/{first}/retry"), 409)

    server.sink.refuse["c2@example.com"] = "550 no such mailbox"
    sent = ok(shop.post("/api/emails/send"))
    assert (sent["sent"], sent["failed"], sent["left"]) == (0, 1, 0)
    failed = ok(shop.get(f"/api/emails/{second}"))
    assert (failed["state"], failed["attempts"]) == ("failed", 1)
    assert failed["last_error"] == "recipient refused: 550 no such mailbox"
    problem(shop.post("/api/emails/send", json={"ids": [second, 999]}), 404)

    del server.sink.refuse["c2@example.com"]
    retried = ok(shop.post(f"/api/emails/{second}/retry"))
    assert (retried["state"], retried["attempts"]) == ("pending", 0)
    problem(shop.post(f"/api/emails/{second}/retry"), 409)
    sent = ok(shop.post("/api/emails/send", json={"ids": [first, second]}))
    assert (sent["sent"], sent["failed"], sent["left"]) == (1, 0, 0)
    assert [r.rcpt_tos for r in server.sink.received] == [["c2@example.com"]]
    assert [e["state"] for e in emails(shop)] == ["cancelled", "sent"]
    problem(shop.post("/api/emails/999/cancel"), 404)
    problem(shop.get("/api/emails/999"), 404)


def test_an_unreachable_mail_server_leaves_the_emails_pending_with_the_error(
    make_api: Callable[..., Api],
) -> None:
    api = make_api()  # SMTP on a port nobody listens on
    given_stock(api.ctx, A=0)
    given_status(api.ctx, "ON ORDER")
    given_po(api.ctx, "PO-1", ("A", 10, day(10), "ON ORDER"))
    given_template_on(api, "ON ORDER")
    take(api, "SO-1", 2)

    answer = ok(api.post("/api/emails/send"))
    assert (answer["sent"], answer["retrying"], answer["left"]) == (0, 1, 1)
    assert answer["stopped"].startswith("server unreachable: SMTP 127.0.0.1:")
    [email] = emails(api)
    assert (email["state"], email["attempts"]) == ("pending", 1)
    assert "127.0.0.1" in email["last_error"]
    assert email["next_attempt_at"] is not None


def test_a_template_that_does_not_render_is_refused_naming_the_part_and_line(shop: Api) -> None:
    misspelt = TEMPLATE | {"body_text": "Dear {{ customer.name }},\n\n{{ custmer.name }}\n"}
    assert fields(shop.post("/api/email-templates", A, json=misspelt)) == {
        "body_text": "line 3: 'custmer' is undefined"
    }
    broken = TEMPLATE | {"subject": "Order {% if %}"}
    assert fields(shop.post("/api/email-templates", A, json=broken))["subject"].startswith(
        "line 1: "
    )
    assert ok(shop.get("/api/email-templates")) == []

    given_template_on(shop, "ON ORDER")
    bad_html = {"body_html": "<p>\n{{ lines[0].colour }}</p>"}
    assert fields(shop.patch(f"/api/email-templates/{BACK_ORDER}", A, json=bad_html)) == {
        "body_html": "line 2: 'dict object' has no attribute 'colour'"
    }
    unsaved = SOURCE | {"body_text": "Dear {{ custmer.name }}"}
    assert fields(shop.post("/api/email-templates/preview", A, json=unsaved)) == {
        "body_text": "line 1: 'custmer' is undefined"
    }
    assert ok(shop.get(f"/api/email-templates/{BACK_ORDER}"))["body_html"] == TEMPLATE["body_html"]
    assert set(fields(shop.patch(f"/api/email-templates/{BACK_ORDER}", A, json={}))) == {"body"}
    assert fields(shop.patch(f"/api/email-templates/{BACK_ORDER}", A, json={"subject": None})) == {
        "subject": "must not be null"
    }
    problem(shop.post("/api/email-templates", A, json=TEMPLATE), 409)
    problem(shop.patch("/api/email-templates/Nothing", A, json={"subject": "Hi"}), 404)
    problem(shop.patch("/api/po-line-statuses/ON%20ORDER", A, json={"template": "Nothing"}), 404)
    problem(shop.patch("/api/po-line-statuses/GONE", A, json={"template": None}), 404)


def test_a_template_is_renamed_and_loses_its_html_and_new_emails_follow_it(shop: Api) -> None:
    given_template_on(shop, "ON ORDER")
    take(shop, "SO-1", 2)

    changed = ok(
        shop.patch(
            f"/api/email-templates/{BACK_ORDER}",
            A,
            json={"name": "Delays", "subject": "News on {{ order.number }}", "body_html": None},
        )
    )
    assert (changed["name"], changed["body_html"], changed["statuses"]) == (
        "Delays",
        None,
        ["ON ORDER"],
    )
    problem(shop.get(f"/api/email-templates/{BACK_ORDER}"), 404)
    take(shop, "SO-2", 3)
    assert [(e["subject"], e["template"]) for e in emails(shop)] == [
        ("Your order SO-1: expected dates", "Delays"),  # queued before: keeps its text
        ("News on SO-2", "Delays"),
    ]


def test_a_template_is_previewed_against_the_sample_or_a_real_order(shop: Api) -> None:
    sample = ok(shop.post("/api/email-templates/preview", A, json=SOURCE))
    assert (sample["to"], sample["order"], sample["subject"]) == (
        None,
        None,
        "Your order W-1001: expected dates",
    )
    assert "Test Shop" in sample["body_text"]
    take(shop, "SO-1", 2)

    unsaved = SOURCE | {"order_number": "SO-1", "order_source": "web"}
    real = ok(shop.post("/api/email-templates/preview", A, json=unsaved))
    assert (real["to"], real["order"], real["subject"]) == (
        "c1@example.com",
        "web/SO-1",
        "Your order SO-1: expected dates",
    )
    assert "- 2 x Item A, expected 5 December 2026" in real["body_text"]
    assert emails(shop) == []  # a preview queues nothing

    both = SOURCE | {"order_id": 1, "order_number": "SO-1"}
    assert set(fields(shop.post("/api/email-templates/preview", A, json=both))) == {"order_id"}
    alone = SOURCE | {"order_source": "web"}
    assert set(fields(shop.post("/api/email-templates/preview", A, json=alone))) == {"order_source"}
    unknown = SOURCE | {"order_number": "SO-9"}
    problem(shop.post("/api/email-templates/preview", A, json=unknown), 404)
    take(shop, "SO-2", 50)  # more than any PO line has: waits, nothing linked
    nothing = SOURCE | {"order_number": "SO-2"}
    assert (
        "no linked lines"
        in problem(shop.post("/api/email-templates/preview", A, json=nothing), 409)["detail"]
    )


def test_a_status_change_with_a_reduction_emails_only_the_customers_still_linked(
    shop: Api,
) -> None:
    given_template_on(shop, "CONFIRMED")
    take(shop, "SO-1", 6, delivery_date="2026-12-30")
    take(shop, "SO-2", 4, delivery_date="2026-12-31")  # the later one is released first
    assert emails(shop) == []  # ON ORDER has no template
    line = "/api/purchase-orders/PO-1/lines/1"

    unknown = shop.patch(line, OP, json={"qty": 6, "status": "NOPE"})
    assert "NOPE" in problem(unknown, 404)["detail"]
    before = ok(shop.get("/api/purchase-orders/PO-1"))["lines"][0]
    assert (before["ordered"], before["status"]) == (10, "ON ORDER")

    change = ok(
        shop.patch(line, OP, json={"qty": 6, "due_date": "2026-12-12", "status": "confirmed"})
    )
    assert [r["number"] for r in change["released"]] == ["SO-2"]
    assert [(r["number"], r["po_number"]) for r in change["reallocated"]] == [("SO-2", None)]
    assert change["status"] == {
        "before": "ON ORDER",
        "after": "CONFIRMED",
        "changed": True,
        "emails_queued": 1,
    }
    assert change["emails_queued"] == 1
    [email] = emails(shop, "event=status_change")
    assert email["sales_order"] == "web/SO-1"
    body = ok(shop.get(f"/api/emails/{email['id']}"))["body_text"]
    assert "- 6 x Item A, expected 12 December 2026" in body  # the new due date

    same = ok(shop.patch(line, OP, json={"status": "CONFIRMED"}))
    assert (same["status"]["changed"], same["emails_queued"], same["lines"]) == (False, 0, [])
    assert set(fields(shop.patch(line, OP, json={"status": None}))) == {"status"}
    problem(shop.patch("/api/purchase-orders/PO-1/lines/9", OP, json={"status": "CONFIRMED"}), 404)

    ok(shop.post(f"{line}/receipts", json={"qty": 2}), 201)
    below = shop.patch(line, OP, json={"qty": 1, "status": "ON ORDER"})
    assert fields(below) == {"qty": "1 is below the 2 delivered already"}
    assert ok(shop.get("/api/purchase-orders/PO-1"))["lines"][0]["status"] == "CONFIRMED"
    # Goods in served 2 of SO-1's 6 before its email went: that email said 6, so it is
    # superseded by one saying the 4 still on order.
    [old] = emails(shop, "state=superseded")
    [new] = emails(shop, "state=pending")
    assert (old["id"], old["superseded_by"]) == (email["id"], new["id"])
    assert (
        "- 4 x Item A, expected 12 December 2026"
        in ok(shop.get(f"/api/emails/{new['id']}"))["body_text"]
    )


def test_a_viewer_reads_the_outbox_and_templates_but_cannot_act(shop: Api) -> None:
    given_template_on(shop, "ON ORDER")
    take(shop, "SO-1", 2)
    [email] = emails(shop)
    assert ok(shop.get(f"/api/emails/{email['id']}", V))["state"] == "pending"
    assert ok(shop.get(f"/api/email-templates/{BACK_ORDER}/preview", V))["order"] is None

    for method, path, body in [
        ("POST", "/api/emails/send", None),
        ("POST", f"/api/emails/{email['id']}/cancel", None),
        ("POST", f"/api/emails/{email['id']}/retry", None),
        ("POST", "/api/email-templates", TEMPLATE | {"name": "Other"}),
        ("PATCH", f"/api/email-templates/{BACK_ORDER}", {"subject": "Hi"}),
        ("POST", "/api/email-templates/preview", SOURCE),
        ("PATCH", "/api/po-line-statuses/ON%20ORDER", {"template": None}),
        ("PATCH", "/api/purchase-orders/PO-1/lines/1", {"status": "CONFIRMED"}),
    ]:
        answer = shop.request(method, path, V, json=body)
        assert answer.status_code == 403, (path, answer.text)
    for method, path, body in [
        ("POST", "/api/email-templates", TEMPLATE | {"name": "Other"}),
        ("PATCH", "/api/po-line-statuses/ON%20ORDER", {"template": None}),
    ]:
        assert shop.request(method, path, OP, json=body).status_code == 403

    assert emails(shop) == [email]
    templates = {s["code"]: s["template"] for s in ok(shop.get("/api/po-line-statuses"))}
    assert templates == {"CONFIRMED": None, "ON ORDER": "Back order"}
    assert [t["name"] for t in ok(shop.get("/api/email-templates"))] == ["Back order"]


def test_sending_now_waits_for_the_smtp_server_on_a_thread_of_its_own(
    shop: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = watch_threads(monkeypatch, shop, outbox, "send_now")
    assert shop.post("/api/emails/send").status_code == 200
    assert seen == [(3, 0, 1)]  # no request thread held while the SMTP server answers


def test_a_template_that_runs_too_long_or_grows_too_big_is_refused_with_the_limit(
    shop: Api,
) -> None:
    endless = "{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}"
    slow = TEMPLATE | {"body_text": endless}
    assert (
        "takes longer than 200 ms"
        in fields(shop.post("/api/email-templates", A, json=slow))["body_text"]
    )
    huge = SOURCE | {"body_text": "{{ 'x' | center(200000000) }}"}
    assert fields(shop.post("/api/email-templates/preview", A, json=huge)) == {
        "body_text": "line 1: result too large: more than 262144 bytes "
        "(limit: [email] template_max_bytes)"
    }
    assert ok(shop.get("/api/email-templates")) == []


def test_template_previews_run_on_the_long_request_threads(
    shop: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    given_template_on(shop, "ON ORDER")
    seen = watch_threads(monkeypatch, shop, templates, "preview_source")
    assert shop.post("/api/email-templates/preview", A, json=SOURCE).status_code == 200
    assert shop.get(f"/api/email-templates/{BACK_ORDER}/preview").status_code == 200
    assert seen == [(3, 0, 1)] * 2  # no request thread held while a template renders
