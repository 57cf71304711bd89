"""Screenshots of the main pages for the README: `python scripts/screenshots.py`.

Loads the demo data into a throw-away SQLite database, receives some goods and
sends a few emails to a local test mail server (one address refused) so the
dashboard and the outbox have something to say, serves bopo and photographs
each page with the system's Chromium into docs/screenshots/, and a few what-if
previews (a form filled in and its Preview button pressed). Run it again
after changing a page, so the pictures stay current.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.browser import chromium, serving, sign_in  # noqa: E402
from tests.smtp_sink import Sink, SmtpServer  # noqa: E402

from bopo.api.app import create_app  # noqa: E402
from bopo.config import BackorderSettings, DatabaseSettings, Settings, SmtpSettings  # noqa: E402
from bopo.db.migrate import upgrade  # noqa: E402
from bopo.services.admin import demo, users  # noqa: E402
from bopo.services.common.inputs import NewPurchaseOrder, NewPurchaseOrderLine  # noqa: E402
from bopo.services.context import Context  # noqa: E402
from bopo.services.email import outbox  # noqa: E402
from bopo.services.orders import sales  # noqa: E402
from bopo.services.supply import goods_in, purchasing  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
# (file name, path, width): laptop width, and one page at tablet width
PAGES = [
    ("dashboard", "/", 1280),
    ("purchase-orders", "/purchase-orders", 1280),
    ("purchase-order", "/purchase-orders/PO-1002", 1280),
    ("sales-orders", "/sales-orders", 1280),
    ("sales-order", "/sales-orders/by-number?number=W-5005&source=web", 1280),
    ("new-sales-order", "/sales-orders/new", 1280),
    ("worklist", "/worklist", 1280),
    ("goods-in", "/goods-in", 1280),
    ("emails", "/emails", 1280),
    ("email", "/emails/5", 1280),
    ("emails-failed", "/emails?state=failed", 1280),
    ("system", "/system", 1280),
    ("email-template", "/system/templates/1", 1280),
    ("import", "/import", 1280),
    ("settings", "/settings", 1280),
    ("search", "/search?q=w-50", 1280),
    ("customer", "/customers/1", 1280),
    ("users", "/admin", 1280),
    ("audit", "/audit", 1280),
    ("short-items", "/short-items", 1280),
    ("new-purchase-order", "/purchase-orders/new?sku=KNF-08&qty=4", 1280),
    ("receipt", "/goods-in/receipts/1", 1280),
    ("goods-in-phone", "/goods-in", 390),
    ("worklist-tablet", "/worklist", 820),
    ("email-template-tablet", "/system/templates/1", 820),
    ("sales-order-tablet", "/sales-orders/by-number?number=W-5005&source=web", 820),
]
# Previews are the answer to a form: (file name, PO page, the Preview button to press,
# the fields to fill first, width).
PREVIEWS = [
    ("what-if", "/purchase-orders/PO-1002", "Preview cancelling line 1", {}, 1280),
    (
        "what-if-due-date",
        "/purchase-orders/PO-1001",
        "Preview the due date change of line 2",
        {"Due date of line 2": 24},
        1280,
    ),
    ("what-if-tablet", "/purchase-orders/PO-1002", "Preview cancelling line 1", {}, 820),
]
REFUSED = "alan@example.com"  # the demo customer whose mail server says no


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    mail = SmtpServer(Sink(refuse={REFUSED: "550 5.1.1 mailbox unavailable"})).start()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/screens.db"
        settings = Settings(
            database=DatabaseSettings(url=url),
            backorders=BackorderSettings(
                allocate_existing_pos=True, default_po_line_status="ON ORDER"
            ),
            smtp=SmtpSettings(host="127.0.0.1", port=mail.port),
        )
        ctx = Context.from_settings(settings)
        upgrade(ctx.db)
        demo.load_demo(ctx)
        name, password, _ = users.ensure_demo_login(ctx)
        goods_in.receive(ctx, "PO-1001", 1, 8, actor="web:demo")
        # A PO placed since the orders came in: the worklist shows it as a candidate.
        soon = ctx.clock().date() + timedelta(days=8)
        purchasing.add_purchase_orders(
            ctx,
            [
                NewPurchaseOrder(
                    number="PO-1004",
                    supplier_code="FORGE",
                    lines=[
                        NewPurchaseOrderLine(line_no=1, sku="KNF-08", qty=6, due_date=soon),
                        NewPurchaseOrderLine(
                            line_no=2, sku="BRD-40", qty=10, due_date=soon, status="ON ORDER"
                        ),
                    ],
                )
            ],
            actor="web:demo",
        )
        outbox.send_now(ctx, limit=3)  # the oldest three: sent, or refused
        sales.set_order_priority(ctx, "W-5005", "high", actor="web:demo")
        with serving(create_app(settings, ctx=ctx)) as base, chromium() as browser:
            for file, path, width in PAGES:
                page = browser.new_page(viewport={"width": width, "height": 900})
                sign_in(page, base, name, password)
                page.goto(base + path)
                _shoot(page, file, width)
            today = ctx.clock().date()
            for file, path, button, fill, width in PREVIEWS:
                page = browser.new_page(viewport={"width": width, "height": 900})
                sign_in(page, base, name, password)
                page.goto(base + path)
                for details in page.locator("details.line-actions").all():
                    details.evaluate("d => { d.open = true; }")
                for label, days in fill.items():
                    due = today + timedelta(days=days)
                    page.get_by_label(label, exact=True).fill(due.isoformat())
                page.get_by_role("button", name=button).click()
                page.wait_for_load_state()
                _shoot(page, file, width)
        ctx.db.dispose()
    mail.stop()


def _shoot(page: Any, file: str, width: int) -> None:
    # The whole page in the viewport: Chromium leaves frames below it unpainted.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": width, "height": height})
    page.screenshot(path=str(OUT / f"{file}.png"), full_page=True)
    page.close()
    print(f"wrote {OUT / file}.png")


if __name__ == "__main__":
    main()
