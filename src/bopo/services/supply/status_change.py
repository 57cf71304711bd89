"""Changing a PO line's status, and telling the customers linked to it.

When the new status has a BACK_ORDER template, every sales order with an
active association on the line gets one email (listing its lines linked to
this PO line, with any it was still waiting to be told under that template),
queued in the same transaction as the change. Unsent emails that stated the
line's links under the old status are superseded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import Connection, Row, select, update

from bopo.db.audit import event
from bopo.db.models import Association, PoLine, PoLineStatus, PurchaseOrder, SoLine
from bopo.db.queries import lock_stock_by_id, record_audit
from bopo.domain.templating import EmailEvent
from bopo.errors import NotFound
from bopo.services.admin.statuses import refuse_retired
from bopo.services.common.lookup import as_stored
from bopo.services.context import Context
from bopo.services.email.superseding import refresh_emails


@dataclass(frozen=True, slots=True)
class StatusChange:
    po_number: str
    line_no: int
    before: str | None
    after: str
    changed: Annotated[bool, Field(description="false: the line had this status already")]
    emails_queued: int


def set_po_line_status(
    ctx: Context, po_number: str, line_no: int, status_code: str, *, actor: str
) -> StatusChange:
    """Give a PO line a status; setting the status it has already changes nothing."""
    with ctx.db.write() as conn:
        return set_po_line_status_in(
            conn, ctx, po_number, line_no, status_code, actor=actor, now=ctx.clock()
        )


def set_po_line_status_in(
    conn: Connection,
    ctx: Context,
    po_number: str,
    line_no: int,
    status_code: str,
    *,
    actor: str,
    now: datetime,
) -> StatusChange:
    """set_po_line_status inside the caller's transaction."""
    po_number = as_stored(conn, PurchaseOrder.number, po_number)
    code = status_code.strip().upper()
    status = conn.execute(
        select(PoLineStatus.id, PoLineStatus.code).where(PoLineStatus.code == code)
    ).first()
    if status is None:
        raise NotFound("PO line status", code)
    refuse_retired(conn, code)
    line = _locked_line(conn, po_number, line_no)
    before = (
        None
        if line.status_id is None
        else conn.scalar(select(PoLineStatus.code).where(PoLineStatus.id == line.status_id))
    )
    if line.status_id == status.id:
        return StatusChange(po_number, line_no, before, code, False, 0)
    conn.execute(update(PoLine).where(PoLine.id == line.id).values(status_id=status.id))
    record_audit(
        conn,
        [
            event(
                now,
                actor,
                "po_line.status",
                "po_line",
                line.id,
                {"status_id": line.status_id, "status": before},
                {"status_id": status.id, "status": code},
            )
        ],
    )
    emails = _announce(conn, ctx, line.id, now=now, actor=actor)
    return StatusChange(po_number, line_no, before, code, True, emails)


def _locked_line(conn: Connection, po_number: str, line_no: int) -> Row[int, int | None, int]:
    """The PO line (id, status, stock item), locked after its stock item."""
    line = conn.execute(
        select(PoLine.id, PoLine.status_id, PoLine.stock_item_id)
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .where(PurchaseOrder.number == po_number, PoLine.line_no == line_no)
    ).first()
    if line is None:
        raise NotFound("PO line", f"{po_number} line {line_no}")
    # The stock item first, as everywhere: intake links under the item's lock
    # and emails by the status it read then, so a change waits for it.
    lock_stock_by_id(conn, [line.stock_item_id])
    return conn.execute(
        select(PoLine.id, PoLine.status_id, PoLine.stock_item_id)
        .where(PoLine.id == line.id)
        .with_for_update(key_share=True)
    ).one()


def _announce(conn: Connection, ctx: Context, po_line_id: int, *, now: datetime, actor: str) -> int:
    """Announce the line's links under its new status; how many emails were queued."""
    # Locked after the PO line, as everywhere, so the set announced is the set linked.
    linked = conn.scalars(
        select(Association.id)
        .where(Association.po_line_id == po_line_id, Association.state == "active")
        .order_by(Association.id)
        .with_for_update(key_share=True)
    ).all()
    orders = conn.scalars(
        select(SoLine.sales_order_id)
        .join(Association, Association.so_line_id == SoLine.id)
        .where(Association.po_line_id == po_line_id, Association.state == "active")
    ).all()
    # Its links are announced under the new status (if it has a template); waiting
    # emails that stated them under the old one are superseded, in this transaction.
    emails = refresh_emails(
        conn,
        ctx,
        orders=set(orders),
        new_links=linked,
        event=EmailEvent.STATUS_CHANGE,
        now=now,
        actor=actor,
    )
    return len(emails)
