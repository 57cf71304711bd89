"""Supply changes: a PO line's quantity or due date changes; a line is cancelled or
closed short; a whole purchase order is cancelled.

When a PO line can no longer carry its links, those that no longer fit are
released, latest delivery date first, and (switch on) every released line
and every waiting line of the item is offered to the allocation again,
oldest delivery date first: another PO line may cover it. Otherwise it waits
on the worklist with its reason. With the switch off, released lines wait
with the reason `released`, and freed quantity on order just waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from bopo.db.models import PoLine, PurchaseOrder
from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.allocation import AllocationRules
from bopo.domain.changes import keep_what_fits
from bopo.domain.records import LATE, PoLineRow, Released, SalesLineRef
from bopo.domain.workset import Workset
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.common.engine import commit
from bopo.services.common.lookup import as_stored, find_po_line, positive_qty
from bopo.services.context import Context
from bopo.services.email.notices import Moved, NoticePlan, plan_notices, write_notices
from bopo.services.email.superseding import lock_orders
from bopo.services.supply.change_results import (
    PoLineChange,
    SupplyChangeResult,
    line_values,
)

__all__ = ["PoLineChange", "SupplyChangeResult", "plan_due_date", "plan_po_line_qty"]


Change = Callable[[Workset, PoLineRow], list[Released]]


@dataclass
class PlannedSupplyChange:
    """A supply change decided in memory: the workset changed, what it reports, and what
    is still to write besides the workset (a whole-PO cancel's stamp, due-date notices)."""

    workset: Workset
    result: SupplyChangeResult
    cancel_po_id: int | None = None
    notices: list[NoticePlan] = field(default_factory=list)


def _plan(
    conn: Connection,
    ctx: Context,
    rules: AllocationRules,
    po_number: str,
    line_no: int | None,
    change: Change,
    *,
    actor: str,
    now: datetime,
    reallocate: bool = True,
    lock: bool = True,
) -> PlannedSupplyChange:
    """Load one PO line (or every line of the PO), change each, then re-allocate.

    Nothing is written: `_apply` writes the plan; a what-if (lock=False) reads it.
    """
    result = SupplyChangeResult(po_number)
    realloc = reallocate and rules.enabled
    po_number = as_stored(conn, PurchaseOrder.number, po_number)
    if line_no is not None:
        key = find_po_line(conn, po_number, line_no)
        ids, items = {key.id}, {key.stock_item_id}
    else:
        rows = conn.execute(
            select(PoLine.id, PoLine.stock_item_id)
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
            .where(PurchaseOrder.number == po_number)
        ).all()
        if not rows:
            raise NotFound("purchase order", po_number)
        ids, items = {r.id for r in rows}, {r.stock_item_id for r in rows}
    query = WorksetQuery.of(
        items, po_line_ids=ids, worklist=realloc, open_supply=realloc, lock=lock
    )
    workset = load_workset(conn, query, now=now, actor=actor)
    released: list[Released] = []
    for po_id in sorted(ids, key=lambda i: workset.po_lines[i].line_no):
        po = workset.po_lines[po_id]
        before = line_values(po)
        released += change(workset, po)
        po.sync()
        if line_values(po) != before:
            result.lines.append(PoLineChange(po.line_no, before, line_values(po)))
    result.log.released = released
    if realloc and result.lines:
        result.log.offered = workset.offer(workset.waiting(items), rules, "so_line.reallocate")
    planned = PlannedSupplyChange(workset, result)
    if line_no is None:
        planned.cancel_po_id = _cancellable(conn, po_number, changed=bool(result.lines))
    return planned


def apply_change(conn: Connection, ctx: Context, planned: PlannedSupplyChange) -> None:
    workset = planned.workset
    if planned.cancel_po_id is not None:
        _mark_cancelled(conn, workset, planned.cancel_po_id)
    details = {"po_number": planned.result.po_number}
    commit(conn, ctx, workset, stock_action="stock.assign", details=details)
    write_notices(conn, ctx, planned.notices, now=workset.now, actor=workset.actor)


def _run(
    ctx: Context,
    po_number: str,
    line_no: int | None,
    change: Change,
    *,
    actor: str,
    reallocate: bool = True,
) -> SupplyChangeResult:
    with ctx.db.write() as conn:
        planned = _plan(
            conn,
            ctx,
            ctx.rules(conn),
            po_number,
            line_no,
            change,
            actor=actor,
            now=ctx.clock(),
            reallocate=reallocate,
        )
        apply_change(conn, ctx, planned)
    return planned.result


def _cancellable(conn: Connection, po_number: str, *, changed: bool) -> int:
    """The PO to stamp cancelled; read after its lines are locked, so two cancels
    cannot both pass."""
    row = conn.execute(
        select(PurchaseOrder.id, PurchaseOrder.cancelled_at).where(
            PurchaseOrder.number == po_number
        )
    ).one()
    if row.cancelled_at is not None:
        raise Conflict(f"purchase order {po_number} is cancelled already")
    if not changed:
        raise Conflict(f"purchase order {po_number} has nothing outstanding")
    return int(row.id)


def _mark_cancelled(conn: Connection, workset: Workset, po_id: int) -> None:
    conn.execute(
        update(PurchaseOrder).where(PurchaseOrder.id == po_id).values(cancelled_at=workset.now)
    )
    workset.audit.append(
        workset.event(
            "purchase_order.cancel",
            "purchase_order",
            po_id,
            {"cancelled_at": None},
            {"cancelled_at": workset.now.isoformat()},
        )
    )


def _fit(workset: Workset, po: PoLineRow, capacity: int, why: str) -> list[Released]:
    """Release the links that no longer fit in `capacity`, latest delivery date first."""
    linked = workset.linked_to(po.id)
    _, drop = keep_what_fits([s.claim(s.links[po.id].qty) for s in linked], capacity)
    released: list[Released] = []
    for c in drop:
        line = workset.so_lines[c.so_line_id]
        if po.id in line.links:  # not released already with another part of the line
            released += workset.release(line, why, "so_line.release")
    return released


def _open(po: PoLineRow) -> None:
    if po.closed:
        how = "closed short" if po.delivered else "cancelled"
        raise Conflict(f"{po} is {how} already")


def _qty_change(qty: int) -> Change:
    def change(workset: Workset, po: PoLineRow) -> list[Released]:
        _open(po)
        if qty < po.delivered:
            raise InvalidInput(
                [FieldError("qty", f"{qty} is below the {po.delivered} delivered already")]
            )
        if qty == po.ordered:
            return []
        workset.touch_po_line(po, "po_line.qty")
        released = _fit(workset, po, qty - po.delivered, f"{po} reduced to {qty}")
        po.ordered = qty
        return released

    return change


def _closer(how: str) -> Change:
    def change(workset: Workset, po: PoLineRow) -> list[Released]:
        _open(po)
        if po.outstanding == 0:
            raise Conflict(f"{po} has nothing outstanding")
        if how == "cancel" and po.delivered:
            raise Conflict(f"{po} has deliveries: close it short instead")
        if how == "close_short" and not po.delivered:
            raise Conflict(f"nothing was delivered on {po}: cancel it instead")
        workset.touch_po_line(po, f"po_line.{how}")
        word = "cancelled" if how == "cancel" else "closed short"
        released = _fit(workset, po, 0, f"{po} {word}")
        po.cancelled = po.ordered - po.delivered
        return released

    return change


def _whole_po(workset: Workset, po: PoLineRow) -> list[Released]:
    if po.closed or po.outstanding == 0:
        return []
    return _closer("close_short" if po.delivered else "cancel")(workset, po)


def plan_po_line_qty(
    conn: Connection,
    ctx: Context,
    rules: AllocationRules,
    po_number: str,
    line_no: int,
    qty: int,
    *,
    actor: str,
    now: datetime,
    lock: bool = True,
) -> PlannedSupplyChange:
    """What setting a PO line's ordered quantity does, decided in memory."""
    change = _qty_change(positive_qty(qty))
    return _plan(conn, ctx, rules, po_number, line_no, change, actor=actor, now=now, lock=lock)


def plan_cancel(
    conn: Connection,
    ctx: Context,
    rules: AllocationRules,
    po_number: str,
    line_no: int | None,
    *,
    actor: str,
    now: datetime,
    lock: bool = True,
) -> PlannedSupplyChange:
    """What cancelling a PO line (or, line_no None, the whole PO) does, decided in memory."""
    change = _whole_po if line_no is None else _closer("cancel")
    return _plan(conn, ctx, rules, po_number, line_no, change, actor=actor, now=now, lock=lock)


def plan_close_short(
    conn: Connection,
    ctx: Context,
    rules: AllocationRules,
    po_number: str,
    line_no: int,
    *,
    actor: str,
    now: datetime,
    lock: bool = True,
) -> PlannedSupplyChange:
    """What closing a part-delivered PO line short does, decided in memory."""
    change = _closer("close_short")
    return _plan(conn, ctx, rules, po_number, line_no, change, actor=actor, now=now, lock=lock)


def plan_due_date(
    conn: Connection,
    ctx: Context,
    rules: AllocationRules,
    po_number: str,
    line_no: int,
    due_date: date | None,
    *,
    actor: str,
    now: datetime,
    lock: bool = True,
) -> PlannedSupplyChange:
    """What moving a PO line's due date does: late supply flags and due-date notices."""
    flagged: list[SalesLineRef] = []
    cleared: list[SalesLineRef] = []
    moved: list[Moved] = []

    def change(workset: Workset, po: PoLineRow) -> list[Released]:
        _open(po)
        if po.outstanding == 0:
            raise Conflict(f"{po} has nothing outstanding")
        if due_date == po.due_date:
            return []
        workset.touch_po_line(po, "po_line.due_date")
        before, po.due_date = po.due_date, due_date
        for line in workset.linked_to(po.id):
            moved.append(Moved(line.links[po.id].id, line.order_id, before, due_date))
            late = workset.is_late(line)
            if late and line.reason != LATE:
                workset.touch_line(line, "so_line.late_supply")
                workset.set_reason(line, LATE)
                flagged.append(line.ref)
            elif not late and line.reason == LATE:
                workset.touch_line(line, "so_line.on_time")
                workset.set_reason(line, None)
                cleared.append(line.ref)
        return []

    planned = _plan(
        conn,
        ctx,
        rules,
        po_number,
        line_no,
        change,
        actor=actor,
        now=now,
        reallocate=False,
        lock=lock,
    )
    planned.result.late_supply = flagged
    planned.result.on_time_again = cleared
    if lock:  # every order this change touches, at once and by id, before notices look
        lock_orders(conn, planned.workset.touched_orders() | {m.sales_order_id for m in moved})
    planned.notices = plan_notices(conn, ctx, moved, now=now, lock=lock)
    planned.result.notices = planned.notices
    return planned


def _run_plan(
    ctx: Context, plan: Callable[[Connection, AllocationRules], PlannedSupplyChange]
) -> SupplyChangeResult:
    with ctx.db.write() as conn:
        planned = plan(conn, ctx.rules(conn))
        apply_change(conn, ctx, planned)
    return planned.result


def change_po_line_qty(
    ctx: Context, po_number: str, line_no: int, qty: int, *, actor: str
) -> SupplyChangeResult:
    """Set a PO line's ordered quantity; links that no longer fit are released.

    A larger quantity frees quantity on order, which is offered to the item's
    waiting lines.
    """
    qty = positive_qty(qty)
    return _run(ctx, po_number, line_no, _qty_change(qty), actor=actor)


def cancel_po_line(ctx: Context, po_number: str, line_no: int, *, actor: str) -> SupplyChangeResult:
    """Cancel an undelivered PO line; its links are released and re-allocated."""
    return _run(ctx, po_number, line_no, _closer("cancel"), actor=actor)


def close_po_line_short(
    ctx: Context, po_number: str, line_no: int, *, actor: str
) -> SupplyChangeResult:
    """Close a partly delivered PO line: nothing more is coming on it."""
    return _run(ctx, po_number, line_no, _closer("close_short"), actor=actor)


def cancel_purchase_order(ctx: Context, po_number: str, *, actor: str) -> SupplyChangeResult:
    """Cancel every open line of a PO (a line with deliveries is closed short)."""
    return _run(ctx, po_number, None, _whole_po, actor=actor)


def change_due_date(
    ctx: Context, po_number: str, line_no: int, due_date: date | None, *, actor: str
) -> SupplyChangeResult:
    """Move a PO line's due date; every expected date shown follows it.

    A linked order whose delivery date is now before the due date goes on the
    worklist as `late supply` (still linked) for a person to look at; one no
    longer late leaves it. Customers linked to the line hear of a move by a
    due-date notice (see bopo.services.email.notices).
    """
    return _run_plan(
        ctx,
        lambda conn, rules: plan_due_date(
            conn, ctx, rules, po_number, line_no, due_date, actor=actor, now=ctx.clock()
        ),
    )
