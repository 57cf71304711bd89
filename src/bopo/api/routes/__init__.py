"""One router per resource; the app includes every router listed here."""

from __future__ import annotations

from fastapi import APIRouter

from bopo.api.routes import (
    associations,
    audit,
    backorders,
    customers,
    email_templates,
    emails,
    ops,
    po_lines,
    promise,
    purchase_orders,
    receipts,
    sales_orders,
    statuses,
    stock_items,
    suppliers,
    system,
    webhooks,
)

ROUTERS: list[APIRouter] = [
    stock_items.router,
    customers.router,
    suppliers.router,
    statuses.router,
    purchase_orders.router,
    po_lines.router,
    sales_orders.router,
    backorders.router,
    receipts.router,
    associations.router,
    email_templates.router,
    emails.router,
    promise.explain_router,
    promise.what_if_router,
    system.router,
    webhooks.router,
    ops.router,
    audit.router,
]
