"""How the work stands today, on one page: supply, the worklist, emails, goods in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, case, distinct, func, select

from bopo.db.models import Association, PendingEmail, PoLine, Receipt, SalesOrder, SoLine
from bopo.db.queries import IS_OPEN, OPEN_QTY, pairs, waiting_qty
from bopo.domain.charts import AGE_BUCKETS, Bar, age_limits, bars, week_labels, week_starts
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

    @property
    def worklist_total(self) -> int:
        return sum(self.worklist.values())


def overview(ctx: Context) -> Overview:
    """The dashboard's figures; each one query, none of them scans the orders' lines."""
    today = ctx.clock().date()
    midnight = datetime.combine(today, time(), tzinfo=UTC)
    with ctx.db.read() as conn:
        open_pos, open_lines, overdue = conn.execute(
            select(
                func.count(distinct(PoLine.purchase_order_id)),
                func.count(),
                func.count().filter(PoLine.due_date < today),
            ).where(IS_OPEN)
        ).one()
        on_overdue = _orders_on_overdue(conn, today) if overdue else 0
        open_orders = conn.scalar(
            select(func.count()).select_from(SalesOrder).where(SalesOrder.status == "open")
        )
        worklist = pairs(
            conn.execute(
                select(SoLine.backorder_reason, func.count())
                .where(SoLine.backorder_reason.is_not(None))
                .group_by(SoLine.backorder_reason)
            )
        )
        emails = pairs(
            conn.execute(select(PendingEmail.state, func.count()).group_by(PendingEmail.state))
        )
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
        orders_on_overdue=on_overdue or 0,
        open_sales_orders=open_orders or 0,
        worklist=dict(sorted(worklist.items(), key=lambda kv: -kv[1])),
        emails=emails,
        receipts_today=receipts,
        units_today=units,
        recent_receipts=tuple(list_receipts(ctx, since=midnight, limit=RECENT_RECEIPTS)),
        ageing=ageing,
        supply_due=supply_due,
    )


def _orders_on_overdue(conn: Connection, today: date) -> int:
    """Sales orders with a line linked to a PO line due before today."""
    return (
        conn.scalar(
            select(func.count(distinct(SoLine.sales_order_id)))
            .select_from(Association)
            .join(PoLine, PoLine.id == Association.po_line_id)
            .join(SoLine, SoLine.id == Association.so_line_id)
            .where(Association.state == "active", PoLine.due_date < today)
        )
        or 0
    )


def _counted(conn: Connection, bucket: Any, units: Any, *where: Any) -> dict[int, tuple[int, int]]:
    rows = conn.execute(
        select(bucket.label("bucket"), func.count(), func.coalesce(func.sum(units), 0))
        .where(*where)
        .group_by("bucket")
    )
    return {int(b): (int(n), int(u)) for b, n, u in rows if b is not None}


def _ageing(conn: Connection, now: datetime) -> tuple[Bar, ...]:
    """Worklist lines by how long they have waited (since they went on the worklist)."""
    limits = age_limits(now)
    since = SoLine.backorder_since
    bucket = case(*((since > limit, i) for i, limit in enumerate(limits)), else_=len(limits))
    waiting = waiting_qty()
    counted = _counted(
        conn, bucket, waiting, SoLine.backorder_reason.is_not(None), since.is_not(None)
    )
    return bars([label for _, label in AGE_BUCKETS], counted)


def _supply_due(conn: Connection, today: date) -> tuple[Bar, ...]:
    """Open PO lines' outstanding units by the week they are due: overdue, this week,
    the weeks after, later, no date."""
    mondays = week_starts(today, SUPPLY_WEEKS)
    due = PoLine.due_date
    bucket = case(
        (due.is_(None), SUPPLY_WEEKS + 2),
        (due < today, 0),
        *((due < monday, i) for i, monday in enumerate(mondays[1:], start=1)),
        else_=SUPPLY_WEEKS + 1,
    )
    outstanding = OPEN_QTY
    return bars(week_labels(today, SUPPLY_WEEKS), _counted(conn, bucket, outstanding, IS_OPEN))
