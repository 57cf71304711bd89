"""The change engine's database side: the one place that locks a change's rows, and the
one writer of what it changed.

A change works on a workset (bopo.domain.workset): some stock items, PO lines
(the ones changed, those the workset's SO lines are linked to, and with
re-allocation every open line of those items), SO lines (those linked to the
changed PO lines, those named, and the items' worklist lines) and every
active association of those SO lines. `load_workset` locks them in the fixed
order (stock items, PO lines, SO lines, associations, each by ascending id,
then the touched sales orders: bopo.services.common.engine). Locks are FOR NO
KEY UPDATE: no locked row is ever deleted or re-keyed, and a row that only names
a locked one (an email naming a link) must not wait for it, or a change holding
the order and one holding the link would deadlock. The change is decided in
memory by the pure rules; `write_workset` writes every difference with a few
bulk statements, in the order the CHECKs need (associations end or shrink
before a PO line's delivered or cancelled quantity rises; new links come last,
through `write_links`), with the audit rows and decision records. A what-if
loads the same rows without locks and never writes them.

Intake uses the same engine in its fast mode: it locks its batch's stock items
by SKU, together with its other reads in one round trip (`lock_skus`), and
reads the open PO lines of the items it is short of without locking them
(lock_supply=False): every change to a PO line's quantities or links is made
under its stock item's lock, so what is read stays true until it commits.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from bopo.db.audit import insert_audit
from bopo.db.bulk import SQLITE_INLINE_MAX, Writes, fetch_all, in_list, one_of
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
from bopo.db.queries import (
    IS_OPEN,
    StockRow,
    lock_stock_by_id,
    stock_by_sku_sql,
    stock_rows,
)
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
    re-allocation (supply_items: of these items only). lock=False reads the same
    rows without locking them (a what-if); lock_supply=False reads the PO lines
    without locking them (intake's fast mode, under the stock items' locks).
    """

    items: frozenset[int]
    po_line_ids: frozenset[int] = frozenset()
    so_line_ids: frozenset[int] = frozenset()
    also_po_line_ids: frozenset[int] = frozenset()
    worklist: bool = False
    open_supply: bool = False
    supply_items: frozenset[int] | None = None
    lock: bool = True
    lock_supply: bool = True

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
        supply_items: Collection[int] | None = None,
        lock: bool = True,
        lock_supply: bool = True,
    ) -> WorksetQuery:
        """A query from any collections of ids."""
        return cls(
            frozenset(items),
            frozenset(po_line_ids),
            frozenset(so_line_ids),
            frozenset(also_po_line_ids),
            worklist,
            open_supply,
            None if supply_items is None else frozenset(supply_items),
            lock,
            lock_supply,
        )


def load_workset(
    conn: Connection,
    query: WorksetQuery,
    *,
    now: datetime,
    actor: str,
    locked: Mapping[int, StockPosition] | None = None,
    supply: Mapping[int, PoLineRow] | None = None,
) -> Workset:
    """Lock and load a change's rows, in the fixed order. `locked`: the stock
    positions, when `lock_skus` locked the items already; `supply`: the open PO
    lines of (at least) the query's supply items, when read with that lock."""
    lock = query.lock
    if locked is not None:
        stock = dict(locked)
    else:
        rows = lock_stock_by_id(conn, query.items, lock=lock).values()
        stock = {r.id: StockPosition(r.id, r.on_hand, r.assigned) for r in rows}
    item_list = sorted(query.items)
    targets = sorted(query.po_line_ids)
    named = sorted(query.so_line_ids)
    # Every writer of associations holds the item's stock row first, so now that
    # those are locked, the links of these lines cannot change under us.
    links = _active_links(conn, targets, named)
    linked = {a.so_line_id for a in links}

    by_id = set(targets) | {a.po_line_id for a in links} | set(query.also_po_line_ids)
    if supply is not None and not by_id and not query.lock_supply:
        wanted = query.items if query.supply_items is None else query.supply_items
        po_lines = {i: r for i, r in supply.items() if r.item_id in wanted}
    else:
        po_lines = _load_po_lines(conn, query, sorted(by_id))

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
        for a in conn.execute(stmt.with_for_update(key_share=True) if lock else stmt):
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


def _po_lines_sql() -> Any:
    return (
        select(
            PoLine.id,
            PoLine.stock_item_id,
            PurchaseOrder.number,
            PoLine.line_no,
            PoLine.qty_ordered,
            PoLine.qty_delivered,
            PoLine.qty_cancelled,
            PoLine.due_date,
            PoLine.qty_associated,
            PoLine.status_id,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .order_by(PoLine.id)
    )


@functools.cache
def _open_supply_sql(dialect: str) -> Any:
    """The open PO lines of some items (parameter `items`), read without locks: built
    once, as intake asks it for every batch."""
    return _po_lines_sql().where(in_list(dialect, PoLine.stock_item_id, "items"), IS_OPEN)


@functools.cache
def open_supply_by_sku_sql(dialect: str) -> Any:
    """The open PO lines of the items with some SKUs (parameter `skus`), read without
    locks: a small intake batch reads them in the round trip that locks its stock
    (lock_skus), after the lock, so they stay true as `_open_supply_sql`'s would."""
    items = select(StockItem.id).where(in_list(dialect, StockItem.sku, "skus"))
    return _po_lines_sql().where(PoLine.stock_item_id.in_(items.scalar_subquery()), IS_OPEN)


def po_line_rows(rows: Iterable[Any]) -> dict[int, PoLineRow]:
    """PO lines by id, from the rows of the statements above."""
    return _po_line_rows(rows)


def _load_po_lines(
    conn: Connection, query: WorksetQuery, by_id: Sequence[int]
) -> dict[int, PoLineRow]:
    """The PO lines `by_id`, and (open_supply) the open lines of the items."""
    lock = query.lock and query.lock_supply
    items = sorted(query.items if query.supply_items is None else query.supply_items)
    if not query.open_supply:
        items = []
    short_list = conn.dialect.name == "postgresql" or len(items) <= SQLITE_INLINE_MAX
    if items and not by_id and not lock and short_list:
        # Intake's case, in every batch: a statement built once.
        stmt = _open_supply_sql(conn.dialect.name)
        return _po_line_rows(fetch_all(conn, [(stmt, {"items": items})])[0])
    where: list[ColumnElement[bool]] = []
    if by_id:
        where.append(one_of(conn, PoLine.id, by_id))
    if items:
        where.append(and_(one_of(conn, PoLine.stock_item_id, items), IS_OPEN))
    if not where:
        return {}
    stmt = _po_lines_sql().where(or_(*where))
    return _po_line_rows(
        conn.execute(stmt.with_for_update(of=PoLine, key_share=True) if lock else stmt)
    )


def _po_line_rows(rows: Iterable[Any]) -> dict[int, PoLineRow]:
    out = {}
    for id_, item, number, line_no, ordered, delivered, cancelled, due, associated, status in rows:
        outstanding = max(0, ordered - delivered - cancelled)
        supply = PoLineSupply(id_, item, due, outstanding, associated, status)
        out[id_] = PoLineRow(id_, item, number, line_no, ordered, delivered, cancelled, due, supply)
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
    for r in conn.execute(stmt.with_for_update(of=SoLine, key_share=True) if lock else stmt):
        values: tuple[Any, ...] = tuple(r)
        out[r.id] = SoLineRow(*values)
    return out


def lock_skus(
    conn: Connection, skus: Collection[str], alongside: Sequence[tuple[Any, Mapping[str, Any]]]
) -> tuple[dict[str, StockRow], list[list[Any]]]:
    """Lock stock items by SKU (in id order) and run the `alongside` reads (built once,
    see fetch_all) in the same round trip; the lock goes first, so they see what a
    transaction that held these items committed."""
    found, *others = fetch_all(
        conn, [(stock_by_sku_sql(conn.dialect.name), {"skus": sorted(skus)}), *alongside]
    )
    return stock_rows(found), others


def write_workset(
    conn: Connection, workset: Workset, *, stock_action: str, details: dict[str, Any]
) -> list[int]:
    """Write every change of `workset`, in the order the CHECKs need, with its audit
    rows and decision records; returns the new links' association ids."""
    writes = Writes(conn)
    changes = workset.changes(stock_action=stock_action, details=details)
    ids = writes.reserve_ids({Association: len(changes.new_links)})[Association]
    queue_changes(writes, changes, ids)
    writes.flush()
    return ids


def queue_changes(writes: Writes, changes: Changes, link_ids: Sequence[int]) -> None:
    """Queue `changes` (the new links with their reserved `link_ids`); the one writer of
    links, audit rows and decision records."""
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
    write_links(writes, changes.new_links, link_ids, actor=actor, now=now, audit=audit)
    insert_audit(writes, audit)
    writes.insert(AllocationDecision, changes.decisions)
