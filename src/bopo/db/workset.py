"""The change engine's database side: the one place that locks a change's rows, and the
one writer of what it changed.

A change works on a workset (bopo.domain.workset): some stock items, PO lines
(the ones changed, those the workset's SO lines are linked to, and with
re-allocation every open line of those items), SO lines (those linked to the
changed PO lines, those named, and the items' worklist lines) and every
active association of those SO lines. `load_workset` locks them in the fixed
order (stock items, PO lines, SO lines, associations, each by ascending id);
the change is decided in memory by the pure rules; `write_workset` writes
every difference with a few bulk statements, in the order the CHECKs need
(associations end or shrink before a PO line's delivered or cancelled
quantity rises; new links come last, through `write_links`), with the audit
rows and decision records. A what-if loads the same rows without locks and
never writes them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from bopo.db.audit import insert_audit
from bopo.db.bulk import Writes, one_of
from bopo.db.links import write_links
from bopo.db.models import (
    AllocationDecision,
    Association,
    PoLine,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.db.queries import IS_OPEN, lock_stock_by_id
from bopo.domain.allocation import PoLineSupply, StockPosition
from bopo.domain.records import LATE, AssocRow, PoLineRow, SoLineRow
from bopo.domain.workset import Workset
from bopo.domain.workset_changes import Changes

_ACTIVE = Association.state == "active"


@dataclass(frozen=True, slots=True)
class WorksetQuery:
    """Which rows a change works on.

    items: the stock items involved (every PO and SO line given must be of one
    of them). po_line_ids: PO lines whose linked SO lines come too. so_line_ids:
    SO lines named by the caller. Every active link of the SO lines loaded comes
    with them, and the PO lines they are linked to are locked. also_po_line_ids:
    PO lines locked without their links. worklist: the items' unallocated
    worklist lines. open_supply: every open PO line of the items, for
    re-allocation. lock=False reads the same rows without locking them (a what-if).
    """

    items: frozenset[int]
    po_line_ids: frozenset[int] = frozenset()
    so_line_ids: frozenset[int] = frozenset()
    also_po_line_ids: frozenset[int] = frozenset()
    worklist: bool = False
    open_supply: bool = False
    lock: bool = True

    @classmethod
    def of(
        cls,
        items: Collection[int],
        *,
        po_line_ids: Collection[int] = (),
        so_line_ids: Collection[int] = (),
        also_po_line_ids: Collection[int] = (),
        worklist: bool = False,
        open_supply: bool = False,
        lock: bool = True,
    ) -> WorksetQuery:
        """A query from any collections of ids."""
        return cls(
            frozenset(items),
            frozenset(po_line_ids),
            frozenset(so_line_ids),
            frozenset(also_po_line_ids),
            worklist,
            open_supply,
            lock,
        )


def load_workset(conn: Connection, query: WorksetQuery, *, now: datetime, actor: str) -> Workset:
    """Lock and load a change's rows, in the fixed order."""
    lock = query.lock
    stock = {
        r.id: StockPosition(r.id, r.on_hand, r.assigned)
        for r in lock_stock_by_id(conn, query.items, lock=lock).values()
    }
    item_list = sorted(query.items)
    targets = sorted(query.po_line_ids)
    named = sorted(query.so_line_ids)
    # Every writer of associations holds the item's stock row first, so now that
    # those are locked, the links of these lines cannot change under us.
    links = _active_links(conn, targets, named)
    linked = {a.so_line_id for a in links}

    po_where: list[ColumnElement[bool]] = []
    locked = set(targets) | {a.po_line_id for a in links} | set(query.also_po_line_ids)
    if locked:
        po_where.append(one_of(conn, PoLine.id, sorted(locked)))
    if query.open_supply:
        po_where.append(and_(one_of(conn, PoLine.stock_item_id, item_list), IS_OPEN))
    po_lines = _load_po_lines(conn, po_where, lock)

    so_where: list[ColumnElement[bool]] = []
    # Id lists (not a subquery), so each arm of the OR uses its index; one_of sends
    # each list as one parameter, however long (a preview over the whole worklist).
    if linked | set(named):
        so_where.append(one_of(conn, SoLine.id, sorted(linked | set(named))))
    if query.worklist:
        so_where.append(
            and_(
                one_of(conn, SoLine.stock_item_id, item_list),
                SoLine.backorder_reason.is_not(None),
                SoLine.backorder_reason != LATE,
            )
        )
    so_lines = _load_so_lines(conn, so_where, lock)

    if linked:
        stmt = (
            select(Association.id, Association.so_line_id, Association.po_line_id, Association.qty)
            .where(_ACTIVE, one_of(conn, Association.so_line_id, sorted(linked)))
            .order_by(Association.id)
        )
        for a in conn.execute(stmt.with_for_update() if lock else stmt):
            so_lines[a.so_line_id].links[a.po_line_id] = AssocRow(a.id, a.po_line_id, a.qty)
    return Workset(now=now, actor=actor, stock=stock, po_lines=po_lines, so_lines=so_lines)


def _active_links(conn: Connection, targets: Sequence[int], named: Sequence[int]) -> list[Any]:
    """(so_line_id, po_line_id) of the active links of the named SO lines and of every
    SO line linked to a target PO line."""
    if not targets and not named:
        return []
    arms: list[ColumnElement[bool]] = []
    if targets:
        arms.append(
            Association.so_line_id.in_(
                select(Association.so_line_id).where(
                    one_of(conn, Association.po_line_id, targets), _ACTIVE
                )
            )
        )
    if named:
        arms.append(one_of(conn, Association.so_line_id, named))
    return list(
        conn.execute(
            select(Association.so_line_id, Association.po_line_id).where(_ACTIVE, or_(*arms))
        )
    )


def _load_po_lines(
    conn: Connection, where: list[ColumnElement[bool]], lock: bool
) -> dict[int, PoLineRow]:
    if not where:
        return {}
    out = {}
    stmt = (
        select(
            PoLine.id,
            PoLine.stock_item_id,
            PurchaseOrder.number,
            PoLine.line_no,
            PoLine.qty_ordered,
            PoLine.qty_delivered,
            PoLine.qty_cancelled,
            PoLine.qty_associated,
            PoLine.due_date,
            PoLine.status_id,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .where(or_(*where))
        .order_by(PoLine.id)
    )
    for r in conn.execute(stmt.with_for_update(of=PoLine) if lock else stmt):
        outstanding = max(0, r.qty_ordered - r.qty_delivered - r.qty_cancelled)
        supply = PoLineSupply(
            r.id, r.stock_item_id, r.due_date, outstanding, r.qty_associated, r.status_id
        )
        out[r.id] = PoLineRow(
            r.id,
            r.stock_item_id,
            r.number,
            r.line_no,
            r.qty_ordered,
            r.qty_delivered,
            r.qty_cancelled,
            r.due_date,
            supply,
        )
    return out


def _load_so_lines(
    conn: Connection, where: list[ColumnElement[bool]], lock: bool
) -> dict[int, SoLineRow]:
    if not where:
        return {}
    stmt = (
        select(
            SoLine.id,
            SoLine.sales_order_id,
            SalesOrder.status,
            SalesOrder.source,
            SalesOrder.number,
            SoLine.line_no,
            SoLine.stock_item_id,
            StockItem.sku,
            SalesOrder.delivery_date,
            SoLine.qty,
            SoLine.qty_assigned,
            SoLine.qty_shipped,
            SoLine.qty_cancelled,
            SoLine.backorder_reason,
            SoLine.backorder_since,
            SalesOrder.priority,
        )
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .join(StockItem, StockItem.id == SoLine.stock_item_id)
        .where(or_(*where))
        .order_by(SoLine.id)
    )
    out = {}
    for r in conn.execute(stmt.with_for_update(of=SoLine) if lock else stmt):
        values: tuple[Any, ...] = tuple(r)
        out[r.id] = SoLineRow(*values)
    return out


def write_workset(
    conn: Connection, workset: Workset, *, stock_action: str, details: dict[str, Any]
) -> list[int]:
    """Write every change of `workset`, in the order the CHECKs need, with its audit
    rows and decision records; returns the new links' association ids."""
    return write_changes(Writes(conn), workset.changes(stock_action=stock_action, details=details))


def write_changes(writes: Writes, changes: Changes) -> list[int]:
    """Queue and send `changes`; returns the new links' association ids."""
    now, actor = changes.now, changes.actor
    # Links that end or shrink go first: they make room on their PO lines.
    for (state, why), ids in changes.ended_links.items():
        writes.execute(
            update(Association)
            .where(one_of(writes.conn, Association.id, ids))
            .values(state=state, ended_at=now, ended_by=actor, ended_reason=why)
        )
    writes.update_by_id(Association, changes.shrunk_links)
    writes.update_by_id(PoLine, changes.po_lines)
    writes.update_by_id(StockItem, changes.stock)
    writes.update_by_id(SoLine, changes.so_lines)
    for order_id, status in changes.order_status:
        writes.execute(update(SalesOrder).where(SalesOrder.id == order_id).values(status=status))
    audit = list(changes.audit)
    ids = writes.reserve_ids({Association: len(changes.new_links)})[Association]
    write_links(writes, changes.new_links, ids, actor=actor, now=now, audit=audit)
    insert_audit(writes, audit)
    writes.insert(AllocationDecision, changes.decisions)
    writes.flush()
    return ids
