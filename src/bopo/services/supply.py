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
from datetime import date
from enum import Enum
from typing import Any

from sqlalchemy import Connection, select, update

from bopo.db.models import PoLine, PurchaseOrder
from bopo.domain.changes import is_late, keep_what_fits
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.context import Context
from bopo.services.linking import event
from bopo.services.lookup import find_po_line, positive_qty
from bopo.services.records import LATE, ChangeLog, PoLineRow, Released, SalesLineRef
from bopo.services.scope import Scope, load_scope


@dataclass(frozen=True, slots=True)
class PoLineChange:
    line_no: int
    before: dict[str, Any]
    after: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"line_no": self.line_no, "before": self.before, "after": self.after}


@dataclass
class SupplyChangeResult:
    """What a supply change did: the PO lines changed, links released, lines re-allocated."""

    po_number: str
    lines: list[PoLineChange] = field(default_factory=list)
    log: ChangeLog = field(default_factory=ChangeLog)
    late_supply: list[SalesLineRef] = field(default_factory=list)  # flagged by a due date
    on_time_again: list[SalesLineRef] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return (
            {"po_number": self.po_number, "lines": [c.as_dict() for c in self.lines]}
            | self.log.as_dict()
            | {
                "late_supply": [r.as_dict() for r in self.late_supply],
                "on_time_again": [r.as_dict() for r in self.on_time_again],
            }
        )


def _values(po: PoLineRow) -> dict[str, Any]:
    return {
        "ordered": po.ordered,
        "delivered": po.delivered,
        "cancelled": po.cancelled,
        "outstanding": po.outstanding,
        "due_date": po.due_date.isoformat() if po.due_date else None,
    }


Change = Callable[[Scope, PoLineRow], list[Released]]


def _run(
    ctx: Context,
    po_number: str,
    line_no: int | None,
    change: Change,
    *,
    actor: str,
    reallocate: bool = True,
) -> SupplyChangeResult:
    """Lock one PO line (or every line of the PO), change each, then re-allocate."""
    now = ctx.clock()
    result = SupplyChangeResult(po_number)
    with ctx.db.write() as conn:
        rules = ctx.rules(conn)
        realloc = reallocate and rules.enabled
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
        scope = load_scope(
            conn,
            now=now,
            actor=actor,
            items=items,
            po_line_ids=ids,
            worklist=realloc,
            open_supply=realloc,
        )
        released: list[Released] = []
        for po_id in sorted(ids, key=lambda i: scope.po_lines[i].line_no):
            po = scope.po_lines[po_id]
            before = _values(po)
            released += change(scope, po)
            po.sync()
            if _values(po) != before:
                result.lines.append(PoLineChange(po.line_no, before, _values(po)))
        result.log.released = released
        if realloc and result.lines:
            result.log.offered = scope.offer(scope.waiting(items), rules, "so_line.reallocate")
        if line_no is None:
            _mark_cancelled(conn, scope, po_number, changed=bool(result.lines))
        scope.flush(conn, ctx, stock_action="stock.assign", details={"po_number": po_number})
    return result


def _mark_cancelled(conn: Connection, scope: Scope, po_number: str, *, changed: bool) -> None:
    """Stamp a whole-PO cancel; read after the lines are locked, so two cancels cannot both pass."""
    row = conn.execute(
        select(PurchaseOrder.id, PurchaseOrder.cancelled_at).where(
            PurchaseOrder.number == po_number
        )
    ).one()
    if row.cancelled_at is not None:
        raise Conflict(f"purchase order {po_number} is cancelled already")
    if not changed:
        raise Conflict(f"purchase order {po_number} has nothing outstanding")
    conn.execute(
        update(PurchaseOrder).where(PurchaseOrder.id == row.id).values(cancelled_at=scope.now)
    )
    scope.audit.append(
        event(
            scope.now,
            scope.actor,
            "purchase_order.cancel",
            "purchase_order",
            row.id,
            {"cancelled_at": None},
            {"cancelled_at": scope.now.isoformat()},
        )
    )


def _fit(scope: Scope, po: PoLineRow, capacity: int, why: str) -> list[Released]:
    """Release the links that no longer fit in `capacity`, latest delivery date first."""
    linked = scope.linked_to(po.id)
    _, drop = keep_what_fits([s.claim(s.link.qty) for s in linked if s.link], capacity)
    return [scope.release(scope.so_lines[c.so_line_id], why, "so_line.release") for c in drop]


def _open(po: PoLineRow) -> None:
    if po.closed:
        how = "closed short" if po.delivered else "cancelled"
        raise Conflict(f"{po} is {how} already")


def _set_qty(qty: int) -> Change:
    def change(scope: Scope, po: PoLineRow) -> list[Released]:
        _open(po)
        if qty < po.delivered:
            raise InvalidInput(
                [FieldError("qty", f"{qty} is below the {po.delivered} delivered already")]
            )
        if qty == po.ordered:
            return []
        scope.touch_po_line(po, "po_line.qty")
        released = _fit(scope, po, qty - po.delivered, f"{po} reduced to {qty}")
        po.ordered = qty
        return released

    return change


def change_po_line_qty(
    ctx: Context, po_number: str, line_no: int, qty: int, *, actor: str
) -> SupplyChangeResult:
    """Set a PO line's ordered quantity; links that no longer fit are released.

    A larger quantity frees quantity on order, which is offered to the item's
    waiting lines.
    """
    return _run(ctx, po_number, line_no, _set_qty(positive_qty(qty)), actor=actor)


def _closer(how: str) -> Change:
    def change(scope: Scope, po: PoLineRow) -> list[Released]:
        _open(po)
        if po.outstanding == 0:
            raise Conflict(f"{po} has nothing outstanding")
        if how == "cancel" and po.delivered:
            raise Conflict(f"{po} has deliveries: close it short instead")
        if how == "close_short" and not po.delivered:
            raise Conflict(f"nothing was delivered on {po}: cancel it instead")
        scope.touch_po_line(po, f"po_line.{how}")
        word = "cancelled" if how == "cancel" else "closed short"
        released = _fit(scope, po, 0, f"{po} {word}")
        po.cancelled = po.ordered - po.delivered
        return released

    return change


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

    def change(scope: Scope, po: PoLineRow) -> list[Released]:
        if po.closed or po.outstanding == 0:
            return []
        return _closer("close_short" if po.delivered else "cancel")(scope, po)

    return _run(ctx, po_number, None, change, actor=actor)


class _Keep(Enum):
    KEEP = "keep"


KEEP = _Keep.KEEP  # change_po_line: leave the due date as it is


def _set_due(due_date: date | None, result: SupplyChangeResult) -> Change:
    def change(scope: Scope, po: PoLineRow) -> list[Released]:
        _open(po)
        if po.outstanding == 0:
            raise Conflict(f"{po} has nothing outstanding")
        if due_date == po.due_date:
            return []
        scope.touch_po_line(po, "po_line.due_date")
        po.due_date = due_date
        for line in scope.linked_to(po.id):
            late = is_late(due_date, line.delivery_date)
            if late and line.reason != LATE:
                scope.touch_line(line, "so_line.late_supply")
                scope.set_reason(line, LATE)
                result.late_supply.append(line.ref)
            elif not late and line.reason == LATE:
                scope.touch_line(line, "so_line.on_time")
                scope.set_reason(line, None)
                result.on_time_again.append(line.ref)
        return []

    return change


def change_due_date(
    ctx: Context, po_number: str, line_no: int, due_date: date | None, *, actor: str
) -> SupplyChangeResult:
    """Move a PO line's due date; every expected date shown follows it.

    A linked order whose delivery date is now before the due date goes on the
    worklist as `late supply` (still linked) for a person to look at; one no
    longer late leaves it.
    """
    return change_po_line(ctx, po_number, line_no, due_date=due_date, actor=actor)


def change_po_line(
    ctx: Context,
    po_number: str,
    line_no: int,
    *,
    qty: int | None = None,
    due_date: date | _Keep | None = KEEP,
    actor: str,
) -> SupplyChangeResult:
    """Set a PO line's ordered quantity and/or due date in one transaction.

    The quantity first (links that no longer fit are released), then the due
    date (the links left are flagged `late supply` or cleared); released lines
    are offered again as by change_po_line_qty. None and KEEP leave a value as
    it is; a due date of None clears it.
    """
    changes: list[Change] = []
    result = SupplyChangeResult(po_number)
    if qty is not None:
        changes.append(_set_qty(positive_qty(qty)))
    if not isinstance(due_date, _Keep):
        changes.append(_set_due(due_date, result))
    if not changes:
        raise InvalidInput([FieldError("qty", "give a quantity, a due date or both")])

    def change(scope: Scope, po: PoLineRow) -> list[Released]:
        return [r for step in changes for r in step(scope, po)]

    done = _run(ctx, po_number, line_no, change, actor=actor, reallocate=qty is not None)
    done.late_supply, done.on_time_again = result.late_supply, result.on_time_again
    return done
