"""Goods in: receiving quantity on a PO line, sharing out the stock it brings, and
the "released at goods-in" view of past receipts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import Field
from sqlalchemy import Connection, insert, select

from bopo.db.models import (
    Customer,
    PoLine,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.changes import ReceiptSplit, split_receipt
from bopo.domain.decisions import receipt_row
from bopo.domain.records import PoLineRow, SalesLineRef
from bopo.domain.workset import Workset
from bopo.errors import Conflict, NotFound
from bopo.services.common.engine import commit
from bopo.services.common.lookup import find_po_line, positive_qty
from bopo.services.common.pages import AnySelect, Page, fetch_page
from bopo.services.context import Context


@dataclass(frozen=True, slots=True)
class ReceivedLine:
    """What one sales-order line got from a receipt."""

    source: str
    number: str
    line_no: int
    customer_code: str
    customer_name: str
    qty: int
    kind: Annotated[
        Literal["linked", "backorder"],
        Field(
            description="linked: by its link to this PO line; backorder: it waited on the worklist"
        ),
    ]

    @property
    def line(self) -> SalesLineRef:
        return SalesLineRef(self.source, self.number, self.line_no)


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """A receipt: which orders got what, and what went to free stock."""

    id: int
    po_number: str
    po_line_no: int
    sku: str
    qty: int
    to_stock: int
    received_at: datetime
    received_by: str
    lines: Annotated[tuple[ReceivedLine, ...], Field(serialization_alias="to_orders")]
    reversed_at: Annotated[
        datetime | None, Field(description="Taken back out as booked in error (then not counted)")
    ] = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptResult(ReceiptView):
    # received beyond what was outstanding; it went to stock like the rest
    over_delivered: Annotated[int, Field(description="Received beyond what was outstanding")]


@dataclass
class PlannedReceipt:
    """A receipt shared out in memory: the changed workset and where the units went."""

    workset: Workset
    po: PoLineRow
    qty: int
    split: ReceiptSplit
    over: int


def plan_receipt(
    conn: Connection,
    po_number: str,
    line_no: int,
    qty: int,
    *,
    actor: str,
    now: datetime,
    lock: bool = True,
) -> PlannedReceipt:
    """What receiving `qty` on a PO line does, decided in memory (nothing is written)."""
    qty = positive_qty(qty)
    key = find_po_line(conn, po_number, line_no)
    item = key.stock_item_id
    query = WorksetQuery.of({item}, po_line_ids={key.id}, worklist=True, lock=lock)
    workset = load_workset(conn, query, now=now, actor=actor)
    po = workset.po_lines[key.id]
    if po.closed:
        how = "closed short" if po.delivered else "cancelled"
        raise Conflict(f"{po} is {how}: nothing more is expected on it")
    linked = workset.linked_to(po.id)
    waiting = workset.waiting({item})
    split = split_receipt(
        qty,
        [line.claim(line.links[po.id].qty) for line in linked],
        [line.claim() for line in waiting],
    )
    over = max(0, qty - po.outstanding)

    workset.touch_po_line(po, "po_line.receive")
    po.delivered += qty
    po.sync()
    workset.stock[item].on_hand += qty
    for so_line_id, n in split.to_linked:
        line = workset.so_lines[so_line_id]
        waited = line.links[po.id].qty
        workset.fulfil(line, po.id, n, f"received on {po}")
        workset.decisions.append(_record(workset, line.id, po, qty, waited, n, linked=True))
    for so_line_id, n in split.to_waiting:
        line = workset.so_lines[so_line_id]
        waited = line.remaining
        workset.assign_stock(line, n, "so_line.receive")
        workset.decisions.append(_record(workset, line.id, po, qty, waited, n, linked=False))
    return PlannedReceipt(workset, po, qty, split, over)


def _record(
    workset: Workset,
    so_line_id: int,
    po: PoLineRow,
    qty: int,
    waited: int,
    got: int,
    *,
    linked: bool,
) -> dict[str, Any]:
    return receipt_row(
        so_line_id=so_line_id,
        at=workset.now,
        linked=linked,
        waited=waited,
        got=got,
        po_line_id=po.id,
        due_date=po.due_date,
        received=qty,
    )


def receive(ctx: Context, po_number: str, line_no: int, qty: int, *, actor: str) -> ReceiptResult:
    """Receive `qty` on a PO line: delivered and on-hand go up, then the stock is shared.

    First the SO lines linked to this PO line, highest priority then oldest
    delivery date first (a line given all it waits for has its link
    fulfilled); then the item's unallocated worklist lines, in the same order;
    the rest is free stock. Over-delivery is accepted.
    """
    now = ctx.clock()
    with ctx.db.write() as conn:
        planned = plan_receipt(conn, po_number, line_no, qty, actor=actor, now=now)
        po, split, workset = planned.po, planned.split, planned.workset
        receipt_id = conn.scalar(
            insert(Receipt)
            .values(
                po_line_id=po.id,
                qty=planned.qty,
                to_stock=split.to_stock,
                received_at=now,
                received_by=actor,
            )
            .returning(Receipt.id)
        )
        assert receipt_id is not None
        shares = [(i, n, "linked") for i, n in split.to_linked]
        shares += [(i, n, "backorder") for i, n in split.to_waiting]
        if shares:
            conn.execute(
                insert(ReceiptLine),
                [
                    {"receipt_id": receipt_id, "so_line_id": i, "qty": n, "kind": kind}
                    for i, n, kind in shares
                ],
            )
        details = {"receipt_id": receipt_id}
        commit(conn, ctx, workset, stock_action="stock.receive", details=details)
        view = _load_receipts(conn, ids=[receipt_id])[0]
    return ReceiptResult(
        **{f.name: getattr(view, f.name) for f in fields(view)}, over_delivered=planned.over
    )


def list_receipts(
    ctx: Context,
    *,
    po_number: str | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
) -> list[ReceiptView]:
    """Receipts newest first (those from `since` on), each with which orders got what
    and what went to free stock."""
    with ctx.db.read() as conn:
        return _load_receipts(conn, po_number=po_number, since=since, limit=limit)


def find_receipts(
    ctx: Context, *, po_number: str | None = None, limit: int = 50, offset: int = 0
) -> Page[ReceiptView]:
    """One page of receipts, newest first, with the total: "released at goods-in"."""
    stmt = _heads()
    if po_number is not None:
        stmt = stmt.where(PurchaseOrder.number == po_number)
    with ctx.db.read() as conn:
        heads = fetch_page(conn, stmt, _Head, limit=limit, offset=offset)
        items = _with_lines(conn, heads.items)
        return Page(items, heads.total, heads.limit, heads.offset, heads.total_capped)


def get_receipt(ctx: Context, receipt_id: int) -> ReceiptView:
    """One receipt by its id."""
    with ctx.db.read() as conn:
        found = _load_receipts(conn, ids=[receipt_id])
    if not found:
        raise NotFound("receipt", receipt_id)
    return found[0]


class _Head(NamedTuple):
    id: int
    po_number: str
    po_line_no: int
    sku: str
    qty: int
    to_stock: int
    received_at: datetime
    received_by: str
    reversed_at: datetime | None


def _heads() -> AnySelect:
    return (
        select(
            Receipt.id,
            PurchaseOrder.number.label("po_number"),
            PoLine.line_no.label("po_line_no"),
            StockItem.sku,
            Receipt.qty,
            Receipt.to_stock,
            Receipt.received_at,
            Receipt.received_by,
            Receipt.reversed_at,
        )
        .join(PoLine, PoLine.id == Receipt.po_line_id)
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .join(StockItem, StockItem.id == PoLine.stock_item_id)
        .order_by(Receipt.id.desc())
    )


def _load_receipts(
    conn: Connection,
    *,
    ids: Collection[int] | None = None,
    po_number: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[ReceiptView]:
    stmt = _heads().limit(limit)
    if ids is not None:
        stmt = stmt.where(Receipt.id.in_(sorted(ids)))
    if po_number is not None:
        stmt = stmt.where(PurchaseOrder.number == po_number)
    if since is not None:
        stmt = stmt.where(Receipt.received_at >= since)
    return _with_lines(conn, [_Head(**h._mapping) for h in conn.execute(stmt)])


def _with_lines(conn: Connection, heads: Sequence[_Head]) -> list[ReceiptView]:
    """The receipts with the sales-order lines each one served."""
    lines: dict[int, list[ReceivedLine]] = defaultdict(list)
    if heads:
        for r in conn.execute(
            select(
                ReceiptLine.receipt_id,
                SalesOrder.source,
                SalesOrder.number,
                SoLine.line_no,
                Customer.code.label("customer_code"),
                Customer.name.label("customer_name"),
                ReceiptLine.qty,
                ReceiptLine.kind,
            )
            .join(SoLine, SoLine.id == ReceiptLine.so_line_id)
            .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
            .join(Customer, Customer.id == SalesOrder.customer_id)
            .where(ReceiptLine.receipt_id.in_([h.id for h in heads]))
            .order_by(
                ReceiptLine.receipt_id,
                ReceiptLine.kind.desc(),  # linked lines first, as they were served
                SalesOrder.priority.desc(),
                SalesOrder.delivery_date,
                SalesOrder.id,
                SoLine.line_no,
            )
        ):
            line = dict(r._mapping)
            lines[line.pop("receipt_id")].append(ReceivedLine(**line))
    return [ReceiptView(**h._asdict(), lines=tuple(lines[h.id])) for h in heads]
