"""The backorder worklist: lines waiting for stock or a PO line, and retrying them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Annotated, Any, TypedDict

from pydantic import Field, PlainSerializer
from sqlalchemy import Connection, and_, select, tuple_, union
from sqlalchemy.orm import aliased

from bopo.db.bulk import one_of
from bopo.db.models import (
    Association,
    Customer,
    PoLine,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.db.queries import waiting_qty
from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.decisions import DecisionKind
from bopo.domain.statuses import SkipReason
from bopo.domain.templating import EmailEvent
from bopo.services.common.engine import commit
from bopo.services.common.pages import MAX_LIMIT, Page, count_capped
from bopo.services.common.search import matches, normal, same
from bopo.services.context import Context

# Highest priority first, then the oldest delivery date: the order that should ship
# soonest gets served first (bopo.domain.changes.serving_order, in SQL), on the lines'
# copies of their orders' fields, priority negated: every column ascending, as the
# worklist's serving indexes have it (migration 0013), so the lines after one are a seek.
WORKLIST_ORDER = (
    -SoLine.order_priority,
    SoLine.order_delivery_date,
    SoLine.sales_order_id,
    SoLine.line_no,
)
# Worklist lines waiting for stock or a PO line; a `late supply` line is on
# the worklist too, but linked. Both terms keep the partial index usable.
UNALLOCATED = (
    SoLine.backorder_reason.is_not(None),
    SoLine.backorder_reason != SkipReason.LATE_SUPPLY.value,
)


@dataclass(frozen=True, slots=True)
class BackorderLine:
    so_line_id: int
    source: str
    number: str
    line_no: int
    sku: str
    item_name: str
    waiting: int
    reason: str
    since: datetime | None
    delivery_date: date
    customer_code: str
    customer_name: str
    # Set for a `late supply` line: still linked, to a PO line now due too late.
    po_number: Annotated[
        str | None, Field(description="For `late supply`: the PO line it is linked to")
    ] = None
    po_line_no: int | None = None
    expected: date | None = None


def list_backorders(
    ctx: Context, *, limit: int | None = None, sku: str | None = None
) -> list[BackorderLine]:
    """The worklist, highest priority and oldest delivery date first."""
    with ctx.db.read() as conn:
        return load_backorders(conn, limit=limit, sku=sku)


def _worklist() -> Any:
    """Every worklist line in serving order; one scan of the partial index.

    A `late supply` line split over several PO lines shows the latest-due part.
    """
    latest_part = (
        select(Association.id)
        .join(PoLine, PoLine.id == Association.po_line_id)
        .where(Association.so_line_id == SoLine.id, Association.state == "active")
        .order_by(PoLine.due_date.desc().nulls_last(), Association.id)
        .limit(1)
        .correlate(SoLine)
        .scalar_subquery()
    )
    active = and_(Association.so_line_id == SoLine.id, Association.id == latest_part)
    return (
        select(
            SoLine.id.label("so_line_id"),
            SalesOrder.source,
            SalesOrder.number,
            SoLine.line_no,
            StockItem.sku,
            StockItem.name.label("item_name"),
            waiting_qty().label("waiting"),
            SoLine.backorder_reason.label("reason"),
            SoLine.backorder_since.label("since"),
            SalesOrder.delivery_date,
            Customer.code.label("customer_code"),
            Customer.name.label("customer_name"),
            PurchaseOrder.number.label("po_number"),
            PoLine.line_no.label("po_line_no"),
            PoLine.due_date.label("expected"),
        )
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .join(StockItem, StockItem.id == SoLine.stock_item_id)
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .outerjoin(Association, active)
        .outerjoin(PoLine, PoLine.id == Association.po_line_id)
        .outerjoin(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .where(SoLine.backorder_reason.is_not(None))
        .order_by(*WORKLIST_ORDER)
    )


def load_backorders(
    conn: Connection,
    *,
    limit: int | None = None,
    sku: str | None = None,
    so_line_id: int | None = None,
    ids: Collection[int] | None = None,
) -> list[BackorderLine]:
    """The worklist (or those of its lines with these ids) inside the caller's transaction."""
    stmt = _worklist().limit(limit)
    if sku:
        stmt = stmt.where(same(StockItem.sku, sku))
    if so_line_id is not None:
        stmt = stmt.where(SoLine.id == so_line_id)
    if ids is not None:
        stmt = stmt.where(one_of(conn, SoLine.id, sorted(ids)))
    return [BackorderLine(**r._mapping) for r in conn.execute(stmt)]


def _sorted(counts: Counter[str]) -> dict[str, int]:
    return dict(sorted(counts.items()))


@dataclass
class RetrySummary:
    lines: int = 0
    # lines that took stock (units in units_from_stock)
    from_stock: Annotated[int, Field(serialization_alias="lines_from_stock")] = 0
    units_from_stock: int = 0
    linked: Annotated[int, Field(serialization_alias="lines_linked")] = 0
    still_waiting: Annotated[Counter[str], PlainSerializer(_sorted, return_type=dict[str, int])] = (
        field(default_factory=Counter)
    )


def allocate_worklist(ctx: Context, *, actor: str) -> RetrySummary:
    """Offer every worklist line free stock, then a PO line, highest priority and oldest
    delivery date first."""
    with ctx.db.write() as conn:
        return retry_lines(conn, ctx, item_ids=None, actor=actor, now=ctx.clock())


def retry_lines(
    conn: Connection,
    ctx: Context,
    *,
    item_ids: set[int] | None,
    actor: str,
    now: datetime,
    cause: EmailEvent = EmailEvent.WORKLIST,
) -> RetrySummary:
    """Retry the worklist lines of some items (or all) inside the caller's transaction.

    The same change engine as every other change: the items' worklist lines (and,
    with the switch on, their open PO lines) are locked and loaded, offered free
    stock then a PO line, and written back. `cause` is what the back-order emails
    of the new links record.
    """
    summary = RetrySummary()
    rules = ctx.rules(conn)
    waiting_items = select(SoLine.stock_item_id).where(*UNALLOCATED)
    if item_ids is not None:
        waiting_items = waiting_items.where(SoLine.stock_item_id.in_(sorted(item_ids)))
    items = set(conn.scalars(waiting_items.distinct()))
    if not items:
        return summary
    query = WorksetQuery.of(items, worklist=True, open_supply=rules.enabled)
    workset = load_workset(conn, query, now=now, actor=actor)
    lines = workset.waiting(items)
    offered = workset.offer(lines, rules, "so_line.allocate", kind=DecisionKind.WORKLIST)
    commit(conn, ctx, workset, stock_action="stock.assign", details={}, cause=cause)
    summary.lines = len(lines)
    for o in offered:
        summary.from_stock += bool(o.from_stock)
        summary.units_from_stock += o.from_stock
        summary.linked += bool(o.linked_qty)
    summary.still_waiting.update(line.reason for line in lines if line.reason)
    return summary


class WorklistQuery(TypedDict, total=False):
    """What a worklist page asks for: `find_backorders`' keywords, passed on as they are."""

    sku: str | None
    reason: str | None
    customer: str | None
    source: str | None
    delivery_from: date | None
    delivery_to: date | None
    q: str | None
    limit: int
    offset: int
    after: int | None


def find_backorders(
    ctx: Context,
    *,
    sku: str | None = None,
    reason: str | None = None,
    customer: str | None = None,
    source: str | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
    after: int | None = None,
) -> Page[BackorderLine]:
    """One page of the worklist, highest priority and oldest delivery date first, with
    the total. `q` is part of the order number, the SKU or item name, or the customer's
    name, code or email address, in any case. `after` (a page's `next_after`, a line's
    id): the page after that line, sought on the serving order's index.

    A `late supply` line comes with the PO line it is still linked to. The
    count and the ordering read the lines alone (the worklist's serving indexes;
    the orders only for a customer); the page's lines are then read whole by id.
    """
    where, by_order = _worklist_filters(
        sku, reason, customer, source, delivery_from, delivery_to, q
    )
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    with ctx.db.read() as conn:
        past = _after(conn, after) if after is not None else None
        seek = offset if past is None else 0
        if past is not None:
            where.append(past)
        counted = select(SoLine.id).where(*where)
        if by_order:
            counted = counted.join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        total, capped = count_capped(conn, counted.where(*by_order), offset=seek, limit=limit)
        total += offset - seek
        ordered = select(SoLine.id)
        if by_order:
            ordered = ordered.join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        ids = (
            list(
                conn.scalars(
                    ordered.where(*where, *by_order)
                    .order_by(*WORKLIST_ORDER)
                    .limit(limit)
                    .offset(seek)
                )
            )
            if total > offset - seek
            else []
        )
        items = load_backorders(conn, ids=ids) if ids else []
    page = Page(items, total, limit, offset, capped)
    return replace(page, next_after=items[-1].so_line_id) if page.has_next and items else page


def _after(conn: Connection, so_line_id: int) -> Any:
    """The lines served after this one (WORKLIST_ORDER), or None for an unknown line."""
    key = conn.execute(select(*WORKLIST_ORDER).where(SoLine.id == so_line_id)).first()
    return None if key is None else tuple_(*WORKLIST_ORDER) > tuple_(*key)


def _searched(q: str) -> Any:
    """Worklist lines whose order number, customer or item has `q` in it: three searches,
    each on its own index (the orders' numbers, the customers, the items), united by
    line id; one condition with OR across them would read the whole worklist."""
    line, so = aliased(SoLine), aliased(SalesOrder)
    skus = select(StockItem.id).where(matches([StockItem.sku, StockItem.name], q))
    who = select(Customer.id).where(matches([Customer.code, Customer.name, Customer.email], q))
    orders = union(
        select(so.id).where(matches([so.number], q)),
        select(so.id).where(so.customer_id.in_(who)),
    )
    waiting = line.backorder_reason.is_not(None)
    return union(
        select(line.id).where(waiting, line.sales_order_id.in_(orders)),
        select(line.id).where(waiting, line.stock_item_id.in_(skus)),
    )


def _worklist_filters(
    sku: str | None,
    reason: str | None,
    customer: str | None,
    source: str | None,
    delivery_from: date | None,
    delivery_to: date | None,
    q: str | None,
) -> tuple[list[Any], list[Any]]:
    """find_backorders' conditions: on the lines (the worklist's indexes, with their
    copies of the orders' fields), and on their orders (joined only for a customer)."""
    where: list[Any] = [SoLine.backorder_reason.is_not(None)]
    if reason:
        where.append(SoLine.backorder_reason == reason)
    if source:
        where.append(SoLine.order_source == source)
    if delivery_from:
        where.append(SoLine.order_delivery_date >= delivery_from)
    if delivery_to:
        where.append(SoLine.order_delivery_date <= delivery_to)
    if sku:
        where.append(SoLine.stock_item_id.in_(select(StockItem.id).where(same(StockItem.sku, sku))))
    by_order: list[Any] = []
    if customer:
        by_order.append(
            SalesOrder.customer_id
            == select(Customer.id).where(Customer.code == customer).scalar_subquery()
        )
    if q and normal(q):
        where.append(SoLine.id.in_(_searched(q)))
    return where, by_order
