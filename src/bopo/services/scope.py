"""The rows a goods-in, supply or demand change touches: locked, changed in memory, written back.

A change works on a scope: some stock items, PO lines (the ones changed, and
with re-allocation every open line of those items), SO lines (those linked to
the changed PO lines, those named, and the items' worklist lines) and the
active associations between them. `load_scope` locks them in the fixed order
(stock items, PO lines, SO lines, associations, each by ascending id); the
service changes the rows in memory, asking the pure rules in bopo.domain what
to do; `Scope.flush` writes every difference with a few bulk statements, in
the order the CHECKs need (associations end or shrink before a PO line's
delivered or cancelled quantity rises; new links come last, through
`write_links`), and audits each changed row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from bopo.db.bulk import Writes, one_of
from bopo.db.models import (
    Association,
    AuditEvent,
    PoLine,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.db.queries import IS_OPEN, lock_stock_by_id
from bopo.domain.allocation import AllocationRules, Link, PoLineSupply, StockPosition, offer_again
from bopo.domain.statuses import AssociationState, SalesOrderStatus, SkipReason, transition
from bopo.domain.templating import EmailEvent
from bopo.services.context import Context
from bopo.services.linking import NewLink, event, write_links
from bopo.services.records import (
    LATE,
    AssocRow,
    Offered,
    PoLineRow,
    Released,
    SoLineRow,
)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _diff(
    names: Sequence[str], before: Sequence[Any], after: Sequence[Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    changed = [i for i in range(len(names)) if before[i] != after[i]]
    return (
        {names[i]: _json(before[i]) for i in changed},
        {names[i]: _json(after[i]) for i in changed},
    )


_PO_FIELDS = ("qty_ordered", "qty_delivered", "qty_cancelled", "due_date")
_SO_FIELDS = ("qty_assigned", "qty_shipped", "qty_cancelled", "backorder_reason", "backorder_since")


class Scope:
    """Locked rows of one change, their state before it, and what it did to them."""

    def __init__(
        self,
        *,
        now: datetime,
        actor: str,
        stock: dict[int, StockPosition],
        po_lines: dict[int, PoLineRow],
        so_lines: dict[int, SoLineRow],
    ) -> None:
        self.now = now
        self.actor = actor
        self.stock = stock
        self.po_lines = po_lines
        self.so_lines = so_lines
        self.audit: list[dict[str, Any]] = []
        self._orig_stock = {i: (s.on_hand, s.assigned) for i, s in stock.items()}
        self._orig_po = {i: self._po_values(p) for i, p in po_lines.items()}
        self._orig_so = {i: self._so_values(s) for i, s in so_lines.items()}
        self._orig_assoc = {
            s.link.id: (s.link.qty, s.link.state) for s in so_lines.values() if s.link
        }
        self._assocs = {s.link.id: s.link for s in so_lines.values() if s.link}
        self._line_action: dict[int, str] = {}
        self._po_action: dict[int, str] = {}
        self._order_status: dict[int, tuple[str, str]] = {}

    @staticmethod
    def _po_values(p: PoLineRow) -> tuple[Any, ...]:
        return (p.ordered, p.delivered, p.cancelled, p.due_date)

    @staticmethod
    def _so_values(s: SoLineRow) -> tuple[Any, ...]:
        return (s.assigned, s.shipped, s.cancelled, s.reason, s.since)

    # --- reading the scope --------------------------------------------------------------

    def linked_to(self, po_line_id: int) -> list[SoLineRow]:
        """The SO lines actively linked to a PO line, oldest delivery date first."""
        lines = [
            s
            for s in self.so_lines.values()
            if s.link and s.link.state == "active" and s.link.po_line_id == po_line_id
        ]
        return sorted(lines, key=lambda s: s.priority)

    def waiting(
        self, item_ids: Collection[int], *, exclude: Collection[int] = ()
    ) -> list[SoLineRow]:
        """Unallocated worklist lines of these items, oldest delivery date first."""
        lines = [
            s
            for s in self.so_lines.values()
            if s.item_id in item_ids
            and s.unallocated
            and s.reason is not None
            and s.order_status == "open"
            and s.id not in exclude
        ]
        return sorted(lines, key=lambda s: s.priority)

    def order_lines(self, order_id: int) -> list[SoLineRow]:
        return sorted(
            (s for s in self.so_lines.values() if s.order_id == order_id),
            key=lambda s: s.line_no,
        )

    # --- changing it ----------------------------------------------------------------------

    def touch_line(self, line: SoLineRow, action: str) -> None:
        """Name the action an SO line's audit row will carry (the first one wins)."""
        self._line_action.setdefault(line.id, action)

    def touch_po_line(self, po: PoLineRow, action: str) -> None:
        self._po_action.setdefault(po.id, action)

    def set_reason(self, line: SoLineRow, reason: str | None) -> None:
        """Put a line on the worklist with `reason`, or take it off (None)."""
        if reason is not None and line.reason is None:
            line.since = self.now
        elif reason is None:
            line.since = None
        line.reason = reason

    def _end_link(self, line: SoLineRow, state: AssociationState, why: str) -> AssocRow:
        link = line.link
        assert link is not None
        link.state = transition(AssociationState(link.state), state).value
        link.ended_reason = why
        po = self.po_lines[link.po_line_id]
        po.supply.associated -= link.qty
        line.link = None
        self.audit.append(
            event(
                self.now,
                self.actor,
                f"association.{'release' if state is AssociationState.RELEASED else 'fulfil'}",
                "association",
                link.id,
                {"state": "active", "qty": link.qty},
                {
                    "state": link.state,
                    "reason": why,
                    "so_line_id": line.id,
                    "po_line_id": po.id,
                    "sales_order_id": line.order_id,
                },
            )
        )
        return link

    def release(self, line: SoLineRow, why: str, action: str) -> Released:
        """End a line's link; it waits on the worklist (`released`) until offered again."""
        self.touch_line(line, action)
        link = self._end_link(line, AssociationState.RELEASED, why)
        po = self.po_lines[link.po_line_id]
        self.set_reason(line, SkipReason.RELEASED.value if line.remaining else None)
        return Released(line.ref, line.sku, link.qty, po.po_number, po.line_no, why)

    def shrink_link(self, line: SoLineRow, by: int, why: str, action: str) -> Released | None:
        """Take `by` units off a line's link; a link left with nothing is released."""
        link = line.link
        assert link is not None
        assert 0 < by <= link.qty
        if by == link.qty:
            return self.release(line, why, action)
        self.touch_line(line, action)
        link.qty -= by
        self.po_lines[link.po_line_id].supply.associated -= by
        self.audit.append(
            event(
                self.now,
                self.actor,
                "association.reduce",
                "association",
                link.id,
                {"qty": link.qty + by},
                {"qty": link.qty, "reason": why, "so_line_id": line.id},
            )
        )
        return None

    def fulfil(self, line: SoLineRow, qty: int, why: str) -> None:
        """Give a linked line `qty` of stock its PO line brought; all of it ends the link."""
        link = line.link
        assert link is not None
        assert 0 < qty <= link.qty
        self.touch_line(line, "so_line.receive")
        self.stock[line.item_id].assigned += qty
        line.assigned += qty
        if qty == link.qty:
            self._end_link(line, AssociationState.FULFILLED, why)
            self.set_reason(line, None)
        else:
            self.shrink_link(line, qty, why, "so_line.receive")

    def assign_stock(self, line: SoLineRow, qty: int, action: str) -> None:
        """Give a waiting line `qty` of stock; it leaves the worklist when nothing is left."""
        assert line.link is None
        assert 0 < qty <= line.remaining
        self.touch_line(line, action)
        self.stock[line.item_id].assigned += qty
        line.assigned += qty
        if line.remaining == 0:
            self.set_reason(line, None)

    def link(
        self, line: SoLineRow, po: PoLineRow, qty: int, set_status_id: int | None, action: str
    ) -> None:
        """Link a line to a PO line (written by write_links, so its email follows)."""
        self.touch_line(line, action)
        po.supply.associated += qty
        if set_status_id is not None:
            po.supply.status_id = set_status_id
        line.new_link = Link(po.id, qty, po.due_date, set_status_id)
        self.set_reason(line, None)

    def set_order_status(self, order_id: int, current: str, wanted: str) -> None:
        transition(SalesOrderStatus(current), SalesOrderStatus(wanted))
        self._order_status[order_id] = (current, wanted)
        for line in self.so_lines.values():
            if line.order_id == order_id:
                line.order_status = wanted

    def offer(
        self, lines: Iterable[SoLineRow], rules: AllocationRules, action: str
    ) -> list[Offered]:
        """Offer each line free stock, then a PO line of its item, oldest delivery date first.

        Returns what changed for the lines: stock taken, a new link, or a new reason.
        """
        supply: dict[int, list[PoLineSupply]] = defaultdict(list)
        for po in sorted(self.po_lines.values(), key=lambda p: p.id):
            supply[po.item_id].append(po.supply)
        out = []
        for line in sorted(lines, key=lambda s: s.priority):
            need = line.remaining
            if need <= 0 or not line.unallocated:
                continue
            current = SkipReason(line.reason) if line.reason else None
            d = offer_again(need, current, self.stock[line.item_id], supply[line.item_id], rules)
            if d.from_stock:
                self.touch_line(line, action)
                line.assigned += d.from_stock  # the stock position took it already
            if d.link:
                self.touch_line(line, action)
                line.new_link = d.link
                reason = None
            else:
                reason = d.skip.value if d.skip and line.remaining else None
            if not d.from_stock and not d.link and reason == line.reason:
                continue  # offered, and nothing changed for it
            if reason != line.reason:
                self.touch_line(line, action)
                self.set_reason(line, reason)
            target = self.po_lines[d.link.po_line_id] if d.link else None
            out.append(
                Offered(
                    line.ref,
                    line.sku,
                    d.from_stock,
                    d.link.qty if d.link else 0,
                    target.po_number if target else None,
                    target.line_no if target else None,
                    d.link.due_date if d.link else None,
                    0 if d.link else line.remaining,
                    reason,
                )
            )
        return out

    # --- writing it back ------------------------------------------------------------------

    def flush(
        self,
        conn: Connection,
        ctx: Context,
        *,
        stock_action: str,
        details: dict[str, Any],
        cause: EmailEvent = EmailEvent.REALLOCATION,
    ) -> None:
        """Write every change, in the order the CHECKs need, and the audit trail."""
        writes = Writes(conn)
        self._write_ended_links(writes)
        self._write_po_lines(writes, details)
        self._write_stock(writes, stock_action, details)
        self._write_so_lines(writes, details)
        for order_id, (old, new) in sorted(self._order_status.items()):
            writes.execute(update(SalesOrder).where(SalesOrder.id == order_id).values(status=new))
            self.audit.append(
                event(
                    self.now,
                    self.actor,
                    f"sales_order.{new}",
                    "sales_order",
                    order_id,
                    {"status": old},
                    {"status": new} | details,
                )
            )
        links = [
            NewLink(s.id, s.order_id, s.new_link)
            for s in sorted(self.so_lines.values(), key=lambda s: s.priority)
            if s.new_link is not None
        ]
        ids = writes.reserve_ids({Association: len(links)})[Association]
        write_links(
            writes,
            links,
            ids,
            actor=self.actor,
            now=self.now,
            audit=self.audit,
            ctx=ctx,
            cause=cause,
        )
        writes.insert(AuditEvent, self.audit)
        writes.flush()

    def _write_ended_links(self, writes: Writes) -> None:
        """Links that end or shrink go first: they make room on their PO lines."""
        ended: dict[tuple[str, str | None], list[int]] = defaultdict(list)
        shrunk = []
        for assoc_id, (qty, state) in sorted(self._orig_assoc.items()):
            assoc = self._assocs[assoc_id]
            if assoc.state != state:
                ended[(assoc.state, assoc.ended_reason)].append(assoc_id)
            elif assoc.qty != qty:
                shrunk.append({"id": assoc_id, "qty": assoc.qty})
        for (state, why), ids in ended.items():
            writes.execute(
                update(Association)
                .where(one_of(writes.conn, Association.id, ids))
                .values(state=state, ended_at=self.now, ended_by=self.actor, ended_reason=why)
            )
        writes.update_by_id(Association, shrunk)

    def _write_po_lines(self, writes: Writes, details: dict[str, Any]) -> None:
        rows = []
        for po_id, before in sorted(self._orig_po.items()):
            after = self._po_values(self.po_lines[po_id])
            if after != before:
                rows.append(dict(zip(("id", *_PO_FIELDS), (po_id, *after), strict=True)))
                old, new = _diff(_PO_FIELDS, before, after)
                action = self._po_action.get(po_id, "po_line.update")
                self.audit.append(
                    event(self.now, self.actor, action, "po_line", po_id, old, new | details)
                )
        writes.update_by_id(PoLine, rows)

    def _write_stock(self, writes: Writes, action: str, details: dict[str, Any]) -> None:
        rows = []
        for item_id, (on_hand, assigned) in sorted(self._orig_stock.items()):
            pos = self.stock[item_id]
            if (pos.on_hand, pos.assigned) != (on_hand, assigned):
                rows.append({"id": item_id, "on_hand": pos.on_hand, "assigned": pos.assigned})
                self.audit.append(
                    event(
                        self.now,
                        self.actor,
                        action,
                        "stock_item",
                        item_id,
                        {"on_hand": on_hand, "assigned": assigned},
                        {"on_hand": pos.on_hand, "assigned": pos.assigned} | details,
                    )
                )
        writes.update_by_id(StockItem, rows)

    def _write_so_lines(self, writes: Writes, details: dict[str, Any]) -> None:
        rows = []
        for line_id, before in sorted(self._orig_so.items()):
            line = self.so_lines[line_id]
            after = self._so_values(line)
            if after == before:
                continue
            rows.append(dict(zip(("id", *_SO_FIELDS), (line_id, *after), strict=True)))
            old, new = _diff(_SO_FIELDS[:4], before[:4], after[:4])
            if old:
                action = self._line_action.get(line_id, "so_line.update")
                new |= {"sales_order_id": line.order_id} | details
                self.audit.append(event(self.now, self.actor, action, "so_line", line_id, old, new))
        writes.update_by_id(SoLine, rows)


def load_scope(
    conn: Connection,
    *,
    now: datetime,
    actor: str,
    items: Collection[int],
    po_line_ids: Collection[int] = (),
    so_line_ids: Collection[int] = (),
    also_po_line_ids: Collection[int] = (),
    worklist: bool = False,
    open_supply: bool = False,
) -> Scope:
    """Lock and load a change's rows, in the fixed order.

    items: the stock items involved (every PO and SO line given must be of
    one of them). po_line_ids: PO lines whose linked SO lines come too.
    so_line_ids: SO lines named by the caller (the PO lines they are linked
    to are locked, not those lines' other links). also_po_line_ids: PO lines
    locked without their links. worklist: the items' unallocated worklist
    lines. open_supply: every open PO line of the items, for re-allocation.
    """
    stock = {
        r.id: StockPosition(r.id, r.on_hand, r.assigned)
        for r in lock_stock_by_id(conn, items).values()
    }
    item_list = sorted(items)
    targets = sorted(set(po_line_ids))
    named = sorted(set(so_line_ids))
    # Every writer of associations holds the item's stock row first, so now
    # that those are locked, a named line's link cannot change under us.
    via_named: set[int] = set()
    if named:
        via_named = set(
            conn.scalars(
                select(Association.po_line_id).where(
                    Association.so_line_id.in_(named), Association.state == "active"
                )
            )
        )

    po_where: list[ColumnElement[bool]] = []
    locked = set(targets) | via_named | set(also_po_line_ids)
    if locked:
        po_where.append(PoLine.id.in_(sorted(locked)))
    if open_supply:
        po_where.append(and_(PoLine.stock_item_id.in_(item_list), IS_OPEN))
    po_lines = _lock_po_lines(conn, po_where)

    so_where: list[ColumnElement[bool]] = []
    # Plain id lists (not a subquery), so each arm of the OR uses its index.
    linked = set(named)
    if targets:
        linked |= set(
            conn.scalars(
                select(Association.so_line_id).where(
                    Association.po_line_id.in_(targets), Association.state == "active"
                )
            )
        )
    if linked:
        so_where.append(SoLine.id.in_(sorted(linked)))
    if worklist:
        so_where.append(
            and_(
                SoLine.stock_item_id.in_(item_list),
                SoLine.backorder_reason.is_not(None),
                SoLine.backorder_reason != LATE,
            )
        )
    so_lines = _lock_so_lines(conn, so_where)

    link_where: list[ColumnElement[bool]] = []
    if targets:
        link_where.append(Association.po_line_id.in_(targets))
    if named:
        link_where.append(Association.so_line_id.in_(named))
    if link_where:
        for a in conn.execute(
            select(Association.id, Association.so_line_id, Association.po_line_id, Association.qty)
            .where(Association.state == "active", or_(*link_where))
            .order_by(Association.id)
            .with_for_update()
        ):
            so_lines[a.so_line_id].link = AssocRow(a.id, a.po_line_id, a.qty)
    return Scope(now=now, actor=actor, stock=stock, po_lines=po_lines, so_lines=so_lines)


def _lock_po_lines(conn: Connection, where: list[ColumnElement[bool]]) -> dict[int, PoLineRow]:
    if not where:
        return {}
    out = {}
    for r in conn.execute(
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
        .with_for_update(of=PoLine)
    ):
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


def _lock_so_lines(conn: Connection, where: list[ColumnElement[bool]]) -> dict[int, SoLineRow]:
    if not where:
        return {}
    rows = conn.execute(
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
        )
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .join(StockItem, StockItem.id == SoLine.stock_item_id)
        .where(or_(*where))
        .order_by(SoLine.id)
        .with_for_update(of=SoLine)
    )
    out = {}
    for r in rows:
        values: tuple[Any, ...] = tuple(r)
        out[r.id] = SoLineRow(*values)
    return out
