"""One router per page group; web/app.py includes every router listed here."""

from __future__ import annotations

from fastapi import APIRouter

from bopo.web.routes import (
    admin,
    audit,
    auth,
    buying,
    customers,
    dashboard,
    email_templates,
    emails,
    exports,
    goods_in,
    imports,
    purchase_orders,
    sales_orders,
    search,
    stock_items,
    system,
    what_if,
    worklist,
)

ROUTERS: list[APIRouter] = [
    auth.router,
    dashboard.router,
    buying.router,  # before purchase_orders: /purchase-orders/new is its form
    purchase_orders.router,
    sales_orders.router,
    worklist.router,
    goods_in.router,
    emails.router,
    imports.router,
    system.router,
    email_templates.router,
    what_if.router,
    exports.router,
    search.router,
    stock_items.router,
    customers.router,
    admin.router,
    audit.router,
]
