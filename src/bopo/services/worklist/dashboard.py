"""How the work stands today, on one page: supply, the worklist, emails, goods in."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, distinct, func, select

from bopo.db.models import (
    Association,
    PendingEmail,
    PoLine,
    Receipt,
    SalesOrder,
    SoLine,
)
from bopo.db.queries import IS_OPEN, OPEN_QTY, waiting_qty
from bopo.domain.charts import (
    AGE_BUCKETS,
    Bar,
    age_limits,
    bars,
    due_bucket,
    week_labels,
    week_starts,
)
from bopo.domain.statuses import EmailState, SkipReason
from bopo.services.common import pages
from bopo.services.context import Context
from bopo.services.supply.goods_in import ReceiptView, list_receipts

RECENT_RECEIPTS = 8
SUPPLY_WEEKS = 6  # this week and the five after it, then "later"


@dataclass(frozen=True, slots=True)
class Overview:
    allocation_on: bool  # the feature switch, [backorders] allocate_existing_pos
    policy: str
    default_status: str | None
    open_purchase_orders: int  # with something still to come
    open_po_lines: int
    overdue_po_lines: int  # open, due before today
    orders_on_overdue: int  # open sales orders with a line linked to an overdue PO line
    open_sales_orders: int
    worklist: dict[str, int]  # lines by reason
    emails: dict[str, int]  # the outbox by state
    receipts_today: int
    units_today: int
    recent_receipts: tuple[ReceiptView, ...]  # today's, newest first
    ageing: tuple[Bar, ...] = ()  # worklist lines by how long they have waited
    supply_due: tuple[Bar, ...] = ()  # open PO lines' outstanding units by week due
    # orders_on_overdue counted over the first COUNT_CAP + 1 links only: at least that many
    orders_on_overdue_floor: bool = False

    @property
    def worklist_total(self) -> int:
        return sum(self.worklist.values())

    @property
    def worklist_capped(self) -> bool:
        """A reason's count stopped at the cap: the total is at least worklist_total."""
        return any(n > pages.COUNT_CAP for n in self.worklist.values())


def overview(ctx: Context) -> Overview:
    """The dashboard's figures. Each count over the orders, their lines or the outbox
    stops past COUNT_CAP (a figure above it reads "more than 10,000"), on an index that
    holds just what it counts: the page costs the same at a thousand orders or a million."""
    today = ctx.clock().date()
    midnight = datetime.combine(today, time(), tzinfo=UTC)
    with ctx.db.read() as conn:
        open_pos, open_lines, overdue, open_orders = conn.execute(
            select(
                # POs with an open line: the open lines' index by PO read in order, each
                # PO once, until the cap (not a lookup under every PO).
                _capped(select(PoLine.purchase_order_id).where(IS_OPEN).distinct()),
                _capped(select(PoLine.id).where(IS_OPEN)),
                _capped(select(PoLine.id).where(IS_OPEN, PoLine.due_date < today)),
                _capped(select(SalesOrder.id).where(SalesOrder.status == "open")),
            )
        ).one()
        on_overdue = _orders_on_overdue(conn, today) if overdue else (0, False)
        worklist = _by(conn, SoLine.backorder_reason, SkipReason)
        emails = _by(conn, PendingEmail.state, EmailState)
        receipts, units = conn.execute(
            select(func.count(), func.coalesce(func.sum(Receipt.qty), 0)).where(
                Receipt.received_at >= midnight
            )
        ).one()
        ageing = _ageing(conn, ctx.clock())
        supply_due = _supply_due(conn, today)
    cfg = ctx.backorders()
    return Overview(
        allocation_on=cfg.allocate_existing_pos,
        policy=cfg.policy,
        default_status=cfg.default_po_line_status,
        open_purchase_orders=open_pos,
        open_po_lines=open_lines,
        overdue_po_lines=overdue,
        orders_on_overdue=on_overdue[0],
        orders_on_overdue_floor=on_overdue[1],
        open_sales_orders=open_orders or 0,
        worklist=dict(sorted(worklist.items(), key=lambda kv: -kv[1])),
        emails=emails,
        receipts_today=receipts,
        units_today=units,
        recent_receipts=tuple(list_receipts(ctx, since=midnight, limit=RECENT_RECEIPTS)),
        ageing=ageing,
        supply_due=supply_due,
    )


def _capped(stmt: Any) -> Any:
    """How many rows `stmt` selects, counted no further than COUNT_CAP + 1."""
    rows = stmt.limit(pages.COUNT_CAP + 1).subquery()
    return select(func.count()).select_from(rows).scalar_subquery()


def _by(conn: Connection, column: Any, values: type[StrEnum]) -> dict[str, int]:
    """Rows by each value of `column` (those with any), each counted up to the cap."""
    counts = conn.execute(
        select(*(_capped(select(column).where(column == v.value)) for v in values))
    ).one()
    return {v.value: n for v, n in zip(values, counts, strict=True) if n}


def _orders_on_overdue(conn: Connection, today: date) -> tuple[int, bool]:
    """Sales orders with a line linked to a PO line due before today, among the first
    COUNT_CAP + 1 such links: (how many, whether there may be more)."""
    links = (
        select(SoLine.sales_order_id)
        .select_from(PoLine)
        .join(Association, Association.po_line_id == PoLine.id)
        .join(SoLine, SoLine.id == Association.so_line_id)
        .where(IS_OPEN, PoLine.due_date < today, Association.state == "active")
        .limit(pages.COUNT_CAP + 1)
        .subquery()
    )
    found, seen = conn.execute(
        select(func.count(distinct(links.c.sales_order_id)), func.count()).select_from(links)
    ).one()
    return found, seen > pages.COUNT_CAP


def _ageing(conn: Connection, now: datetime) -> tuple[Bar, ...]:
    """Worklist lines by how long they have waited (since they went on the worklist),
    each bucket a range of the worklist's index by time, counted up to the cap."""
    since = SoLine.backorder_since
    limits = [None, *age_limits(now), None]  # newest first: (limit, older limit]
    counted = {}
    for i in range(len(limits) - 1):
        newer, older = limits[i], limits[i + 1]
        rows = select(waiting_qty().label("units")).where(
            SoLine.backorder_reason.is_not(None), since.is_not(None)
        )
        if newer is not None:
            rows = rows.where(since <= newer)
        if older is not None:
            rows = rows.where(since > older)
        bucket = rows.limit(pages.COUNT_CAP + 1).subquery()
        n, units = conn.execute(
            select(func.count(), func.coalesce(func.sum(bucket.c.units), 0))
        ).one()
        counted[i] = (int(n), int(units))
    return bars([label for _, label in AGE_BUCKETS], counted)


def _supply_due(conn: Connection, today: date) -> tuple[Bar, ...]:
    """Open PO lines' outstanding units by the week they are due: overdue, this week,
    the weeks after, later, no date. Added up by due date in the database, from the
    open lines' index by due date alone (it carries the quantities), then by week here."""
    mondays = week_starts(today, SUPPLY_WEEKS)
    counted: dict[int, tuple[int, int]] = defaultdict(lambda: (0, 0))
    rows = conn.execute(
        select(PoLine.due_date, func.count(), func.sum(OPEN_QTY))
        .where(IS_OPEN)
        .group_by(PoLine.due_date)
    )
    for due, n, units in rows:
        bucket = due_bucket(due, today, mondays)
        lines, total = counted[bucket]
        counted[bucket] = (lines + int(n), total + int(units))
    return bars(week_labels(today, SUPPLY_WEEKS), counted)
