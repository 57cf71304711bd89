"""Intake's own reads and writes: the batch's orders taken before and its customers
as stored (read with the stock lock, in one round trip: bopo.db.workset.lock_skus),
the customers and orders written, and the batch's transaction tried again when the
database asks for it. The rest is the change engine's (bopo.db.workset)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from bopo.db.bulk import in_list, reserve_sql, reserved_ids
from bopo.db.engine import Database
from bopo.db.models import Association, Customer, PendingEmail, SalesOrder, SoLine
from bopo.db.queries import StockRow, by_code_sql, ensure_codes
from bopo.db.workset import lock_skus, open_supply_by_sku_sql, po_line_rows
from bopo.domain.records import PoLineRow

log = logging.getLogger("bopo.services.orders.intake")  # where intake's operators look

CUSTOMER_FIELDS = ("name", "email")  # kept up to date from the orders


@dataclass
class BatchRead:
    """A batch's stock items (locked) by SKU, the orders taken before by (source,
    number), the customers as stored, and the rows of the `gate` read."""

    stock: dict[str, StockRow]
    existing: dict[tuple[str, str], Any]
    customers: Sequence[Any]
    gate: Sequence[Any]
    supply: dict[int, PoLineRow] | None = None  # read ahead: the items' open PO lines
    reserved: dict[type[Any], list[int]] = field(default_factory=dict)  # ids reserved ahead


# What a batch read ahead reserves ids for: its orders and lines, a link per line
# and an email per order (the common case; the rest are reserved when written).
AHEAD = (SalesOrder, SoLine, Association, PendingEmail)


def read_batch(
    conn: Connection, orders: Sequence[Any], gate: Any, *, ahead: bool = False
) -> BatchRead:
    """One round trip for a batch of orders (with source, number, customer and lines):
    its stock items, locked, then the orders that exist already, the customers as
    stored and the `gate` statement (built once). The lock comes first: a transaction
    taking the same order holds it until it commits, and the orders are read once it
    has, so they include that one. With `ahead` (PostgreSQL, a small batch), the open
    PO lines of its items and ids for its rows come in the same round trip: what the
    batch would otherwise fetch in two more."""
    keys = {(o.source, o.number) for o in orders}
    skus = sorted({line.sku for order in orders for line in order.lines})
    existing_sql, customers_sql = batch_reads(conn.dialect.name)
    alongside: list[tuple[Any, Mapping[str, Any]]] = [
        (existing_sql, {"numbers": sorted({number for _, number in keys})}),
        (customers_sql, {"codes": sorted({o.customer.code for o in orders})}),
        (gate, {}),
    ]
    if ahead:
        lines = sum(len(o.lines) for o in orders)
        counts = {"n0": len(orders), "n1": lines, "n2": lines, "n3": len(orders)}
        alongside += [
            (open_supply_by_sku_sql(conn.dialect.name), {"skus": skus}),
            (reserve_sql(AHEAD), counts),
        ]
    stock, (existing_rows, customers, gate_rows, *more) = lock_skus(conn, skus, alongside)
    existing = {(r.source, r.number): r for r in existing_rows if (r.source, r.number) in keys}
    read = BatchRead(stock, existing, customers, gate_rows)
    if ahead:
        read.supply, read.reserved = po_line_rows(more[0]), reserved_ids(AHEAD, more[1])
    return read


@functools.cache
def batch_reads(dialect: str) -> tuple[Any, Any]:
    """The reads that go with the stock lock, built once: orders that exist already
    (parameter `numbers`, with what a re-sent order is compared on), the customers as
    stored (parameter `codes`)."""
    existing = (
        select(
            SalesOrder.source,
            SalesOrder.number,
            SalesOrder.id,
            Customer.code.label("customer"),
            SalesOrder.order_date,
            SalesOrder.delivery_date,
        )
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(in_list(dialect, SalesOrder.number, "numbers"))
    )
    return existing, by_code_sql(dialect, Customer, CUSTOMER_FIELDS)


_ORDER_NUMBER_UNIQUE = "uq_sales_orders_number_source"


def is_order_number_clash(exc: IntegrityError) -> bool:
    """A sales order's source + number, stored by another transaction since it was read."""
    diag = getattr(exc.orig, "diag", None)  # psycopg names the constraint
    if diag is not None:
        return getattr(diag, "constraint_name", None) == _ORDER_NUMBER_UNIQUE
    return "sales_orders.number, sales_orders.source" in str(exc.orig)  # SQLite: the columns


def is_transient(exc: DBAPIError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code in {"40001", "40P01"}  # serialization failure, deadlock detected


T = TypeVar("T")


def write_with_retries(db: Database, work: Callable[[Connection], T], *, retries: int) -> T:
    """Run `work` in a write transaction, again after a deadlock or serialization failure
    (the database resolves those by aborting one) or an order number taken meanwhile."""
    for attempt in range(1, retries + 1):
        try:
            with db.write() as conn:
                return work(conn)
        except OperationalError as exc:
            if attempt == retries or not is_transient(exc):
                raise
            log.info("retrying a batch after a transient error: %s", exc.orig)
        except IntegrityError as exc:
            # Another transaction took one of these orders after this one looked for
            # them (the same order sent twice at once). Read again: now it is there,
            # and the order is a duplicate, or changed, like any order taken before.
            if attempt == retries or not is_order_number_clash(exc):
                raise
            log.info("an order of the batch was taken meanwhile; reading again")
    raise AssertionError("unreachable")


def ensure_customers(
    conn: Connection, orders: Sequence[Any], known: Sequence[Any], now: datetime
) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """The orders' customers as they are stored now (the last order given for one wins)
    and their ids: new ones inserted, the name and email of `known` ones kept up."""
    customers = {
        o.customer.code: {"name": o.customer.name, "email": o.customer.email, "created_at": now}
        for o in orders
    }
    ids = ensure_codes(conn, Customer, customers, update=CUSTOMER_FIELDS, known=known)
    return customers, ids


# The sales_orders columns of order_rows' tuples, in order.
ORDER_COLUMNS = (
    "id",
    "source",
    "number",
    "customer_id",
    "order_date",
    "delivery_date",
    "status",
    "created_at",
    "created_by",
    "priority",
)


def order_rows(
    orders: Sequence[Any],
    order_ids: Sequence[int],
    customer_ids: Mapping[str, int],
    now: datetime,
    actor: str,
) -> list[tuple[Any, ...]]:
    """The sales_orders rows of new orders, with their reserved ids (ORDER_COLUMNS' values)."""
    return [
        (
            order_id,
            o.source,
            o.number,
            customer_ids[o.customer.code],
            o.order_date,
            o.delivery_date,
            "open",
            now,
            actor,
            o.priority.rank,
        )
        for o, order_id in zip(orders, order_ids, strict=True)
    ]
