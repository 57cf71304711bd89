"""The web pages over HTTP: signing in, roles, CSRF, escaping, and what each action says."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest

from bopo.domain.roles import Role, allows
from bopo.services.admin import users
from bopo.services.common.serial import to_json
from bopo.services.email import outbox, templates
from bopo.services.orders import customers, sales
from bopo.services.orders.intake import take_order
from bopo.services.supply import catalog, changes
from tests.e2e.conftest import Web, flashes
from tests.helpers import (
    day,
    given_po,
    given_status,
    given_stock,
    given_template,
    line_of,
    order,
    po_line_of,
)

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN

# Every page, and the least role that may see it.
PAGES: list[tuple[str, Role]] = [
    ("/", V),
    ("/purchase-orders", V),
    ("/purchase-orders/PO-1", V),
    ("/sales-orders", V),
    ("/sales-orders?priority=urgent&waiting=yes", V),
    ("/sales-orders/1", V),
    ("/sales-orders/new", OP),
    ("/worklist", V),
    ("/goods-in", V),
    ("/emails", V),
    ("/emails?state=all&order=1", V),
    ("/emails/1", V),
    ("/import", OP),
    ("/system", V),
    ("/system/templates/1", V),
    ("/system/templates/new", A),
    ("/settings", A),
    ("/what-if/switch-on", A),
    ("/search?q=so-1", V),
    ("/customers/1", V),
    ("/customers/by-code/C1", V),
    ("/admin", A),
    ("/audit", A),
    ("/audit?actor=test&action=email&entity=pending_email&since=2026-01-01&until=2030-01-01", A),
    ("/sales-orders/1?history=20", V),
    ("/short-items", V),
    ("/purchase-orders/new", OP),
    ("/purchase-orders/new?sku=B&qty=2", OP),
    ("/goods-in?window=overdue", V),
    ("/stock-items/A", V),
    ("/stock-items/b", V),
]

# Every action, a form for it, and the least role that may do it.
ACTIONS: list[tuple[str, dict[str, Any], Role]] = [
    ("/purchase-orders/PO-1", {"action": "receive", "line_no": 1, "qty": 1}, OP),
    ("/purchase-orders/PO-1", {"action": "qty", "line_no": 1, "qty": 9}, OP),
    ("/purchase-orders/PO-1", {"action": "due", "line_no": 1, "due_date": "2026-12-24"}, OP),
    ("/purchase-orders/PO-1", {"action": "cancel-line", "line_no": 1}, OP),
    ("/purchase-orders/PO-1", {"action": "cancel-po"}, OP),
    ("/sales-orders/1", {"action": "cancel"}, OP),
    ("/sales-orders/1", {"action": "unlink", "line_no": 1}, OP),
    ("/sales-orders/1", {"action": "ship"}, OP),
    ("/sales-orders/1", {"action": "priority", "priority": "urgent"}, OP),
    ("/sales-orders/new", {"number": "X-1"}, OP),
    ("/purchase-orders/new", {"number": "PO-9", "supplier_code": "S", "sku": "B", "qty": 2}, OP),
    (
        "/purchase-orders/PO-1/lines",
        {"supplier_code": "SUP", "line_no": 3, "sku": "B", "qty": 2},
        OP,
    ),
    ("/worklist/retry", {}, OP),
    ("/worklist/link", {"source": "web", "number": "SO-2", "line_no": 1}, OP),
    ("/worklist/link-selected", {}, OP),
    ("/goods-in", {"po_number": "PO-1", "line_no": 1, "qty": 1}, OP),
    (
        "/what-if/purchase-orders/PO-1",
        {"action": "due", "line_no": 1, "due_date": "2026-12-24"},
        OP,
    ),
    ("/what-if/purchase-orders/PO-1", {"action": "cancel-po"}, OP),
    ("/what-if/goods-in", {"po_number": "PO-1", "line_no": 1, "qty": 1}, OP),
    ("/purchase-orders/PO-1", {"action": "status", "line_no": 2, "status": "CONFIRMED"}, OP),
    ("/emails/send", {"all": "1"}, OP),
    ("/emails/send", {"id": "1"}, OP),
    ("/emails/1", {"action": "send"}, OP),
    ("/emails/1", {"action": "cancel"}, OP),
    ("/emails/1", {"action": "retry"}, OP),
    ("/system/statuses", {"code": "LATE", "name": "Late"}, A),
    ("/system/statuses/template", {"code": "ON ORDER", "template": ""}, A),
    ("/system/templates/new", {"name": "T2", "subject": "S", "body_text": "B"}, A),
    ("/system/templates/1", {"name": "Back order", "subject": "Changed", "body_text": "B"}, A),
    ("/system/templates/preview", {"subject": "S", "body_text": "B"}, A),
    ("/customers/1", {"name": "Someone Else", "email": "else@example.com"}, OP),
    ("/admin/users", {"name": "newcomer", "role": "admin", "password": "long-enough-pw"}, A),
    ("/admin/users/disable", {"name": "operator"}, A),
    ("/admin/tokens", {"user": "viewer", "name": "shop"}, A),
    ("/admin/tokens/revoke", {"id": "1"}, A),
    ("/system/statuses/rename", {"code": "CONFIRMED", "name": "Confirmed by supplier"}, A),
    ("/system/statuses/retire", {"code": "CONFIRMED"}, A),
]


def _scene(web: Web) -> None:
    given_stock(web.ctx, A=5, B=0)
    given_status(web.ctx, "ON ORDER")
    given_status(web.ctx, "CONFIRMED")
    given_template(web.ctx, "Back order", statuses=("ON ORDER",))
    given_po(web.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"), ("B", 2, day(9), "ON ORDER"))
    take_order(web.ctx, order("SO-1", ("A", 8)), actor="test")  # 5 from stock, 3 linked: email 1
    take_order(web.ctx, order("SO-2", ("B", 4)), actor="test")  # B: not enough on order


def _how_things_stand(web: Web) -> tuple[object, ...]:
    """What a refused action must leave as it was."""
    return (
        line_of(web.ctx, "SO-1").linked_qty,
        sales.show_sales_order(web.ctx, "SO-1").priority,
        po_line_of(web.ctx, "PO-1").delivered,
        po_line_of(web.ctx, "PO-1", 2).status,
        [(e.id, e.state, e.attempts) for e in outbox.list_emails(web.ctx)],
        to_json(templates.list_templates(web.ctx)),
        [(s.code, s.name, s.template, s.retired_at) for s in catalog.list_statuses(web.ctx)],
        customers.get_customer(web.ctx, 1),
        [(u.name, u.active) for u in users.list_users(web.ctx)],
        [(t.id, t.revoked_at) for t in users.list_tokens(web.ctx)],
    )


def test_someone_not_signed_in_is_sent_to_the_login_page_from_every_page(web: Web) -> None:
    _scene(web)
    for path, _ in PAGES:
        answer = web.client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login"), path


def test_a_wrong_password_is_refused_and_opens_no_session(web: Web) -> None:
    answer = web.post("/login", {"name": "operator", "password": "not it"}, token=web.csrf())
    assert answer.status_code == 401
    assert "not valid" in answer.text
    assert web.client.get("/", follow_redirects=False).status_code == 303


def test_signing_in_goes_back_to_the_page_asked_for_but_never_to_another_site(web: Web) -> None:
    token = web.csrf()
    form = {"name": "viewer", "password": "viewer-password"}
    answer = web.post("/login", form | {"next": "/worklist?sku=A"}, token=token)
    assert answer.headers["location"] == "/worklist?sku=A"
    for elsewhere in OFF_SITE:
        web.client.cookies.clear()
        answer = web.post("/login", form | {"next": elsewhere}, token=web.csrf())
        assert answer.headers["location"] == "/", elsewhere
        # signed in already: /login?next= goes straight on, but not off the site either
        answer = web.client.get("/login", params={"next": elsewhere}, follow_redirects=False)
        assert answer.headers["location"] == "/", elsewhere


# Where a redirect must never lead: another host, however it is written.
OFF_SITE = [
    "//evil.example",
    "//evil.example/x",
    "/\\evil.example",
    "https://evil.example",
    "https://evil.example/worklist",
    "/%2F%2Fevil.example",
    "/%5Cevil.example",
    "/\t/evil.example",
]


def test_a_refused_form_goes_back_to_the_page_it_came_from_but_never_to_another_site(
    web: Web,
) -> None:
    web.sign_in(OP)
    base = str(web.client.base_url)  # http://testserver
    retry = {"csrf_token": "forged-token"}

    def back_after(referer: str) -> str:
        answer = web.client.post(
            "/worklist/retry", data=retry, headers={"referer": referer}, follow_redirects=False
        )
        assert answer.status_code == 303
        return answer.headers["location"]

    assert back_after(base + "/worklist?sku=A") == "/worklist?sku=A"
    for elsewhere in ["//evil.example", "/\\evil.example", "/%2F%2Fevil.example"]:
        assert back_after(base + elsewhere) == "/", elsewhere
    for referer in ["https://evil.example/worklist", "//evil.example/worklist", "http://evil"]:
        assert back_after(referer) == "/", referer


def test_back_links_and_back_fields_stay_on_this_site(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    for elsewhere in OFF_SITE:
        answer = web.post("/worklist/retry", {"back": elsewhere})
        assert answer.headers["location"] == "/worklist", elsewhere
        answer = web.post("/emails/1", {"action": "cancel", "back": elsewhere})
        assert answer.headers["location"] == "/emails/1", elsewhere
        page = web.client.get("/emails/1", params={"back": elsewhere}).text
        assert 'class="crumbs"><a href="/emails?state=' in page, elsewhere
        assert "evil.example" not in page, elsewhere


def test_guessing_a_password_is_slowed_down_after_a_few_tries(web: Web) -> None:
    token = web.csrf()
    wrong = {"name": "admin", "password": "guess"}
    for _ in range(5):  # the fifth try is still checked
        assert web.post("/login", wrong, token=token).status_code == 401
    right = {"name": "admin", "password": "admin-password"}
    answer = web.post("/login", right, token=token)
    assert answer.status_code == 429  # the sixth waits, refused unchecked
    assert answer.headers["retry-after"] == "30"
    assert "Too many failed sign-ins: try again in 30 seconds." in answer.text
    other = {"name": "viewer", "password": "viewer-password"}
    assert web.post("/login", other, token=token).status_code == 303  # others still sign in
    now = web.ctx.clock()
    web.ctx.clock = lambda: now + timedelta(seconds=31)
    assert web.post("/login", right, token=token).status_code == 303


def test_one_client_address_trying_many_names_waits_after_the_thirtieth_failure(
    web: Web,
) -> None:
    token = web.csrf()
    for n in range(29):  # one failure each: no name gets near its own five
        answer = web.post("/login", {"name": f"guess{n}", "password": "x"}, token=token)
        assert answer.status_code == 401
    right = {"name": "viewer", "password": "viewer-password"}
    assert web.post("/login", {"name": "guess29", "password": "x"}, token=token).status_code == 401
    answer = web.post("/login", right, token=token)  # the 31st try from this address
    assert answer.status_code == 429
    assert answer.headers["retry-after"] == "30"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_each_page_answers_each_role_as_its_rule_says(web: Web, role: Role) -> None:
    _scene(web)
    web.sign_in(role)
    for path, least in PAGES:
        answer = web.client.get(path)
        expected = 200 if allows(role, least) else 403
        assert answer.status_code == expected, f"{path} as {role.value}"


def test_the_menu_shows_a_role_only_the_pages_it_may_open(web: Web) -> None:
    web.sign_in(V)
    menu = web.client.get("/").text.split("</nav>")[0]
    assert 'href="/worklist"' in menu
    assert 'href="/import"' not in menu
    assert 'href="/settings"' not in menu


@pytest.mark.parametrize(("path", "form", "least"), ACTIONS, ids=lambda v: str(v))
def test_a_viewer_cannot_act_and_nothing_changes(
    web: Web, path: str, form: dict[str, Any], least: Role
) -> None:
    _scene(web)
    before = _how_things_stand(web)
    web.sign_in(V)
    answer = web.post(path, form)
    assert answer.status_code == 403
    assert _how_things_stand(web) == before


@pytest.mark.parametrize(("path", "form", "least"), ACTIONS, ids=lambda v: str(v))
def test_no_action_runs_without_the_session_csrf_token(
    web: Web, path: str, form: dict[str, Any], least: Role
) -> None:
    _scene(web)
    before = _how_things_stand(web)
    web.sign_in(A)
    answer = web.post(path, form, token="forged-token")
    assert answer.status_code == 303
    assert "nothing was changed" in " ".join(flashes(web.client.get("/").text))
    assert _how_things_stand(web) == before


def test_an_operator_may_not_keep_system_data(web: Web) -> None:
    _scene(web)
    before = _how_things_stand(web)
    web.sign_in(OP)
    for path, form, least in ACTIONS:
        if least is A:
            assert web.post(path, form).status_code == 403, path
    assert _how_things_stand(web) == before


def test_a_form_without_the_session_csrf_token_changes_nothing(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    for token in ("", "forged-token"):
        answer = web.post(
            "/purchase-orders/PO-1", {"action": "receive", "line_no": 1, "qty": 3}, token=token
        )
        assert answer.status_code == 303
        assert "nothing was changed" in " ".join(flashes(web.client.get("/").text))
    assert po_line_of(web.ctx, "PO-1").delivered == 0


def test_a_disabled_user_is_signed_out_at_the_next_click(web: Web) -> None:
    web.sign_in(OP)
    assert web.client.get("/").status_code == 200
    users.disable_user(web.ctx, "operator", actor="test")
    assert web.client.get("/", follow_redirects=False).headers["location"] == "/login"


def test_the_session_cookie_is_http_only_and_pages_carry_a_strict_security_policy(
    web: Web,
) -> None:
    answer = web.client.get("/login")
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert "content-security-policy" not in web.client.get("/api/health").headers


def test_what_people_typed_is_shown_escaped(web: Web) -> None:
    given_stock(web.ctx, A=5)
    evil = order("SO-<b>", ("A", 1))
    evil = evil.model_copy(
        update={"customer": evil.customer.model_copy(update={"name": "<script>x()</script>"})}
    )
    result = take_order(web.ctx, evil, actor="test")
    web.sign_in(V)
    text = web.client.get(f"/sales-orders/{result.id}").text
    assert "<script>x()" not in text
    assert "&lt;script&gt;x()&lt;/script&gt;" in text
    assert "SO-&lt;b&gt;" in text


def test_an_unknown_page_or_order_gets_an_error_page_and_the_api_keeps_problem_json(
    web: Web,
) -> None:
    web.sign_in(V)
    for path in ("/no-such-page", "/sales-orders/999", "/purchase-orders/PO-NONE"):
        answer = web.client.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
    assert web.client.get("/api/nothing").headers["content-type"] == "application/problem+json"


# --- what each action says --------------------------------------------------------------------


def test_taking_an_order_by_form_says_what_each_line_came_to(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    form = {
        "number": "F-1",
        "source": "phone",
        "customer_code": "C9",
        "customer_name": "Nine",
        "customer_email": "nine@example.com",
        "order_date": "2026-11-25",
        "delivery_date": "2026-12-01",
        "sku": ["A", "B", ""],
        "qty": ["2", "3", ""],
    }
    said = web.act("/sales-orders/new", form)
    assert said == [
        "Sales order F-1 taken: 1 linked (PO-1 line 1, expected Mon 30 Nov), "
        "1 skipped: not enough outstanding on order."
    ]
    said = web.act("/sales-orders/new", form | {"qty": ["2", "4", ""]})
    assert said == [
        "phone/F-1 was taken before with other content; nothing changed: line 2 qty: 3 → 4"
    ]


def test_a_bad_order_form_names_each_bad_field_and_takes_nothing(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    form = {
        "number": "F-2",
        "customer_code": "C9",
        "customer_name": "Nine",
        "customer_email": "not-an-email",
        "order_date": "2026-11-25",
        "delivery_date": "2026-11-20",
        "sku": ["A", "NOPE"],
        "qty": ["0", "1"],
    }
    answer = web.post("/sales-orders/new", form)
    assert answer.status_code == 422
    assert "customer email: not a valid email address" in answer.text
    assert "line 1: qty: must be more than 0" in answer.text
    assert 'value="not-an-email"' in answer.text  # the form comes back as typed
    form |= {"customer_email": "nine@example.com", "delivery_date": "2026-12-01", "qty": ["1", "1"]}
    answer = web.post("/sales-orders/new", form)
    assert answer.status_code == 422
    assert "unknown SKU" in answer.text
    assert web.client.get("/sales-orders?number=F-2").text.count("No sales orders match") == 1


def test_receiving_goods_says_who_got_them(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    said = web.act("/purchase-orders/PO-1", {"action": "receive", "line_no": 1, "qty": 5})
    assert said == ["Received 5 of A on PO-1 line 1: 3 to web/SO-1 line 1, 2 to free stock."]
    assert line_of(web.ctx, "SO-1").linked_qty == 0


def test_changing_a_po_line_says_what_moved_and_which_links_it_released(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    said = web.act("/purchase-orders/PO-1", {"action": "qty", "line_no": 1, "qty": 2})
    assert said == [
        "PO-1 line 1: ordered 10 → 2. 1 link released (web/SO-1 line 1: 3); "
        "waiting: not enough outstanding on order."
    ]
    said = web.act("/purchase-orders/PO-1", {"action": "due", "line_no": 1, "due_date": ""})
    assert said == ["PO-1 line 1: due Mon 30 Nov → no date."]
    said = web.act("/purchase-orders/PO-1", {"action": "qty", "line_no": 1, "qty": "ten"})
    assert said == ["qty: must be a whole number, not 'ten'"]


def test_linking_the_ticked_worklist_lines_says_how_many_and_why_not_the_rest(web: Web) -> None:
    given_stock(web.ctx, A=0)
    given_po(web.ctx, "PO-9", ("A", 4, day(5)))  # no status: intake skips it
    for n in (1, 2, 3):
        take_order(web.ctx, order(f"SO-{n}", ("A", 2), delivery=day(n)), actor="test")
    web.sign_in(OP)
    pick = '["web", "SO-{}", 1, "PO-9", 1]'
    said = web.act("/worklist/link-selected", {"pick": [pick.format(n) for n in (1, 2, 3)]})
    assert said == [
        "2 lines linked, 1 skipped: web/SO-3 line 1: PO-9 line 1 has 0 free on order; "
        "web/SO-3 line 1 needs 2."
    ]


def test_retrying_the_worklist_says_what_it_did(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    said = web.act("/worklist/retry", {"back": "/worklist"})
    assert said == [
        "1 worklist line tried: 0 linked, 0 took stock (0 units); "
        "still waiting: not enough outstanding on order."
    ]


def test_cancelling_an_order_says_what_each_line_gave_up(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    order_id = web.client.get("/sales-orders/by-number?number=SO-1", follow_redirects=False)
    said = web.act(order_id.headers["location"], {"action": "cancel"})
    assert said == [
        "web/SO-1: line 1 gave up 8 of A (5 back to stock); the order is cancelled. "
        "1 link released (web/SO-1 line 1: 3)."
    ]


def test_the_import_page_reports_each_bad_row_and_takes_the_good_orders(web: Web) -> None:
    given_stock(web.ctx, A=5)
    web.sign_in(OP)
    csv_text = (
        "order_number,customer_code,customer_name,customer_email,order_date,delivery_date,"
        "line_no,sku,qty\n"
        "I-1,C1,One,c1@example.com,2026-11-25,2026-12-01,1,A,2\n"
        "I-2,C2,Two,c2@example.com,2026-11-25,2026-12-01,1,NOPE,1\n"
    )
    answer = web.post(
        "/import",
        {"kind": "sales-orders"},
        files={"file": ("orders.csv", csv_text.encode(), "text/csv")},
    )
    assert answer.status_code == 200
    assert "1 orders taken, 0 already there, 1 rejected" in answer.text
    assert "row 3" in answer.text
    assert "unknown SKU" in answer.text
    assert line_of(web.ctx, "I-1").from_stock == 2
    answer = web.post(
        "/import",
        {"kind": "sales-orders"},
        files={"file": ("orders.csv", csv_text.replace(",A,2", ",A,3").encode(), "text/csv")},
    )
    assert "1 taken before with other content" in answer.text
    assert "row 2, order I-1: taken before with other content; nothing changed: " in answer.text
    assert "line 1 qty: 2 → 3" in answer.text
    assert line_of(web.ctx, "I-1").qty == 2


def test_an_operator_may_not_import_stock_counts(web: Web) -> None:
    web.sign_in(OP)
    answer = web.post(
        "/import",
        {"kind": "stock-items"},
        files={"file": ("items.csv", b"sku,name,on_hand\nZ,Zed,5\n", "text/csv")},
    )
    assert answer.status_code == 422
    assert "Choose what the file holds" in answer.text


def test_the_dashboard_draws_its_charts_on_the_server(web: Web) -> None:
    given_stock(web.ctx, A=0, B=0)
    given_po(web.ctx, "PO-1", ("B", 4, day(-2)), ("B", 6, day(5)))
    take_order(web.ctx, order("SO-1", ("A", 2)), actor="t")  # nothing on order: waits
    web.sign_in(Role.VIEWER)

    page = web.client.get("/").text

    charts = re.findall(r"<svg [^>]*role=\"img\"[^>]*>.*?</svg>", page, re.S)
    assert len(charts) == 2
    age, due = (html.unescape(re.sub(r"<[^>]+>", " ", c)) for c in charts)
    assert "under a day: 1 line;" in age  # the chart's title, read out by a screen reader
    assert "overdue: 4 units; this week: 0 units; w/c 30 Nov: 6 units" in due
    assert "<script" not in "".join(charts)


def test_the_dock_sees_what_is_expected_overdue_first_with_what_is_promised(web: Web) -> None:
    given_stock(web.ctx, A=0, B=0)
    given_status(web.ctx, "ON ORDER")
    given_po(web.ctx, "PO-1", ("A", 5, day(-3)), ("B", 4, day(0), "ON ORDER"), ("A", 9, day(30)))
    given_po(web.ctx, "PO-2", ("B", 6, day(1)), supplier="Acme Tools")
    take_order(web.ctx, order("SO-1", ("B", 2)), actor="t")  # linked to PO-1 line 2
    web.sign_in(Role.VIEWER)

    def rows(query: str) -> list[str]:
        page = web.client.get(f"/goods-in?{query}").text
        table = page.split('id="expected"')[1].split("</section>")[0]
        return [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r)).split())
            for r in re.findall(r"<tr>\s*<td>(.*?)</tr>", table, re.S)
        ]

    def lines(found: list[str]) -> list[str]:
        return [re.search(r"PO-\d line \d", r).group() for r in found]  # type: ignore[union-attr]

    week = rows("window=week")  # TODAY is a Wednesday: day(1) is this week, day(30) not
    assert lines(week) == ["PO-1 line 1", "PO-1 line 2", "PO-2 line 1"]
    assert "overdue" in week[0]
    assert "none" in week[0]  # overdue supply is promised to nobody
    assert "2 (1 order)" in week[1]
    assert rows("window=overdue") == week[:1]
    assert len(rows("window=today")) == 2
    assert rows("") == week  # the next 7 days: day(30) is further
    assert lines(rows("window=week&supplier=acme")) == ["PO-2 line 1"]
    assert web.client.get("/goods-in?window=month").status_code == 422


def test_receiving_more_than_is_outstanding_asks_first_then_shows_who_gets_the_goods(
    web: Web,
) -> None:
    given_stock(web.ctx, A=0)
    given_status(web.ctx, "ON ORDER")
    given_po(web.ctx, "PO-1", ("A", 3, day(4), "ON ORDER"))
    take_order(web.ctx, order("SO-1", ("A", 3), customer="C7", priority="high"), actor="t")
    take_order(web.ctx, order("SO-2", ("A", 1)), actor="t")  # waits: nothing more on order
    web.sign_in(Role.OPERATOR)
    form = {"po_number": "PO-1", "line_no": 1, "qty": 5}

    asked = web.post("/goods-in", form)

    assert asked.status_code == 200
    assert "More than was outstanding" in asked.text
    assert "has 3 outstanding; receiving 5 is 2 more" in asked.text
    assert po_line_of(web.ctx, "PO-1").delivered == 0  # nothing taken yet

    taken = web.post("/goods-in", form | {"over": "yes"})

    assert taken.status_code == 303
    assert re.fullmatch(r"/goods-in/receipts/\d+", taken.headers["location"])
    slip = web.client.get(taken.headers["location"]).text
    assert "Received 5 of A on PO-1 line 1" in html.unescape(slip)
    assert "(2 more than was outstanding)" in slip
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", slip)).split())
    assert "web/SO-1 line 1 Customer C7 high" in text
    assert "ready to ship" in text
    assert "web/SO-2 line 1 (from the worklist)" in text
    assert po_line_of(web.ctx, "PO-1").delivered == 5


def test_a_receipt_within_what_is_outstanding_is_taken_without_asking(web: Web) -> None:
    given_stock(web.ctx, A=0)
    given_po(web.ctx, "PO-1", ("A", 3, day(4)))
    web.sign_in(Role.OPERATOR)

    answer = web.post("/goods-in", {"po_number": "PO-1", "line_no": 1, "qty": 3})

    assert answer.status_code == 303
    assert po_line_of(web.ctx, "PO-1").delivered == 3
    missing = web.post("/goods-in", {"po_number": "PO-9", "line_no": 1, "qty": 3})
    assert missing.headers["location"] == "/goods-in"
    assert any("PO-9 line 1" in f for f in flashes(web.client.get("/goods-in").text))


def test_a_buyer_orders_what_runs_short_and_the_waiting_line_is_linked_at_once(web: Web) -> None:
    _scene(web)  # SO-2 waits for 4 of B; PO-1 has 2 of B on order, taken by nobody
    web.sign_in(OP)

    short = web.client.get("/short-items").text
    assert 'href="/purchase-orders/new?sku=B&amp;qty=2"' in short  # 4 wanted, 2 free on order
    form = web.client.get("/purchase-orders/new?sku=B&qty=2").text
    assert 'name="sku" value="B"' in form
    assert 'name="qty" value="2"' in form

    made = web.post(
        "/purchase-orders/new",
        {"number": "PO-7", "supplier_code": "ACME", "supplier_name": "Acme Ltd",
         "sku": ["B", ""], "qty": ["4", ""], "due_date": ["2026-12-02", ""],
         "status": ["ON ORDER", ""]},
    )  # fmt: skip

    assert made.headers["location"] == "/purchase-orders/PO-7"
    said = flashes(web.client.get("/purchase-orders/PO-7").text)
    assert said == ["PO-7: 1 line added; 1 waiting line linked to it."]
    assert line_of(web.ctx, "SO-2").linked_qty == 4
    assert "Nothing is running short" in web.client.get("/short-items").text

    added = web.act(
        "/purchase-orders/PO-7/lines",
        {"supplier_code": "ACME", "line_no": 2, "sku": "A", "qty": 3, "status": ""},
    )
    assert added == ["PO-7: 1 line added."]
    assert po_line_of(web.ctx, "PO-7", 2).outstanding == 3


def test_a_purchase_order_form_with_mistakes_says_each_and_makes_nothing(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)

    answer = web.post(
        "/purchase-orders/new",
        {"number": "PO-1", "supplier_code": "SUP", "sku": ["B"], "qty": ["2"],
         "due_date": ["2026-12-02"], "status": [""]},
    )  # fmt: skip
    assert answer.status_code == 409
    assert "'PO-1' exists already" in html.unescape(answer.text)

    answer = web.post(
        "/purchase-orders/new",
        {"number": "PO-8", "supplier_code": "", "sku": ["B", "NOPE"], "qty": ["0", "1"],
         "due_date": ["", ""], "status": ["", ""]},
    )  # fmt: skip
    assert answer.status_code == 422
    page = html.unescape(answer.text)
    assert "supplier code:" in page
    assert "line 1: qty: must be more than 0" in page
    assert 'value="NOPE"' in page  # the form comes back as typed
    assert "PO-8" not in web.client.get("/purchase-orders").text


def test_a_new_order_that_would_change_a_stored_customer_asks_first(web: Web) -> None:
    given_stock(web.ctx, A=5)
    take_order(web.ctx, order("SO-1", ("A", 1), customer="C1"), actor="t")  # "Customer C1"
    web.sign_in(OP)
    form = {
        "number": "SO-2", "source": "manual", "order_date": "2026-11-25",
        "delivery_date": "2026-12-01", "priority": "normal", "customer_code": "C1",
        "customer_name": "Customer C1", "customer_email": "new@example.com",
        "sku": ["A"], "qty": ["1"],
    }  # fmt: skip

    asked = web.post("/sales-orders/new", form)

    assert asked.status_code == 200
    page = html.unescape(asked.text)
    assert "This order would change customer C1" in page
    assert "<del>c1@example.com</del> → <ins>new@example.com</ins>" in page
    assert "SO-2" not in web.client.get("/sales-orders").text  # not taken yet
    assert customers.get_customer(web.ctx, 1).email == "c1@example.com"

    taken = web.post("/sales-orders/new", form | {"customer_ok": "yes"})

    assert taken.status_code == 303
    assert customers.get_customer(web.ctx, 1).email == "new@example.com"
    same = form | {"number": "SO-3", "customer_email": "new@example.com"}
    assert web.post("/sales-orders/new", same).status_code == 303  # nothing to ask


def test_a_late_line_on_the_worklist_is_re_linked_in_one_click(web: Web) -> None:
    given_stock(web.ctx, A=0)
    given_status(web.ctx, "ON ORDER")
    given_po(web.ctx, "PO-1", ("A", 4, day(5), "ON ORDER"))
    given_po(web.ctx, "PO-2", ("A", 4, day(6), "ON ORDER"))
    take_order(web.ctx, order("SO-1", ("A", 4), delivery=day(7)), actor="t")
    changes.change_due_date(web.ctx, "PO-1", 1, day(30), actor="buyer")  # SO-1 turns late
    web.sign_in(OP)

    page = web.client.get("/worklist").text
    assert 'aria-label="Re-link web/SO-1 line 1 from PO-1 line 1 to PO-2 line 1"' in page

    said = web.act(
        "/worklist/link",
        {"source": "web", "number": "SO-1", "line_no": 1, "po_number": "PO-2",
         "po_line_no": 1, "relink": "yes", "back": "/worklist"},
    )  # fmt: skip

    assert said[0].startswith("Linked web/SO-1 line 1 (4 of A) to PO-2 line 1")
    assert line_of(web.ctx, "SO-1").po_number == "PO-2"
    assert "The worklist is empty." in web.client.get("/worklist").text


def test_numbers_and_skus_typed_in_any_case_are_found(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)

    assert "PO-1" in web.client.get("/purchase-orders/po-1").text
    received = web.act("/goods-in", {"po_number": "po-1", "line_no": 1, "qty": 1})
    assert received[0].startswith("Received 1 of A on PO-1 line 1")
    made = web.post(
        "/purchase-orders/new",
        {"number": "PO-5", "supplier_code": "SUP", "sku": ["b"], "qty": ["2"],
         "due_date": [""], "status": [""]},
    )  # fmt: skip
    assert made.status_code == 303
    assert po_line_of(web.ctx, "PO-5").sku == "B"
    linked = web.act(
        "/worklist/link",
        {"source": "web", "number": "so-2", "line_no": 1, "po_number": "po-1",
         "po_line_no": 2, "back": "/worklist"},
    )  # fmt: skip
    assert "web/SO-2 line 1" in linked[0]


def test_a_stock_item_page_shows_its_stock_supply_waiting_lines_and_history(web: Web) -> None:
    _scene(web)  # A: 5 in stock, 3 of SO-1 linked to PO-1; B: SO-2 waits, 2 on order
    web.sign_in(V)

    page = " ".join(
        html.unescape(re.sub(r"<[^>]+>", " ", web.client.get("/stock-items/a").text)).split()
    )

    assert "In stock 5 5 assigned to orders, 0 free." in page
    assert "PO-1 line 1 SUP 10 3 (1 order) 7" in page
    assert "No line waits for A." in page
    assert "History" in page
    assert "stock.assign" in page
    b = " ".join(
        html.unescape(re.sub(r"<[^>]+>", " ", web.client.get("/stock-items/B").text)).split()
    )
    assert "web/SO-2 line 1 Customer C1 4 not enough outstanding on order" in b
    assert web.client.get("/stock-items/NOPE").status_code == 404
