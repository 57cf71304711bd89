"""Web pages on the benchmark data set: every page's server time, on SQLite and PostgreSQL.

Loads 5,000 items, 20,000 PO lines and 100,000 orders (allocation on, with a
BACK_ORDER template on every status, so nearly every order queues an email),
then 20% more orders with allocation off so that the worklist holds tens of
thousands of lines. The outbox is then spread over the states a mailer leaves
(most sent, some failed with an error, a few cancelled, the rest pending).
Times each page (request to last byte, in process, so the figure is bopo's
own time: queries and rendering) five times, the sales-order page with each
line's why among them, and what-if previews posted as the PO page posts them.
"""

from __future__ import annotations

import re
import statistics
import time
import warnings
from typing import Any

from sqlalchemy import text

from bench import million
from bench.common import WORK, Scale, context, database
from bench.generate import STATUSES, generate
from bopo.api.app import create_app
from bopo.services.admin import demo, users
from bopo.services.email import templates
from bopo.services.files import imports
from bopo.services.supply import catalog

TARGET_MS = 300
TIMES = 5


def pages(scale: Scale, email_id: int, email_order: int) -> list[str]:
    po = f"PO-{scale.po_lines // 20:06d}"
    so = f"SO-{scale.orders // 2:07d}"
    return [
        "/",
        "/purchase-orders",
        "/purchase-orders?state=open&due_before=2026-12-31",
        f"/purchase-orders/{po}",
        "/sales-orders",
        f"/sales-orders?offset={scale.orders // 2}",
        "/sales-orders?waiting=yes",
        "/sales-orders?sku=SKU-00042",
        f"/sales-orders/by-number?number={so}&source=web",
        "/worklist",
        f"/worklist?offset={scale.orders // 4}",
        "/worklist?reason=feature+off&source=shop",
        "/goods-in",
        "/emails",
        f"/emails?offset={scale.orders // 10}",
        f"/emails?state=sent&offset={scale.orders // 5}",
        "/emails?state=failed",
        "/emails?state=all&event=intake",
        f"/emails?state=all&order={email_order}",
        f"/emails/{email_id}",
        "/system",
        "/system/templates/1",
        "/settings",
        "/sales-orders?priority=urgent",
        "/search?q=sku-0004",  # a prefix of ten SKUs, and in no order number
        f"/search?q={so[4:]}",  # the middle of an order number
        "/search?q=c1234@example",  # part of a customer's email
        "/sales-orders?q=customer+1234",
        "/worklist?q=sku-00042",
        "/customers/1234",
        "/goods-in?window=week",
        "/goods-in?window=overdue",
        "/short-items",
        "/purchase-orders/new?sku=SKU-00042&qty=5",
        "/audit",
        "/audit?action=so_line",
        "/admin",
        "/stock-items/SKU-00042",
    ]


def routes(scale: Scale) -> list[str]:
    """The API's lists: each first page, a deep page, and the filters an integration uses."""
    deep = scale.orders // 2
    return [
        "/api/sales-orders",
        f"/api/sales-orders?offset={deep}",
        "/api/sales-orders?waiting=true",
        "/api/sales-orders?sku=SKU-00042",
        "/api/sales-orders?customer=C01234",
        "/api/sales-orders?status=open&priority=urgent",
        "/api/backorders",
        f"/api/backorders?offset={scale.orders // 4}",
        "/api/backorders?sku=SKU-00042",
        "/api/backorders?source=shop",
        "/api/purchase-orders",
        f"/api/purchase-orders?offset={scale.po_lines // 20}",
        "/api/purchase-orders?open=true&due_before=2026-12-31",
        "/api/po-lines",
        "/api/po-lines?sku=SKU-00042",
        "/api/associations",
        f"/api/associations?offset={scale.orders}",
        "/api/associations?sku=SKU-00042",
        "/api/emails",
        f"/api/emails?offset={scale.orders // 5}",
        "/api/emails?state=failed",
        "/api/emails?event=intake",
        "/api/customers",
        "/api/customers?q=customer+1234",
        "/api/stock-items",
        "/api/stock-items?short=true",
        "/api/suppliers",
        "/api/receipts",
        "/api/audit",
        f"/api/audit?offset={scale.orders}",
        "/api/audit?entity=po_line",
    ]


def _keyed(conn: Any, scale: Scale) -> list[str]:
    """The deep pages again as their Next links reach them: by key (`after`), the offset
    only numbering the page."""

    def at(table: str, n: int) -> int:
        return int(
            conn.scalar(
                text(f"SELECT id FROM {table} ORDER BY id DESC LIMIT 1 OFFSET :n"), {"n": n}
            )
        )

    half, quarter = scale.orders // 2, scale.orders // 4
    so, links = at("sales_orders", half - 1), at("associations", scale.orders - 1)
    trail = at("audit_log", scale.orders - 1)
    line = conn.scalar(  # the worklist in serving order
        text(
            "SELECT l.id FROM so_lines l JOIN sales_orders s ON s.id = l.sales_order_id "
            "WHERE l.backorder_reason IS NOT NULL "
            "ORDER BY s.priority DESC, s.delivery_date, s.id, l.line_no LIMIT 1 OFFSET :n"
        ),
        {"n": quarter - 1},
    )
    return [
        f"/worklist?offset={quarter}&after={line}",
        f"/api/backorders?offset={quarter}&after={line}",
        f"/sales-orders?offset={half}&after={so}",
        f"/api/sales-orders?offset={half}&after={so}",
        f"/api/associations?offset={scale.orders}&after={links}",
        f"/api/audit?offset={scale.orders}&after={trail}",
    ]


def previews(po: str, line_no: int) -> list[tuple[str, dict[str, str]]]:
    """What-if previews on a PO line, posted as the PO page's Preview buttons post them."""
    line = {"line_no": str(line_no)}
    return [
        (f"/what-if/purchase-orders/{po}", line | {"action": "due", "due_date": "2027-03-01"}),
        (f"/what-if/purchase-orders/{po}", line | {"action": "cancel-line"}),
        (f"/what-if/purchase-orders/{po}", line | {"action": "receive", "qty": "5"}),
    ]


# The outbox as a mailer leaves it: by email id, most sent, some failed, a few cancelled.
SPREAD = [
    "UPDATE pending_emails SET state = 'sent', attempts = 1, sent_at = created_at "
    "WHERE id % 10 < 6",
    "UPDATE pending_emails SET state = 'failed', attempts = 5, "
    "last_error = 'recipient refused: 550 no such mailbox' WHERE id % 50 = 7",
    "UPDATE pending_emails SET state = 'cancelled' WHERE id % 100 = 9",
]


def _load(url: str, scale: Scale) -> None:
    files = generate(WORK / "web", items=scale.items, po_lines=scale.po_lines, orders=scale.orders)
    more = generate(
        WORK / "web-off", items=scale.items, po_lines=0, orders=scale.orders // 5, seed=8
    )
    shop = more["so"].read_text().replace("\nweb,", "\nshop,")
    more["so"].write_text(shop)
    ctx = context(url)
    name, subject, body_text, body_html, _ = demo.TEMPLATES[0]
    templates.add_template(ctx, name, subject, body_text, body_html, actor="bench")
    for code in STATUSES:
        catalog.add_status(ctx, code, code.title(), actor="bench")
        catalog.set_status_template(ctx, code, name, actor="bench")
    assert imports.import_stock_items(ctx, files["stock"]).ok
    assert imports.import_purchase_orders(ctx, files["po"]).ok
    assert imports.import_sales_orders(ctx, files["so"]).ok
    off = context(url, allocate_existing_pos=False)
    assert imports.import_sales_orders(off, more["so"]).ok
    users.add_user(ctx, "bench", "admin", password="bench-password", actor="bench")
    with ctx.db.write() as conn:
        for statement in SPREAD:
            conn.execute(text(statement))
    if not url.startswith("sqlite"):
        with ctx.db.write() as conn:  # as autovacuum would shortly after a bulk load
            conn.execute(text("ANALYZE"))
    ctx.db.dispose()
    off.db.dispose()


def _time_pages(url: str, scale: Scale) -> dict[str, float]:
    from fastapi.testclient import TestClient

    ctx = context(url)
    client = TestClient(create_app(ctx.settings, ctx=ctx))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    form = {"name": "bench", "password": "bench-password", "csrf_token": token[1]}
    assert client.post("/login", data=form, follow_redirects=False).status_code == 303
    with ctx.db.read() as conn:  # an email half-way down the outbox, and its order
        email_id, email_order = conn.execute(
            text(
                "SELECT id, sales_order_id FROM pending_emails "
                "WHERE id >= (SELECT max(id) / 2 FROM pending_emails) ORDER BY id LIMIT 1"
            )
        ).one()
        # The undelivered PO line with the most orders linked: its previews list the most.
        po, line_no = conn.execute(
            text(
                "SELECT p.number, l.line_no FROM po_lines l "
                "JOIN purchase_orders p ON p.id = l.purchase_order_id "
                "WHERE l.qty_delivered = 0 AND l.qty_cancelled = 0 "
                "ORDER BY l.qty_associated DESC, l.id LIMIT 1"
            )
        ).one()
        keyed = _keyed(conn, scale)
    web_keyed = [k for k in keyed if not k.startswith("/api/")]
    asks: list[tuple[str, str, dict[str, str] | None]] = [
        (path, path, None) for path in pages(scale, email_id, email_order) + web_keyed
    ]
    # Signing in made a new session, with a new CSRF token: the previews carry that one.
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/system").text)
    assert token is not None
    asks += [
        (
            f"POST {path} line {line_no} {fields['action']}",
            path,
            fields | {"csrf_token": token[1]},
        )
        for path, fields in previews(po, line_no)
    ]
    out = {}
    for name, path, posted in asks:
        if posted is None:
            out[name] = _median_ms(lambda p=path: client.get(p), path)
        else:  # a refused preview would redirect: not what is to be timed
            out[name] = _median_ms(
                lambda p=path, d=posted: client.post(p, data=d, follow_redirects=False), path
            )
    token = users.create_token(ctx, "bench", actor="bench").secret
    api = {"Authorization": f"Bearer {token}"}
    for path in routes(scale) + [k for k in keyed if k.startswith("/api/")]:
        out[f"GET {path}"] = _median_ms(lambda p=path: client.get(p, headers=api), path)
    ctx.db.dispose()
    return out


def _median_ms(ask: Any, path: str) -> float:
    spent = []
    for _ in range(TIMES):
        start = time.perf_counter()
        answer = ask()
        spent.append(1000 * (time.perf_counter() - start))
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:200])
    return round(statistics.median(spent), 1)


def _time_switch_on(url: str) -> float:
    """The switch-on preview's first page (its first 1,000 waiting orders, worked out
    against their items' open PO lines), timed on its own (once)."""
    from fastapi.testclient import TestClient

    ctx = context(url, allocate_existing_pos=False)
    client = TestClient(create_app(ctx.settings, ctx=ctx))
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    login = {"name": "bench", "password": "bench-password", "csrf_token": token[1]}
    assert client.post("/login", data=login, follow_redirects=False).status_code == 303
    start = time.perf_counter()
    answer = client.get("/what-if/switch-on")
    spent = 1000 * (time.perf_counter() - start)
    assert answer.status_code == 200, answer.status_code
    ctx.db.dispose()
    return round(spent, 1)


def run(scale: Scale) -> dict[str, Any]:
    """Above the normal scale, PostgreSQL only, on a database kept between runs
    (bench/million.py)."""
    warnings.simplefilter("ignore", DeprecationWarning)
    figures: dict[str, Any] = {}
    if scale.orders > Scale().orders:
        url, seconds = million.prepared(scale, _load)
        figures["web_postgresql_build_s"] = seconds  # None: the kept database was used
        _time_all(figures, "postgresql", url, scale)
        return figures
    for kind in ("sqlite", "postgresql"):
        with database(kind) as url:
            _load(url, scale)
            _time_all(figures, kind, url, scale)
    return figures


def _time_all(figures: dict[str, Any], kind: str, url: str, scale: Scale) -> None:
    timings = _time_pages(url, scale)
    figures[f"web_{kind}_switch_on_preview_ms"] = _time_switch_on(url)
    pages_ms = {k: v for k, v in timings.items() if not k.startswith("GET /api/")}
    routes_ms = {k: v for k, v in timings.items() if k.startswith("GET /api/")}
    figures[f"web_{kind}_slowest_page_ms"] = max(pages_ms.values())
    figures[f"web_{kind}_slowest_page_ms_target"] = {"max": TARGET_MS}
    figures[f"web_{kind}_slowest_route_ms"] = max(routes_ms.values())
    figures[f"web_{kind}_slowest_route_ms_target"] = {"max": TARGET_MS}
    figures[f"web_{kind}_pages_ms"] = pages_ms  # median of five, per page
    figures[f"web_{kind}_routes_ms"] = routes_ms
