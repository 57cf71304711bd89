"""Demand changes: cancelling a sales order or one of its lines, reducing a line.

What a line gives up comes off what is not in stock yet first (its waiting
or linked quantity, the latest-due part of a split line first), then off its
assigned stock, so what is here can still ship. Stock handed back is offered
to the item's waiting lines, oldest delivery date first; a link that ends or
shrinks frees quantity on order, offered (switch on) to the item's
unallocated lines, oldest delivery date first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field

from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.changes import reduce_demand
from bopo.domain.records import ChangeLog, Released, SoLineRow
from bopo.domain.statuses import SalesOrderStatus, transition
from bopo.domain.workset import Workset
from bopo.errors import Conflict, FieldError, InvalidInput
from bopo.services.common.engine import commit
from bopo.services.common.lookup import find_sales_order, order_lines, positive_qty
from bopo.services.common.record_json import LoggedChange
from bopo.services.context import Context


@dataclass(frozen=True, slots=True)
class SoLineChange:
    line_no: int
    sku: str
    given_up: Annotated[int, Field(description="Units no longer wanted")]
    from_stock: Annotated[int, Field(description="Of which assigned stock handed back")]
    from_backorder: Annotated[int, Field(description="Of which waiting or linked units")]


@dataclass
class DemandChangeResult(LoggedChange):
    """What a demand change did: lines given up, links released, other lines served."""

    id: int
    source: str
    number: str
    status: str
    lines: list[SoLineChange] = field(default_factory=list)
    log: Annotated[ChangeLog, Field(exclude=True)] = field(default_factory=ChangeLog)


# How many units a line gives up, or an error; None means "leave this line alone".
Decide = Callable[[SoLineRow], int | None]


def _run(
    ctx: Context,
    number: str,
    source: str | None,
    line_no: int | None,
    decide: Decide,
    *,
    actor: str,
    why: str,
    action: str,
) -> DemandChangeResult:
    now = ctx.clock()
    with ctx.db.write() as conn:
        rules = ctx.rules(conn)
        order = find_sales_order(conn, number, source)
        keys = order_lines(conn, order)
        if line_no is not None:
            order_lines(conn, order, [line_no])  # NotFound for an unknown line
        query = WorksetQuery.of(
            {k.stock_item_id for k in keys},
            so_line_ids=[k.id for k in keys],
            worklist=True,
            open_supply=rules.enabled,
        )
        workset = load_workset(conn, query, now=now, actor=actor)
        rows = workset.order_lines(order.id)
        status = rows[0].order_status
        whole = line_no is None
        if whole:
            transition(SalesOrderStatus(status), SalesOrderStatus.CANCELLED)
        elif status != SalesOrderStatus.OPEN:
            raise Conflict(f"sales order {order.source}/{order.number} is {status}")
        result = DemandChangeResult(order.id, order.source, order.number, status)
        for line in rows:
            if not whole and line.line_no != line_no:
                continue
            by = decide(line)
            if by:
                change, released = _give_up(workset, line, by, why, action)
                result.lines.append(change)
                result.log.released.extend(released)
        if whole:
            result.status = SalesOrderStatus.CANCELLED.value
        elif all(r.qty == r.shipped + r.cancelled for r in rows):
            shipped = any(r.shipped for r in rows)
            result.status = (
                SalesOrderStatus.COMPLETED if shipped else SalesOrderStatus.CANCELLED
            ).value
        if result.status != status:
            workset.set_order_status(order.id, status, result.status)
        result.log.offered = workset.offer(
            workset.waiting({line.item_id for line in rows}), rules, "so_line.reallocate"
        )
        details = {"sales_order_id": order.id}
        commit(conn, ctx, workset, stock_action="stock.release", details=details)
    return result


def _give_up(
    workset: Workset, line: SoLineRow, by: int, why: str, action: str
) -> tuple[SoLineChange, list[Released]]:
    cut = reduce_demand(by, backorder=line.remaining, assigned=line.assigned)
    workset.touch_line(line, action)
    line.cancelled += by
    line.assigned -= cut.from_stock
    workset.stock[line.item_id].assigned -= cut.from_stock
    released = []
    if cut.from_backorder and line.links:
        released = workset.give_up_on_order(line, cut.from_backorder, why, action)
    if not line.links and line.remaining == 0:
        workset.set_reason(line, None)
    return SoLineChange(line.line_no, line.sku, by, cut.from_stock, cut.from_backorder), released


def cancel_sales_order(
    ctx: Context, number: str, *, source: str | None = None, actor: str
) -> DemandChangeResult:
    """Cancel a whole order: every line gives up what is not shipped."""
    return _run(
        ctx,
        number,
        source,
        None,
        _open_qty,
        actor=actor,
        why="sales order cancelled",
        action="so_line.cancel",
    )


def cancel_so_line(
    ctx: Context, number: str, line_no: int, *, source: str | None = None, actor: str
) -> DemandChangeResult:
    """Cancel one line: it gives up what is not shipped."""

    def decide(line: SoLineRow) -> int:
        by = _open_qty(line)
        if not by:
            raise Conflict(f"{line.ref} has nothing left to cancel")
        return by

    return _run(
        ctx,
        number,
        source,
        line_no,
        decide,
        actor=actor,
        why="sales order line cancelled",
        action="so_line.cancel",
    )


def change_so_line_qty(
    ctx: Context,
    number: str,
    line_no: int,
    qty: int,
    *,
    source: str | None = None,
    actor: str,
) -> DemandChangeResult:
    """Reduce a line to `qty` units in all (shipped ones included)."""
    qty = positive_qty(qty, allow_zero=True)

    def decide(line: SoLineRow) -> int:
        current = line.qty - line.cancelled
        if qty >= current:
            raise InvalidInput([FieldError("qty", f"can only go down from {current}")])
        if qty < line.shipped:
            raise InvalidInput([FieldError("qty", f"is below the {line.shipped} shipped")])
        return current - qty

    return _run(
        ctx,
        number,
        source,
        line_no,
        decide,
        actor=actor,
        why=f"sales order line reduced to {qty}",
        action="so_line.reduce",
    )


def _open_qty(line: SoLineRow) -> int:
    return line.qty - line.shipped - line.cancelled
