"""Sales orders as they stand: header and each line's outcome."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, computed_field
from sqlalchemy import Connection, func, select, union, update
from sqlalchemy.orm import aliased

from bopo.db.audit import event
from bopo.db.bulk import one_of
from bopo.db.models import Association, Customer, PoLine, SalesOrder, SoLine, StockItem
from bopo.db.queries import lock_stock_by_id, record_audit
from bopo.domain.statuses import Priority
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.common import sorting
from bopo.services.common.lookup import find_sales_order, order_lines
from bopo.services.common.pages import MAX_LIMIT, AnySelect, Page, count_capped
from bopo.services.common.search import matches, normal, same
from bopo.services.context import Context
from bopo.services.orders.outcomes import LineOutcome, load_line_outcomes

PriorityName = Literal["low", "normal", "high", "urgent"]  # Priority's values


@dataclass(frozen=True, slots=True)
class CustomerRef:
    code: str
    name: str
    email: str


Flat = Field(exclude=True)  # written once, as `customer`


@dataclass(frozen=True, slots=True)
class SalesOrderView:
    id: int
    source: str
    number: str
    status: str
    customer_code: Annotated[str, Flat]
    customer_name: Annotated[str, Flat]
    customer_email: Annotated[str, Flat]
    order_date: date
    delivery_date: date
    created_at: datetime
    created_by: str
    lines: tuple[LineOutcome, ...]
    priority: PriorityName = Priority.NORMAL.value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def customer(self) -> CustomerRef:
        return CustomerRef(self.customer_code, self.customer_name, self.customer_email)


def _head() -> AnySelect:
    return select(
        SalesOrder.id,
        SalesOrder.source,
        SalesOrder.number,
        SalesOrder.status,
        Customer.code.label("customer_code"),
        Customer.name.label("customer_name"),
        Customer.email.label("customer_email"),
        SalesOrder.order_date,
        SalesOrder.delivery_date,
        SalesOrder.created_at,
        SalesOrder.created_by,
        SalesOrder.priority,
    ).join(Customer, Customer.id == SalesOrder.customer_id)


def _view(head: Any, lines: list[LineOutcome]) -> SalesOrderView:
    row = dict(head._mapping)
    rank = row.pop("priority")
    return SalesOrderView(**row, lines=tuple(lines), priority=Priority.of_rank(rank).value)


def show_sales_order(ctx: Context, number: str, source: str | None = None) -> SalesOrderView:
    """One order by number (and source, needed when two channels share a number)."""
    stmt = _head().where(SalesOrder.number == number)
    if source is not None:
        stmt = stmt.where(SalesOrder.source == source)
    with ctx.db.read() as conn:
        rows = conn.execute(stmt).all()
        if not rows:
            raise NotFound("sales order", number if source is None else f"{source}/{number}")
        if len(rows) > 1:
            sources = ", ".join(sorted(r.source for r in rows))
            raise Conflict(
                f"sales order {number!r} exists in several sources ({sources}); "
                "say which with --source"
            )
        head = rows[0]
        lines = load_line_outcomes(conn, [head.id], ctx.clock().date())[head.id]
    return _view(head, lines)


def get_sales_order(ctx: Context, order_id: int) -> SalesOrderView:
    """One order by its id."""
    with ctx.db.read() as conn:
        head = conn.execute(_head().where(SalesOrder.id == order_id)).first()
        if head is None:
            raise NotFound("sales order", order_id)
        lines = load_line_outcomes(conn, [order_id], ctx.clock().date())[order_id]
    return _view(head, lines)


@dataclass(frozen=True, slots=True)
class SalesOrderSummary:
    id: int
    source: str
    number: str
    status: str
    customer_code: str
    customer_name: str
    order_date: date
    delivery_date: date
    created_at: datetime
    lines: int
    waiting_lines: Annotated[int, Field(description="Lines on the backorder worklist")]
    priority: PriorityName = Priority.NORMAL.value
    # a line is linked to a PO line whose due date is past
    on_overdue: Annotated[
        bool,
        Field(description="A line waits on a PO line whose due date is past (overdue supply)"),
    ] = False


# The columns a list of sales orders may be sorted by (`sort=delivery`, `sort=-ordered`).
# A search finding up to this many customers looks up their orders by customer id.
CUSTOMERS_LISTED = 100

SALES_ORDER_SORTS = {
    "number": SalesOrder.number,
    "customer": Customer.name,
    "status": SalesOrder.status,
    "priority": SalesOrder.priority,
    "ordered": SalesOrder.order_date,
    "delivery": SalesOrder.delivery_date,
}


def find_sales_orders(
    ctx: Context,
    *,
    status: str | None = None,
    source: str | None = None,
    number: str | None = None,
    customer: str | None = None,
    sku: str | None = None,
    ordered_from: date | None = None,
    ordered_to: date | None = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
    waiting: bool | None = None,
    priority: str | None = None,
    q: str | None = None,
    sort: str | None = None,
    limit: int = 50,
    offset: int = 0,
    after: int | None = None,
) -> Page[SalesOrderSummary]:
    """Sales orders, newest first; dates are inclusive; `sku` matches any line;
    `waiting` keeps orders with a line on the worklist (false: none); `priority`
    is low, normal, high or urgent; `q` is part of the order number or of the customer's
    name, code or email address, in any case.

    Every filter is a condition on the orders table alone, so counting them
    joins nothing; the lines are counted for the page's orders only.
    """
    limit = max(1, min(limit, MAX_LIMIT))
    offset = max(0, offset)
    # Newest first (no other sort): `after` seeks the page after that order by id.
    keyed = sorting.sort_key(sort, SALES_ORDER_SORTS) is None
    seek = 0 if keyed and after is not None else offset
    with ctx.db.read() as conn:
        where = _where(
            conn,
            status=status,
            source=source,
            number=number,
            customer=customer,
            sku=sku,
            ordered=(ordered_from, ordered_to),
            delivery=(delivery_from, delivery_to),
            waiting=waiting,
            priority=priority,
            q=q,
        )
        if seek != offset:
            where.append(SalesOrder.id < after)
        counted = select(SalesOrder.id).where(*where)
        total, capped = count_capped(conn, counted, offset=seek, limit=limit)
        total += offset - seek
        heads = _heads(conn, where, sort, limit, seek) if total > offset - seek else []
        ids = [h.id for h in heads]
        counts = _line_counts(conn, ids) if heads else {}
        overdue = _on_overdue(conn, ids, ctx.clock().date()) if heads else set()
    items = [
        replace(_summary(h, counts.get(h.id, (0, 0))), on_overdue=h.id in overdue) for h in heads
    ]
    page = Page(items, total, limit, offset, capped)
    if keyed and items and page.has_next:
        page = replace(page, next_after=items[-1].id)
    return page


def _where(
    conn: Connection,
    *,
    status: str | None,
    source: str | None,
    number: str | None,
    customer: str | None,
    sku: str | None,
    ordered: tuple[date | None, date | None],
    delivery: tuple[date | None, date | None],
    waiting: bool | None,
    priority: str | None,
    q: str | None,
) -> list[Any]:
    """The list's filters, each a condition on the orders table alone."""
    where: list[Any] = []
    equal: list[tuple[Any, str | None]] = [
        (SalesOrder.status, status),
        (SalesOrder.source, source),
    ]
    for column, value in equal:
        if value:
            where.append(column == value)
    if number:  # typed by a person: in any case
        where.append(same(SalesOrder.number, number))
    if customer:
        where.append(
            SalesOrder.customer_id
            == select(Customer.id).where(Customer.code == customer).scalar_subquery()
        )
    if sku:
        skus = select(StockItem.id).where(same(StockItem.sku, sku))
        where.append(
            SalesOrder.id.in_(select(SoLine.sales_order_id).where(SoLine.stock_item_id.in_(skus)))
        )
    ranges: list[tuple[Any, tuple[date | None, date | None]]] = [
        (SalesOrder.order_date, ordered),
        (SalesOrder.delivery_date, delivery),
    ]
    for column, (low, high) in ranges:
        if low:
            where.append(column >= low)
        if high:
            where.append(column <= high)
    if waiting is not None:
        # The worklist's partial index holds exactly the lines with a reason.
        on_worklist = SalesOrder.id.in_(
            select(SoLine.sales_order_id).where(SoLine.backorder_reason.is_not(None))
        )
        where.append(on_worklist if waiting else ~on_worklist)
    if priority:
        where.append(SalesOrder.priority == _priority(priority).rank)
    if q and normal(q):
        # Two searches, each on its own index, united by id (an OR would read every order).
        who: Any = select(Customer.id).where(
            matches([Customer.code, Customer.name, Customer.email], q)
        )
        # The customers found go in as their ids when few: the planner cannot tell from
        # a search by part of a name how many match, and guessing many it would read
        # every order rather than look up each customer's.
        listed = list(conn.scalars(who.limit(CUSTOMERS_LISTED + 1)))
        if len(listed) <= CUSTOMERS_LISTED:
            who = listed
        so = aliased(SalesOrder)
        found = union(
            select(so.id).where(matches([so.number], q)),
            select(so.id).where(so.customer_id.in_(who)),
        )
        where.append(SalesOrder.id.in_(found))
    return where


def _heads(
    conn: Connection, where: list[Any], sort: str | None, limit: int, offset: int
) -> list[Any]:
    """The page's orders, with their customers: the page's ids are sliced on the orders
    table alone (joining customers only to sort by their name), however deep the page."""
    order = sorting.order_by(sort, SALES_ORDER_SORTS, SalesOrder.id, [SalesOrder.id.desc()])
    ids = select(SalesOrder.id).where(*where).order_by(*order).limit(limit).offset(offset)
    if sorting.sort_key(sort, SALES_ORDER_SORTS) in ("customer", "-customer"):
        ids = ids.join(Customer, Customer.id == SalesOrder.customer_id)
    page = list(conn.scalars(ids))
    rows = conn.execute(
        select(
            SalesOrder.id,
            SalesOrder.source,
            SalesOrder.number,
            SalesOrder.status,
            Customer.code,
            Customer.name,
            SalesOrder.order_date,
            SalesOrder.delivery_date,
            SalesOrder.created_at,
            SalesOrder.priority,
        )
        .join(Customer, Customer.id == SalesOrder.customer_id)
        .where(SalesOrder.id.in_(page))
    )
    found = {r.id: r for r in rows}
    return [found[i] for i in page]


def _line_counts(conn: Connection, order_ids: list[int]) -> dict[int, tuple[int, int]]:
    """Each order's lines, and those of them on the worklist."""
    return {
        r[0]: (r[1], r[2])
        for r in conn.execute(
            select(SoLine.sales_order_id, func.count(), func.count(SoLine.backorder_reason))
            .where(SoLine.sales_order_id.in_(order_ids))
            .group_by(SoLine.sales_order_id)
        )
    }


def _on_overdue(conn: Connection, order_ids: list[int], today: date) -> set[int]:
    """The orders with a line linked to a PO line whose due date is past."""
    return set(
        conn.scalars(
            select(SoLine.sales_order_id)
            .join(Association, Association.so_line_id == SoLine.id)
            .join(PoLine, PoLine.id == Association.po_line_id)
            .where(
                SoLine.sales_order_id.in_(order_ids),
                Association.state == "active",
                PoLine.due_date < today,
            )
        )
    )


def _summary(h: Any, counts: tuple[int, int]) -> SalesOrderSummary:
    lines, waiting = counts
    return SalesOrderSummary(
        id=h.id,
        source=h.source,
        number=h.number,
        status=h.status,
        customer_code=h.code,
        customer_name=h.name,
        order_date=h.order_date,
        delivery_date=h.delivery_date,
        created_at=h.created_at,
        lines=lines,
        waiting_lines=waiting,
        priority=Priority.of_rank(h.priority).value,
    )


@dataclass(frozen=True, slots=True)
class PriorityChange:
    """An order's priority before and after; nothing moves at once."""

    id: int
    source: str
    number: str
    before: PriorityName
    after: PriorityName
    changed: Annotated[bool, Field(description="false: the order had this priority already")]


def set_order_priority(
    ctx: Context, number: str, priority: str, *, source: str | None = None, actor: str
) -> PriorityChange:
    """Give a sales order another priority (low, normal, high, urgent).

    Nothing moves at once: the next goods in, re-allocation or worklist retry
    serves it in its new place. The order's lines carry its priority (the database
    writes it on them, migration 0013), so they are locked first, in the documented
    order: their stock items, the lines, then the order (bopo.db.workset).
    """
    wanted = _priority(priority)
    with ctx.db.write() as conn:
        order = find_sales_order(conn, number, source)
        keys = order_lines(conn, order)
        lock_stock_by_id(conn, {k.stock_item_id for k in keys})
        conn.execute(
            select(SoLine.id)
            .where(one_of(conn, SoLine.id, sorted(k.id for k in keys)))
            .order_by(SoLine.id)
            .with_for_update(key_share=True)
        ).all()
        rank = conn.scalar(
            select(SalesOrder.priority)
            .where(SalesOrder.id == order.id)
            .with_for_update(key_share=True)
        )
        before = Priority.of_rank(rank or 0)
        if before is wanted:
            return PriorityChange(
                order.id, order.source, order.number, before.value, wanted.value, False
            )
        conn.execute(
            update(SalesOrder).where(SalesOrder.id == order.id).values(priority=wanted.rank)
        )
        record_audit(
            conn,
            [
                event(
                    ctx.clock(),
                    actor,
                    "sales_order.priority",
                    "sales_order",
                    order.id,
                    {"priority": before.value},
                    {"priority": wanted.value},
                )
            ],
        )
    return PriorityChange(order.id, order.source, order.number, before.value, wanted.value, True)


def _priority(name: str) -> Priority:
    try:
        return Priority(name.strip().lower())
    except ValueError:
        raise InvalidInput(
            [FieldError("priority", f"must be one of {', '.join(Priority)}, not {name!r}")]
        ) from None
