"""Customers and suppliers, as lists and one at a time.

Both come in with the orders that name them (intake upserts customers,
purchase-order imports upsert suppliers), so there is nothing to create here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from bopo.db.models import Customer, PurchaseOrder, SalesOrder, Supplier
from bopo.errors import NotFound
from bopo.services.common.pages import AnySelect, Page, fetch_page
from bopo.services.context import Context


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    code: str
    name: str
    email: str
    created_at: datetime
    orders: int


@dataclass(frozen=True, slots=True)
class SupplierView:
    id: int
    code: str
    name: str
    email: str | None
    created_at: datetime
    purchase_orders: int


def customer_rows() -> AnySelect:
    """Customers as CustomerView reads them, with their number of orders."""
    orders = (
        select(func.count())
        .where(SalesOrder.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )
    return select(
        Customer.id,
        Customer.code,
        Customer.name,
        Customer.email,
        Customer.created_at,
        orders.label("orders"),
    )


def find_customers(
    ctx: Context,
    *,
    q: str | None = None,
    email: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[CustomerView]:
    """Customers by code; `q` is part of the code or name, `email` an exact address."""
    stmt = customer_rows().order_by(Customer.code)
    if q:
        stmt = stmt.where(
            Customer.code.contains(q, autoescape=True) | Customer.name.contains(q, autoescape=True)
        )
    if email:
        stmt = stmt.where(func.lower(Customer.email) == email.strip().lower())
    with ctx.db.read() as conn:
        return fetch_page(conn, stmt, CustomerView, limit=limit, offset=offset)


def get_customer(ctx: Context, code: str) -> CustomerView:
    with ctx.db.read() as conn:
        row = conn.execute(customer_rows().where(Customer.code == code)).first()
    if row is None:
        raise NotFound("customer", code)
    return CustomerView(**row._mapping)


def _suppliers() -> AnySelect:
    pos = (
        select(func.count())
        .where(PurchaseOrder.supplier_id == Supplier.id)
        .correlate(Supplier)
        .scalar_subquery()
    )
    return select(
        Supplier.id,
        Supplier.code,
        Supplier.name,
        Supplier.email,
        Supplier.created_at,
        pos.label("purchase_orders"),
    )


def find_suppliers(
    ctx: Context, *, q: str | None = None, limit: int = 50, offset: int = 0
) -> Page[SupplierView]:
    """Suppliers by code; `q` is part of the code or name."""
    stmt = _suppliers().order_by(Supplier.code)
    if q:
        stmt = stmt.where(
            Supplier.code.contains(q, autoescape=True) | Supplier.name.contains(q, autoescape=True)
        )
    with ctx.db.read() as conn:
        return fetch_page(conn, stmt, SupplierView, limit=limit, offset=offset)


def get_supplier(ctx: Context, code: str) -> SupplierView:
    with ctx.db.read() as conn:
        row = conn.execute(_suppliers().where(Supplier.code == code)).first()
    if row is None:
        raise NotFound("supplier", code)
    return SupplierView(**row._mapping)
