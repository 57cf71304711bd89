"""One search box: sales orders, purchase orders, stock items and customers by any part
of their numbers, SKUs, names, codes and email addresses, in any case.

Each kind is ranked on its own: an exact match first, then a value that starts with
what was typed, then one that has it anywhere; shorter values before longer among
equals. Every searched column has an index on lower(column) (see
`bopo.db.models.search_index`): a trigram index on PostgreSQL, so a part from the
middle is found without reading the table; on SQLite exact and prefix matches come
from a b-tree and a middle part scans.

Fewer than MIN_CONTAINS characters match exact values and prefixes only: "a" anywhere
in a name is nearly every row, and trigrams need three characters to narrow anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, case, func, literal, or_, select

from bopo.db.models import Customer, PurchaseOrder, SalesOrder, StockItem, Supplier
from bopo.services.context import Context

MIN_CONTAINS = 3
MAX_QUERY = 100
PER_KIND = 20


class Kind(StrEnum):
    SALES_ORDER = "sales order"
    PURCHASE_ORDER = "purchase order"
    STOCK_ITEM = "stock item"
    CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class Hit:
    kind: Kind
    id: int
    key: str  # the order or PO number, the SKU, the customer code
    title: str  # what to show beside the key: customer, supplier, item or customer name
    detail: str  # one more fact: the source, an email address
    rank: int  # 0 exact, 1 starts with, 2 contains


@dataclass(frozen=True, slots=True)
class Group:
    kind: Kind
    hits: list[Hit]
    more: bool  # more than PER_KIND matched


@dataclass(frozen=True, slots=True)
class Results:
    query: str
    groups: list[Group]  # every kind, in Kind's order, empty ones included
    contains: bool  # whether parts anywhere were searched (MIN_CONTAINS characters)

    @property
    def total(self) -> int:
        return sum(len(g.hits) for g in self.groups)


def normal(query: str | None) -> str:
    """What is searched for: trimmed, lower case, at most MAX_QUERY characters."""
    return (query or "").strip().lower()[:MAX_QUERY]


def _escaped(part: str) -> str:
    return part.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def matches(columns: Sequence[Any], query: str) -> ColumnElement[bool]:
    """Any of the columns has the query in it, in any case (a prefix when it is short).

    Written as `lower(column) LIKE ...` so that the search indexes serve it.
    """
    q = normal(query)
    pattern = _escaped(q) + "%"
    if len(q) >= MIN_CONTAINS:
        pattern = "%" + pattern
    return or_(*(func.lower(c).like(pattern, escape="\\") for c in columns))


def same(column: Any, value: str) -> ColumnElement[bool]:
    """The column equals the value in any case: `w-5004` is W-5004 (served by the search
    index on lower(column))."""
    return func.lower(column) == value.strip().lower()


def rank(columns: Sequence[Any], query: str) -> ColumnElement[int]:
    """The best rank among the columns: 0 exact, 1 starts with, 2 contains."""
    q = normal(query)
    prefix = _escaped(q) + "%"
    exact = or_(*(func.lower(c) == q for c in columns))
    starts = or_(*(func.lower(c).like(prefix, escape="\\") for c in columns))
    return case((exact, literal(0)), (starts, literal(1)), else_=literal(2))


def search(ctx: Context, query: str, *, per_kind: int = PER_KIND) -> Results:
    """Everything the query finds, grouped by kind, the best matches of each first."""
    q = normal(query)
    if not q:
        return Results("", [Group(k, [], False) for k in Kind], False)
    kinds: list[tuple[Kind, Any, list[Any], Any, Any, Any]] = [
        (
            Kind.SALES_ORDER,
            SalesOrder.id,
            [SalesOrder.number],
            SalesOrder.number,
            Customer.name,
            SalesOrder.source,
        ),
        (
            Kind.PURCHASE_ORDER,
            PurchaseOrder.id,
            [PurchaseOrder.number],
            PurchaseOrder.number,
            Supplier.name,
            Supplier.code,
        ),
        (
            Kind.STOCK_ITEM,
            StockItem.id,
            [StockItem.sku, StockItem.name],
            StockItem.sku,
            StockItem.name,
            literal(""),
        ),
        (
            Kind.CUSTOMER,
            Customer.id,
            [Customer.code, Customer.name, Customer.email],
            Customer.code,
            Customer.name,
            Customer.email,
        ),
    ]
    groups = []
    with ctx.db.read() as conn:
        for kind, id_, columns, key, title, detail in kinds:
            best = rank(columns, q).label("rank")
            stmt = select(id_, key, title, detail, best).where(matches(columns, q))
            if kind is Kind.SALES_ORDER:
                stmt = stmt.join(Customer, Customer.id == SalesOrder.customer_id)
            elif kind is Kind.PURCHASE_ORDER:
                stmt = stmt.join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
            stmt = stmt.order_by(best, func.length(key), key, id_).limit(per_kind + 1)
            rows = conn.execute(stmt).all()
            hits = [
                Hit(kind, r[0], r[1], r[2] or "", r[3] or "", int(r[4])) for r in rows[:per_kind]
            ]
            groups.append(Group(kind, hits, len(rows) > per_kind))
    return Results(q, groups, len(q) >= MIN_CONTAINS)
