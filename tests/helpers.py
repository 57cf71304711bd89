"""Short ways to set the scene in tests, through the real services."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from bopo.db.models import StockItem
from bopo.domain.statuses import Priority
from bopo.services.common.inputs import (
    NewCustomer,
    NewPurchaseOrder,
    NewPurchaseOrderLine,
    NewSalesOrder,
    NewSalesOrderLine,
    NewStockItem,
)
from bopo.services.context import Context
from bopo.services.orders import sales
from bopo.services.orders.outcomes import LineOutcome
from bopo.services.supply import catalog, purchasing
from bopo.services.supply.purchasing import PoLineView
from bopo.services.worklist.backorders import list_backorders
from tests.clock import TODAY


def day(n: int) -> date:
    """A date n days from the tests' fixed today."""
    return TODAY + timedelta(days=n)


def given_stock(ctx: Context, **on_hand: int) -> None:
    catalog.upsert_stock_items(
        ctx,
        [NewStockItem(sku=sku, name=f"Item {sku}", on_hand=n) for sku, n in on_hand.items()],
        actor="test",
    )


def given_status(ctx: Context, code: str, name: str | None = None) -> None:
    catalog.add_status(ctx, code, name or code.title(), actor="test")


def given_po(ctx: Context, number: str, *lines: tuple[Any, ...], supplier: str = "SUP") -> None:
    """lines: (sku, qty, due_date, status) with status optional."""
    purchasing.add_purchase_orders(
        ctx,
        [
            NewPurchaseOrder(
                number=number,
                supplier_code=supplier,
                lines=[
                    NewPurchaseOrderLine(
                        line_no=i,
                        sku=line[0],
                        qty=line[1],
                        due_date=line[2],
                        status=line[3] if len(line) > 3 else None,
                    )
                    for i, line in enumerate(lines, 1)
                ],
            )
        ],
        actor="test",
    )


def order(
    number: str,
    *lines: tuple[str, int],
    delivery: date | None = None,
    customer: str = "C1",
    source: str = "web",
    priority: str = "normal",
) -> NewSalesOrder:
    return NewSalesOrder(
        source=source,
        priority=Priority(priority),
        number=number,
        customer=NewCustomer(
            code=customer, name=f"Customer {customer}", email=f"{customer.lower()}@example.com"
        ),
        order_date=TODAY,
        delivery_date=delivery or day(7),
        lines=[NewSalesOrderLine(line_no=i, sku=s, qty=q) for i, (s, q) in enumerate(lines, 1)],
    )


# --- reading how things stand -----------------------------------------------------------------


def stock_of(ctx: Context, sku: str) -> tuple[int, int]:
    """(on_hand, assigned) of a stock item."""
    with ctx.db.read() as conn:
        row = conn.execute(
            select(StockItem.on_hand, StockItem.assigned).where(StockItem.sku == sku)
        ).one()
    return row.on_hand, row.assigned


def line_of(ctx: Context, number: str, line_no: int = 1) -> LineOutcome:
    return sales.show_sales_order(ctx, number).lines[line_no - 1]


def po_line_of(ctx: Context, number: str, line_no: int = 1) -> PoLineView:
    return purchasing.show_purchase_order(ctx, number).lines[line_no - 1]


def worklist(ctx: Context) -> dict[str, str]:
    """'SO-1:1' -> reason, for every worklist line."""
    return {f"{b.number}:{b.line_no}": b.reason for b in list_backorders(ctx)}


# How long a test waits for a process (or a served app) of its own to come up: importing
# bopo on a shared 2-core CI machine running two test workers has taken over 30 s. The
# waits end as soon as the process answers, so a generous bound costs nothing.
STARTUP_S = 90


BACK_ORDER_TEXT = """Dear {{ customer.name }},

Items on your order {{ order.number }} are on their way to us:
{% for line in lines %}
- {{ line.qty }} x {{ line.item_name }} ({{ line.sku }}), expected {{ line.expected | date }}
{% endfor %}

{{ company.name }}
"""
BACK_ORDER_HTML = """<p>Dear {{ customer.name }},</p>
<ul>{% for line in lines %}<li>{{ line.qty }} x {{ line.item_name }}</li>{% endfor %}</ul>"""


def given_template(
    ctx: Context,
    name: str = "Back order",
    *,
    subject: str = "Your order {{ order.number }}: expected dates",
    text: str = BACK_ORDER_TEXT,
    html: str | None = None,
    statuses: tuple[str, ...] = (),
) -> None:
    """A BACK_ORDER template, attached to the given statuses."""
    from bopo.services.email import templates

    templates.add_template(ctx, name, subject, text, html, actor="test")
    for code in statuses:
        catalog.set_status_template(ctx, code, name, actor="test")
