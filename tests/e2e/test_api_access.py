"""Every route against every role: allowed, forbidden (403), or no token (401)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bopo.domain.roles import Role, allows
from bopo.services.orders.intake import take_order
from bopo.services.supply.goods_in import receive
from tests.e2e.conftest import Api, order_json
from tests.helpers import day, given_po, given_status, given_stock, given_template, order

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN
CSV = (
    "order_number,customer_code,customer_name,customer_email,order_date,delivery_date,"
    "line_no,sku,qty\nF-1,C2,Two,c2@example.com,2026-11-25,2026-12-01,1,A,1\n"
)
PO = {"number": "PO-NEW", "supplier_code": "SUP", "lines": [{"line_no": 1, "sku": "A", "qty": 5}]}
LINK = {"so_line_id": 2, "po_number": "PO-1", "po_line_no": 1}
WHAT_IF_LINE = "/api/what-if/purchase-orders/PO-1/lines/1"
SOURCE = {"subject": "Order {{ order.number }}", "body_text": "Dear {{ customer.name }}"}

# (method, path, request keyword arguments, the least role allowed)
ROUTES: list[tuple[str, str, dict[str, Any], Role]] = [
    ("GET", "/api/stock-items", {}, V),
    ("GET", "/api/stock-items/A", {}, V),
    ("POST", "/api/stock-items", {"json": {"sku": "NEW", "name": "New"}}, A),
    ("PATCH", "/api/stock-items/A", {"json": {"name": "Renamed"}}, A),
    ("GET", "/api/customers", {}, V),
    ("GET", "/api/customers/C1", {}, V),
    ("GET", "/api/suppliers", {}, V),
    ("GET", "/api/suppliers/SUP", {}, V),
    ("GET", "/api/po-line-statuses", {}, V),
    ("POST", "/api/po-line-statuses", {"json": {"code": "LATE", "name": "Late"}}, A),
    ("GET", "/api/purchase-orders", {}, V),
    ("GET", "/api/purchase-orders/PO-1", {}, V),
    ("POST", "/api/purchase-orders", {"json": PO}, OP),
    ("GET", "/api/sales-orders", {}, V),
    ("GET", "/api/sales-orders/1", {}, V),
    ("POST", "/api/sales-orders", {"json": order_json("SO-NEW", ("A", 1))}, OP),
    ("POST", "/api/sales-orders/import", {"files": {"file": ("orders.csv", CSV)}}, OP),
    ("POST", "/api/sales-orders/1/cancel", {}, OP),
    ("POST", "/api/sales-orders/1/lines/1/cancel", {}, OP),
    ("PATCH", "/api/sales-orders/1/lines/1", {"json": {"qty": 6}}, OP),
    ("POST", "/api/sales-orders/1/ship", {"json": {"lines": [1]}}, OP),
    ("PATCH", "/api/purchase-orders/PO-1/lines/1", {"json": {"qty": 9}}, OP),
    ("PATCH", "/api/purchase-orders/PO-1/lines/1", {"json": {"status": "LATE"}}, OP),
    ("POST", "/api/purchase-orders/PO-1/lines/1/cancel", {}, OP),
    ("POST", "/api/purchase-orders/PO-1/lines/1/close-short", {}, OP),
    ("POST", "/api/purchase-orders/PO-1/cancel", {}, OP),
    ("POST", "/api/purchase-orders/PO-1/lines/1/receipts", {"json": {"qty": 2}}, OP),
    ("GET", "/api/receipts", {}, V),
    ("GET", "/api/receipts/1", {}, V),
    ("POST", "/api/receipts/1/reverse", {}, OP),
    ("GET", "/api/backorders", {}, V),
    ("POST", "/api/backorders/allocate", {}, OP),
    ("GET", "/api/backorders/2/candidates", {}, V),
    ("GET", "/api/associations", {}, V),
    ("GET", "/api/associations/1", {}, V),
    ("POST", "/api/associations", {"json": LINK}, OP),
    ("DELETE", "/api/associations/1", {}, OP),
    ("GET", "/api/email-templates", {}, V),
    ("GET", "/api/email-templates/Back%20order", {}, V),
    ("POST", "/api/email-templates", {"json": SOURCE | {"name": "New"}}, A),
    ("PATCH", "/api/email-templates/Back%20order", {"json": {"subject": "Hi"}}, A),
    ("GET", "/api/email-templates/Back%20order/preview", {"params": {"order_id": 1}}, V),
    ("POST", "/api/email-templates/preview", {"json": SOURCE}, A),
    ("PATCH", "/api/po-line-statuses/LATE", {"json": {"template": "Back order"}}, A),
    ("POST", "/api/po-line-statuses/LATE/rename", {"json": {"name": "Running late"}}, A),
    ("POST", "/api/po-line-statuses/LATE/retire", {}, A),
    ("GET", "/api/audit", {"params": {"action": "email", "since": "2026-01-01"}}, A),
    ("GET", "/api/emails", {}, V),
    ("GET", "/api/po-lines", {}, V),
    ("GET", "/api/emails/1", {}, V),
    ("POST", "/api/emails/1/cancel", {}, OP),
    ("POST", "/api/emails/1/retry", {}, OP),
    ("POST", "/api/emails/send", {"json": {"limit": 10}}, OP),  # SMTP: a closed port
    ("GET", "/api/sales-orders/1/explain", {"params": {"line_no": 1}}, V),
    ("PATCH", "/api/sales-orders/1", {"json": {"priority": "urgent"}}, OP),
    ("POST", f"{WHAT_IF_LINE}/due-date", {"json": {"due_date": "2026-12-20"}}, V),
    ("POST", f"{WHAT_IF_LINE}/qty", {"json": {"qty": 2}}, V),
    ("POST", f"{WHAT_IF_LINE}/cancel", {}, V),
    ("POST", f"{WHAT_IF_LINE}/close-short", {}, V),
    ("POST", f"{WHAT_IF_LINE}/receipts", {"json": {"qty": 2}}, V),
    ("POST", "/api/what-if/purchase-orders/PO-1/cancel", {}, V),
    ("POST", "/api/what-if/switch-on", {}, V),
    ("GET", "/api/me", {}, V),
    ("GET", "/api/settings", {}, A),
    ("GET", "/api/metrics", {}, V),
    ("GET", "/metrics", {}, V),  # or the [metrics] token: tests/e2e/test_api_ops.py
    ("GET", "/api/jobs", {}, V),
]


def _scene(api: Api) -> None:
    given_stock(api.ctx, A=5)
    given_status(api.ctx, "ON ORDER")
    given_status(api.ctx, "LATE")
    given_template(api.ctx, "Back order", statuses=("ON ORDER",))
    given_po(api.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(api.ctx, order("SO-1", ("A", 8)), actor="test")  # 5 from stock, 3 linked: email 1
    take_order(api.ctx, order("SO-2", ("A", 50)), actor="test")  # waits on the worklist
    receive(api.ctx, "PO-1", 1, 1, actor="test")  # receipt 1


@pytest.mark.parametrize(("method", "path", "kwargs", "least"), ROUTES, ids=lambda v: str(v))
def test_each_route_answers_each_role_as_its_rule_says(
    api: Api, method: str, path: str, kwargs: dict[str, Any], least: Role
) -> None:
    _scene(api)
    anonymous = api.request(method, path, None, **kwargs)
    assert anonymous.status_code == 401, anonymous.text
    assert anonymous.headers["www-authenticate"] == "Bearer"
    bad_token = api.client.request(
        method, path, headers={"Authorization": "Bearer bopo_not-a-real-token"}, **kwargs
    )
    assert bad_token.status_code == 401
    for role in (V, OP, A):
        response = api.request(method, path, role, **kwargs)
        if allows(role, least):
            assert response.status_code < 400 or response.status_code in {409, 422}, (
                role,
                response.text,
            )
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.headers["content-type"] == "application/problem+json"


def test_the_table_covers_every_route_but_the_probes(api: Api) -> None:
    documented = {
        (method.upper(), path)
        for path, ops in api.client.get("/openapi.json").json()["paths"].items()
        for method in ops
    }

    def template(method: str, path: str) -> tuple[str, str] | None:
        """The documented route a path in the table reaches: the most literal that matches."""
        matches = [
            t
            for m, t in documented
            if m == method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", t), path)
        ]
        return (method, min(matches, key=lambda t: t.count("{"))) if matches else None

    covered = {template(m, p) for m, p, _, _ in ROUTES}
    assert None not in covered
    # a webhook's signature is its authentication (tests/e2e/test_webhooks.py)
    assert documented - covered == {
        ("GET", "/api/health"),
        ("POST", "/api/webhooks/shopify/orders"),
        ("GET", "/api/health/live"),
        ("GET", "/api/health/ready"),
    }


def test_health_needs_no_token(api: Api) -> None:
    assert api.get("/api/health", None).json() == {"status": "ok", "database": "ok"}
