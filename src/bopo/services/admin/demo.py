"""A small, believable data set: a kitchenware shop with goods on order."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, insert, select

from bopo.db.audit import event
from bopo.db.models import AuditEvent, PoLineStatus, StockItem
from bopo.services.admin.users import DEMO_LOADED
from bopo.services.common.inputs import (
    NewCustomer,
    NewPurchaseOrder,
    NewPurchaseOrderLine,
    NewSalesOrder,
    NewSalesOrderLine,
    NewStockItem,
)
from bopo.services.context import Context
from bopo.services.email import templates
from bopo.services.orders.intake import take_orders
from bopo.services.orders.outcomes import OrderResult
from bopo.services.supply import catalog, purchasing

STATUSES = [
    ("ON ORDER", "On order"),
    ("CONFIRMED", "Confirmed by supplier"),
    ("DELAYED", "Delayed by supplier"),
]
_SIGN_OFF = """
If you would rather not wait, reply to this email and we will sort it out.

Kind regards,
{{ company.name }}
"""
_HTML_TABLE = """<table>
  <tr><th align="left">Item</th><th align="right">Qty</th><th align="left">Expected</th></tr>
{% for line in lines %}
  <tr><td>{{ line.item_name }} ({{ line.sku }})</td><td align="right">{{ line.qty }}</td>
      <td>{% if line.overdue %}being confirmed by our supplier{% else %}
          {{- line.expected | date }}{% endif %}</td></tr>
{% endfor %}
</table>"""
# (name, subject, text body, HTML body, statuses it is attached to)
TEMPLATES: list[tuple[str, str, str, str | None, list[str]]] = [
    (
        "Back order: on its way",
        "Your order {{ order.number }}: {{ lines | length }} item(s) on their way to us",
        """Dear {{ customer.name }},

Thank you for your order {{ order.number }} of {{ order.order_date | date }}.
Some items are not on our shelves right now, but they are on order with our
supplier and set aside for you:

{{ table(lines) }}

{% if lines | selectattr("overdue") | list %}
Where it says "being confirmed", the supplier's delivery is late and we are
confirming a new date with them; we will let you know.

{% endif %}
We will send them as soon as they arrive.
"""
        + _SIGN_OFF,
        """<p>Dear {{ customer.name }},</p>
<p>Thank you for your order <b>{{ order.number }}</b> of {{ order.order_date | date }}.
Some items are not on our shelves right now, but they are on order with our supplier
and set aside for you:</p>
"""
        + _HTML_TABLE
        + """
{% if lines | selectattr("overdue") | list %}<p>Where it says "being confirmed", the supplier's
delivery is late and we are confirming a new date with them; we will let you know.</p>{% endif %}
<p>We will send them as soon as they arrive.</p>
<p>Kind regards,<br>{{ company.name }}</p>""",
        ["ON ORDER", "CONFIRMED"],
    ),
    (
        "Back order: delayed",
        "Order {{ order.number }}: a delay from our supplier",
        """Dear {{ customer.name }},

We are sorry: our supplier has told us that these items on your order
{{ order.number }} will reach us later than planned.

{% for line in lines %}
{% if line.overdue %}
- {{ line.qty }} x {{ line.item_name }}: overdue; the supplier's new date is being confirmed
{% else %}
- {{ line.qty }} x {{ line.item_name }}: now expected {{ line.expected | date }}
{% endif %}
{% endfor %}
"""
        + _SIGN_OFF,
        None,
        ["DELAYED"],
    ),
]
ITEMS = [
    ("KET-01", "Enamel kettle, 1.7 l, sage", 4),
    ("MUG-12", "Stoneware mug, 350 ml", 40),
    ("PAN-28", "Cast-iron skillet, 28 cm", 0),
    ("KNF-08", "Chef's knife, 20 cm", 2),
    ("BRD-40", "Oak chopping board, 40 cm", 0),
    ("GRN-05", "Hand coffee grinder", 1),
    ("TEA-02", "Glass teapot, 1 l", 0),
    ("TWL-03", "Linen tea towels, set of 3", 12),
]
# (number, supplier code, supplier name, [(sku, qty, due in days, status)])
PURCHASE_ORDERS: list[tuple[str, str, str, list[tuple[str, int, int, str | None]]]] = [
    (
        "PO-1001",
        "NORDIC",
        "Nordic Kitchenware AB",
        [("PAN-28", 20, 10, "CONFIRMED"), ("KET-01", 12, 14, "ON ORDER")],
    ),
    (
        "PO-1002",
        "FORGE",
        "Forge & Field Ltd",
        [("PAN-28", 10, 5, None), ("BRD-40", 6, 21, "ON ORDER"), ("GRN-05", 4, 7, "DELAYED")],
    ),
    ("PO-1003", "GLASSWORKS", "Bohemia Glassworks", [("TEA-02", 3, 12, "ON ORDER")]),
]
CUSTOMERS = {
    "C-ADA": ("Ada Lovelace", "ada@example.com"),
    "C-GRACE": ("Grace Hopper", "grace@example.com"),
    "C-ALAN": ("Alan Turing", "alan@example.com"),
    "C-KATH": ("Katherine Johnson", "katherine@example.com"),
    "C-EDSGER": ("Edsger Dijkstra", "edsger@example.com"),
}
# (source, number, customer, delivery in days, [(sku, qty)])
SALES_ORDERS: list[tuple[str, str, str, int, list[tuple[str, int]]]] = [
    ("web", "W-5001", "C-ADA", 3, [("KET-01", 2), ("MUG-12", 4)]),
    ("web", "W-5002", "C-GRACE", 4, [("PAN-28", 2), ("TWL-03", 1)]),
    ("marketplace", "M-88120", "C-ALAN", 2, [("PAN-28", 6)]),
    ("web", "W-5003", "C-KATH", 6, [("KET-01", 3), ("BRD-40", 2)]),
    ("web", "W-5004", "C-EDSGER", 5, [("TEA-02", 5), ("KNF-08", 1)]),
    ("marketplace", "M-88121", "C-ADA", 7, [("GRN-05", 3)]),
    ("web", "W-5005", "C-GRACE", 9, [("KNF-08", 3), ("PAN-28", 4)]),
    ("web", "W-5006", "C-ALAN", 10, [("BRD-40", 5), ("MUG-12", 6)]),
]


def load_demo(ctx: Context, *, actor: str = "demo") -> list[OrderResult] | None:
    """Load the demo set into an empty database; None if there is data already."""
    with ctx.db.read() as conn:
        if conn.scalar(select(func.count()).select_from(StockItem)):
            return None
        have = set(conn.scalars(select(PoLineStatus.code)))
    today = ctx.clock().date()
    for code, name in STATUSES:
        if code not in have:
            catalog.add_status(ctx, code, name, actor=actor)
    known = set(templates.template_names(ctx))
    for name, subject, text, html, codes in TEMPLATES:
        if name not in known:
            templates.add_template(ctx, name, subject, text, html, actor=actor)
        for code in codes:
            catalog.set_status_template(ctx, code, name, actor=actor)
    catalog.upsert_stock_items(
        ctx, [NewStockItem(sku=s, name=n, on_hand=q) for s, n, q in ITEMS], actor=actor
    )
    purchasing.add_purchase_orders(ctx, _purchase_orders(today), actor=actor)
    results = take_orders(ctx, _sales_orders(today), actor=actor)
    with ctx.db.write() as conn:  # what `bopo users demo-login` asks before it adds its login
        conn.execute(
            insert(AuditEvent).values(
                event(ctx.clock(), actor, DEMO_LOADED, "database", 0, None, {})
            )
        )
    return results


def _purchase_orders(today: date) -> list[NewPurchaseOrder]:
    return [
        NewPurchaseOrder(
            number=number,
            supplier_code=code,
            supplier_name=name,
            order_date=today,
            lines=[
                NewPurchaseOrderLine(
                    line_no=i,
                    sku=sku,
                    qty=qty,
                    due_date=today + timedelta(days=due),
                    status=status,
                )
                for i, (sku, qty, due, status) in enumerate(lines, 1)
            ],
        )
        for number, code, name, lines in PURCHASE_ORDERS
    ]


def _sales_orders(today: date) -> list[NewSalesOrder]:
    orders = []
    for source, number, customer, delivery, lines in SALES_ORDERS:
        name, email = CUSTOMERS[customer]
        raw: dict[str, Any] = {
            "source": source,
            "number": number,
            "customer": NewCustomer(code=customer, name=name, email=email),
            "order_date": today,
            "delivery_date": today + timedelta(days=delivery),
            "lines": [
                NewSalesOrderLine(line_no=i, sku=s, qty=q) for i, (s, q) in enumerate(lines, 1)
            ],
        }
        orders.append(NewSalesOrder(**raw))
    return orders
