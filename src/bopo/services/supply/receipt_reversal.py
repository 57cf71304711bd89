"""Reversing a receipt booked in error: every unit it brought goes out again, and the
lines it served are offered again the way allocation would offer them.

The PO line's delivered quantity drops by the receipt (what is outstanding rises
again), on-hand drops by it, and each SO line takes back what the receipt gave
it. A line left linked in part is released whole, then offered with the item's
waiting lines, first to serve first: free stock, then a PO line (most often the
same one again, now that it expects the goods). It is refused, changing nothing,
when the goods cannot all be taken back: shipped since, or free stock they
became assigned since to other orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from pydantic import Field
from sqlalchemy import select, update

from bopo.db.models import PoLine, Receipt, ReceiptLine
from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.records import ChangeLog, SalesLineRef
from bopo.domain.workset import Workset
from bopo.errors import Conflict, NotFound
from bopo.services.common.engine import commit
from bopo.services.common.record_json import LineFields, LoggedChange
from bopo.services.context import Context

WHY = "receipt reversed"


@dataclass(frozen=True, slots=True)
class TakenBack(LineFields):
    """What one sales-order line gave back."""

    line: Annotated[SalesLineRef, Field(exclude=True)]
    qty: int


@dataclass
class ReversalResult(LoggedChange):
    """A receipt reversed: what went out again, who gave back what, and how the lines
    were offered again (`released`, `reallocated`)."""

    receipt_id: int
    po_number: str
    po_line_no: int
    sku: str
    qty: int
    taken_back: list[TakenBack] = field(default_factory=list)
    log: Annotated[ChangeLog, Field(exclude=True)] = field(default_factory=ChangeLog)


def reverse_receipt(ctx: Context, receipt_id: int, *, actor: str) -> ReversalResult:
    """Take a receipt back out (see the module's docstring); at most once."""
    now = ctx.clock()
    with ctx.db.write() as conn:
        head = conn.execute(
            select(Receipt.qty, Receipt.po_line_id, Receipt.reversed_at, PoLine.stock_item_id)
            .join(PoLine, PoLine.id == Receipt.po_line_id)
            .where(Receipt.id == receipt_id)
        ).one_or_none()
        if head is None:
            raise NotFound("receipt", receipt_id)
        shares = dict(
            conn.execute(
                select(ReceiptLine.so_line_id, ReceiptLine.qty).where(
                    ReceiptLine.receipt_id == receipt_id
                )
            ).all()
        )
        item = head.stock_item_id
        query = WorksetQuery.of(
            {item},
            so_line_ids=shares,
            also_po_line_ids={head.po_line_id},
            worklist=True,
            open_supply=True,
        )
        workset = load_workset(conn, query, now=now, actor=actor)
        # Read again now that the rows are locked: two reversals cannot both pass.
        if conn.scalar(select(Receipt.reversed_at).where(Receipt.id == receipt_id)):
            raise Conflict(f"receipt {receipt_id} is reversed already")
        result = _take_back(workset, head.po_line_id, head.qty, shares, item)
        offered = [workset.so_lines[i] for i in sorted(shares)]
        waiting = {line.id: line for line in [*offered, *workset.waiting({item})]}
        rules = ctx.rules(conn)
        result.log.offered = workset.offer(waiting.values(), rules, "so_line.reallocate")
        result.receipt_id = receipt_id
        conn.execute(
            update(Receipt)
            .where(Receipt.id == receipt_id)
            .values(reversed_at=now, reversed_by=actor)
        )
        details = {"receipt_id": receipt_id, "reversal": True}
        commit(conn, ctx, workset, stock_action="stock.unreceive", details=details)
    return result


def _take_back(
    workset: Workset, po_line_id: int, qty: int, shares: dict[int, int], item: int
) -> ReversalResult:
    """The receipt's units out of the PO line, the stock and each line it served (a line
    left linked in part is released whole); refused if they are gone."""
    po = workset.po_lines[po_line_id]
    result = ReversalResult(0, po.po_number, po.line_no, "", qty)
    if po.closed:
        raise Conflict(f"{po} is closed since: reopen nothing by reversing a receipt on it")
    workset.touch_po_line(po, "po_line.unreceive")
    po.delivered -= qty
    po.sync()
    for so_line_id, n in sorted(shares.items()):
        line = workset.so_lines[so_line_id]
        result.sku = line.sku
        if line.assigned < n:
            raise Conflict(
                f"{line.ref} has shipped or given up some of the {n} it got: "
                "they cannot be taken back"
            )
        workset.take_back(line, n, "so_line.unreceive")
        result.taken_back.append(TakenBack(line.ref, n))
        if line.links:  # linked in part: offered again whole, as allocation would
            result.log.released += workset.release(line, WHY, "so_line.unreceive")
    stock = workset.stock[item]
    stock.on_hand -= qty
    if stock.on_hand < stock.assigned:
        raise Conflict(
            f"{stock.assigned - stock.on_hand} of the units received are assigned to "
            "other orders since: unassign or ship them before reversing the receipt"
        )
    return result
