"""History: the audit rows about an order or a PO on its page, the audit page with its
filters (admins), `GET /api/audit` and `bopo audit`."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from bopo.domain.roles import Role
from bopo.services.admin import audit
from bopo.services.orders import sales
from bopo.services.orders.intake import take_order
from tests.e2e.conftest import Api, Web
from tests.helpers import day, given_po, given_status, given_stock, order

V, OP, A = Role.VIEWER, Role.OPERATOR, Role.ADMIN


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _scene(web: Web | Api) -> None:
    given_stock(web.ctx, A=0)
    given_status(web.ctx, "ON ORDER")
    given_status(web.ctx, "DELAYED")
    given_po(web.ctx, "PO-1", ("A", 10, day(5), "ON ORDER"))
    take_order(web.ctx, order("SO-1", ("A", 2)), actor="test")


def test_an_orders_page_shows_its_history_newest_first_and_paged(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    for p in ("urgent", "low", "high"):
        web.act("/sales-orders/1", {"action": "priority", "priority": p})
    page = web.client.get("/sales-orders/1").text
    history = _text(page.split('id="history"')[1])
    assert "3 changes, newest first" in history
    newest, oldest = "priority: low priority: high", "priority: normal priority: urgent"
    assert history.index(newest) < history.index(oldest)
    assert "web:operator" in history
    web.act("/purchase-orders/PO-1", {"action": "status", "line_no": 1, "status": "DELAYED"})
    po_history = _text(web.client.get("/purchase-orders/PO-1").text.split('id="history"')[1])
    assert "po_line.status" in po_history  # a line's change is the PO's history
    page = audit.history(web.ctx, "sales_order", 1, limit=2)
    assert (len(page.items), page.total) == (2, 3)
    older = web.client.get("/sales-orders/1", params={"history": 2}).text
    assert "Newer" in older
    assert "Older &rarr;" not in older


def test_the_audit_page_is_for_admins_and_filters_by_who_what_kind_and_day(web: Web) -> None:
    _scene(web)
    web.sign_in(OP)
    web.act("/sales-orders/1", {"action": "priority", "priority": "urgent"})
    assert web.client.get("/audit").status_code == 403
    web.sign_in(A)
    web.act("/system/statuses/rename", {"code": "DELAYED", "name": "Late"})
    everything = _text(web.client.get("/audit").text)
    assert "sales_order.priority" in everything
    assert "status.rename" in everything
    by_operator = _text(web.client.get("/audit", params={"actor": "OPERATOR"}).text)
    assert "sales_order.priority" in by_operator
    assert "status.rename" not in by_operator
    statuses = _text(web.client.get("/audit", params={"action": "status"}).text)
    assert "status.rename" in statuses
    assert "sales_order.priority" not in statuses
    today = web.ctx.clock().date()
    kind = {"entity": "po_line_status", "since": today.isoformat(), "until": today.isoformat()}
    assert "status.rename" in _text(web.client.get("/audit", params=kind).text)
    later = {"since": day(1).isoformat()}
    assert "No changes match." in web.client.get("/audit", params=later).text


def test_the_api_gives_admins_the_audit_trail_filtered(api: Api) -> None:
    _scene(api)
    sales.set_order_priority(api.ctx, "SO-1", "urgent", actor="api:operator")
    assert api.get("/api/audit", Role.OPERATOR).status_code == 403
    body = api.get("/api/audit", Role.ADMIN, params={"action": "sales_order"}).json()
    assert body["total"] == 1
    row = body["items"][0]
    assert (row["actor"], row["action"], row["entity"], row["entity_id"]) == (
        "api:operator",
        "sales_order.priority",
        "sales_order",
        1,
    )
    assert row["after"] == {"priority": "urgent"}


def test_bopo_audit_lists_the_trail_with_filters(
    make_api: Callable[..., Api], monkeypatch: object
) -> None:
    from typer.testing import CliRunner

    from bopo.cli import app

    api = make_api()
    _scene(api)
    runner = CliRunner()
    env = {"BOPO_DATABASE__URL": api.ctx.settings.database.url}
    result = runner.invoke(app, ["audit", "--action", "status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert "status.create" in result.output
    result = runner.invoke(app, ["audit", "--since", "yesterday"], env=env)
    assert result.exit_code != 0
    assert "since: must be a date" in result.output
