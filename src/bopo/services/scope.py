"""The rows a goods-in, supply or demand change touches: locked, changed in memory, written back.

A change works on a scope: some stock items, PO lines (the ones changed, those
the scope's SO lines are linked to, and with re-allocation every open line of
those items), SO lines (those linked to the changed PO lines, those named, and
the items' worklist lines) and every active association of those SO lines.
`load_scope` locks them in the fixed order (stock items, PO lines, SO lines,
associations, each by ascending id); the service changes the rows in memory,
asking the pure rules in bopo.domain what to do; `Scope.flush` writes every
difference with a few bulk statements, in the order the CHECKs need
(associations end or shrink before a PO line's delivered or cancelled quantity
rises; new links come last, through `write_links`), and audits each changed
row and records each allocation decision. A what-if loads the same scope
without locks, changes it the same way and never flushes it.

A line's backorder quantity is linked whole or waits: with `allow_split` it
may be linked in parts to several PO lines (one active association each), and
when one part has to go, the whole line is released and offered again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, or_, select, update

from bopo.db.bulk import Writes, one_of
from bopo.db.models import (
    AllocationDecision,
    Association,
    AuditEvent,
    PoLine,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.db.queries import IS_OPEN, lock_stock_by_id
from bopo.domain.allocation import (
    AllocationRules,
    LineDecision,
    Link,
    PoLineSupply,
    StockPosition,
    offer_again,
)
from bopo.domain.changes import is_late
from bopo.domain.decisions import DecisionKind, decision_row
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
from bopo.services.superseding import lock_orders, refresh_emails


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


@dataclass(frozen=True, slots=True)
class LineBefore:
    """An SO line as it stood when the scope was loaded."""

    assigned: int
    reason: str | None
    links: dict[int, int]  # PO line id -> linked quantity


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
        self.decisions: list[dict[str, Any]] = []  # allocation_decisions rows
        self._orig_stock = {i: (s.on_hand, s.assigned) for i, s in stock.items()}
        self._orig_po = {i: self._po_values(p) for i, p in po_lines.items()}
        self._orig_so = {i: self._so_values(s) for i, s in so_lines.items()}
        self._assocs = {a.id: a for s in so_lines.values() for a in s.links.values()}
        self._orig_assoc = {a.id: (a.qty, a.state) for a in self._assocs.values()}
        self._before = {
            s.id: LineBefore(s.assigned, s.reason, {p: a.qty for p, a in s.links.items()})
            for s in so_lines.values()
        }
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

    def link_now(self, association_id: int) -> AssocRow | None:
        """An association the scope loaded, as the change has left it (ended ones too)."""
        return self._assocs.get(association_id)

    def before(self, line_id: int) -> LineBefore:
        return self._before[line_id]

    def due_before(self, po_line_id: int) -> date | None:
        due: date | None = self._orig_po[po_line_id][3]
        return due

    def was_late(self, line: SoLineRow) -> bool:
        """Late before the change: a PO line it was linked to was due after delivery."""
        return any(
            is_late(self.due_before(p), line.delivery_date) for p in self._before[line.id].links
        )

    def linked_to(self, po_line_id: int) -> list[SoLineRow]:
        """The SO lines actively linked to a PO line, first to serve first."""
        lines = [s for s in self.so_lines.values() if po_line_id in s.links]
        return sorted(lines, key=lambda s: s.priority)

    def waiting(
        self, item_ids: Collection[int], *, exclude: Collection[int] = ()
    ) -> list[SoLineRow]:
        """Unallocated worklist lines of these items, first to serve first."""
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

    def is_late(self, line: SoLineRow) -> bool:
        """Some PO line it is linked to is due after the order's delivery date."""
        return any(
            is_late(self.po_lines[p].due_date, line.delivery_date) for p in line.links
        ) or any(is_late(n.due_date, line.delivery_date) for n in line.new_links)

    def seen(self, item_id: int) -> tuple[tuple[int, date | None, int], ...]:
        """The item's open PO lines as a decision sees them now: (id, due, free)."""
        return tuple(
            (p.id, p.due_date, p.supply.free_on_order)
            for p in sorted(self.po_lines.values(), key=lambda p: p.id)
            if p.item_id == item_id and p.supply.outstanding > 0
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

    def _end_link(
        self, line: SoLineRow, po_line_id: int, state: AssociationState, why: str
    ) -> AssocRow:
        link = line.links.pop(po_line_id)
        link.state = transition(AssociationState(link.state), state).value
        link.ended_reason = why
        po = self.po_lines[po_line_id]
        po.supply.associated -= link.qty
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

    def _released(self, line: SoLineRow, link: AssocRow, why: str) -> Released:
        po = self.po_lines[link.po_line_id]
        return Released(line.ref, line.sku, link.qty, po.po_number, po.line_no, why)

    def _after_part_ended(self, line: SoLineRow) -> None:
        """A link ended: a line left without links waits (or is done); one still linked
        stays on the worklist as late supply only while a part is still late."""
        if not line.links:
            self.set_reason(line, SkipReason.RELEASED.value if line.remaining else None)
        elif line.reason == LATE and not self.is_late(line):
            self.set_reason(line, None)

    def release(self, line: SoLineRow, why: str, action: str) -> list[Released]:
        """End all a line's links; it waits on the worklist (`released`) until offered again."""
        self.touch_line(line, action)
        ended = [
            self._end_link(line, p, AssociationState.RELEASED, why) for p in sorted(line.links)
        ]
        self._after_part_ended(line)
        return [self._released(line, link, why) for link in ended]

    def shrink_link(
        self, line: SoLineRow, po_line_id: int, by: int, why: str, action: str
    ) -> Released | None:
        """Take `by` units off a line's link to a PO line; a link left with nothing ends."""
        link = line.links[po_line_id]
        assert 0 < by <= link.qty
        self.touch_line(line, action)
        if by == link.qty:
            ended = self._end_link(line, po_line_id, AssociationState.RELEASED, why)
            self._after_part_ended(line)
            return self._released(line, ended, why)
        link.qty -= by
        self.po_lines[po_line_id].supply.associated -= by
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

    def give_up_on_order(self, line: SoLineRow, by: int, why: str, action: str) -> list[Released]:
        """The line wants `by` fewer units on order: its latest-due links shrink first."""
        released = []
        parts = sorted(
            line.links,
            key=lambda p: (self.po_lines[p].due_date is not None, self.po_lines[p].due_date, p),
            reverse=True,
        )
        for po_line_id in parts:
            if by == 0:
                break
            take = min(by, line.links[po_line_id].qty)
            gone = self.shrink_link(line, po_line_id, take, why, action)
            if gone is not None:
                released.append(gone)
            by -= take
        return released

    def fulfil(self, line: SoLineRow, po_line_id: int, qty: int, why: str) -> None:
        """Give a linked line `qty` of the stock its PO line brought; all of it ends the link."""
        link = line.links[po_line_id]
        assert 0 < qty <= link.qty
        self.touch_line(line, "so_line.receive")
        self.stock[line.item_id].assigned += qty
        line.assigned += qty
        if qty == link.qty:
            self._end_link(line, po_line_id, AssociationState.FULFILLED, why)
            if not line.links or (line.reason == LATE and not self.is_late(line)):
                self.set_reason(line, None)
        else:
            self.shrink_link(line, po_line_id, qty, why, "so_line.receive")

    def assign_stock(self, line: SoLineRow, qty: int, action: str) -> None:
        """Give a waiting line `qty` of stock; it leaves the worklist when nothing is left."""
        assert not line.links
        assert 0 < qty <= line.remaining
        self.touch_line(line, action)
        self.stock[line.item_id].assigned += qty
        line.assigned += qty
        if line.remaining == 0:
            self.set_reason(line, None)

    def link(
        self,
        line: SoLineRow,
        po: PoLineRow,
        qty: int,
        set_status_id: int | None,
        action: str,
        *,
        policy: str = "earliest_due",
    ) -> None:
        """Link a line by hand to a PO line (written by write_links, so its email follows)."""
        seen = self.seen(line.item_id)
        self.touch_line(line, action)
        po.supply.associated += qty
        if set_status_id is not None:
            po.supply.status_id = set_status_id
        new = Link(po.id, qty, po.due_date, set_status_id)
        line.new_links.append(new)
        self.set_reason(line, None)
        self.decisions.append(
            decision_row(
                so_line_id=line.id,
                at=self.now,
                kind=DecisionKind.MANUAL,
                policy=policy,
                allow_split=False,
                decision=LineDecision(qty, 0, (new,), considered=seen),
            )
        )

    def set_order_status(self, order_id: int, current: str, wanted: str) -> None:
        transition(SalesOrderStatus(current), SalesOrderStatus(wanted))
        self._order_status[order_id] = (current, wanted)
        for line in self.so_lines.values():
            if line.order_id == order_id:
                line.order_status = wanted

    def offer(
        self,
        lines: Iterable[SoLineRow],
        rules: AllocationRules,
        action: str,
        kind: DecisionKind = DecisionKind.REALLOCATION,
    ) -> list[Offered]:
        """Offer each line free stock, then PO lines of its item, first to serve first.

        Returns what changed for the lines: stock taken, new links, or a new reason;
        each such change is recorded as a decision of `kind`.
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
            if d.links:
                self.touch_line(line, action)
                line.new_links.extend(d.links)
                reason = None
            else:
                reason = d.skip.value if d.skip and line.remaining else None
            if not d.from_stock and not d.links and reason == line.reason:
                continue  # offered, and nothing changed for it
            if reason != line.reason:
                self.touch_line(line, action)
                self.set_reason(line, reason)
            self.decisions.append(
                decision_row(
                    so_line_id=line.id,
                    at=self.now,
                    kind=kind,
                    policy=rules.policy,
                    allow_split=rules.allow_split,
                    decision=d,
                )
            )
            first = d.links[0] if d.links else None
            target = self.po_lines[first.po_line_id] if first else None
            out.append(
                Offered(
                    line.ref,
                    line.sku,
                    d.from_stock,
                    d.linked,
                    target.po_number if target else None,
                    target.line_no if target else None,
                    max((x.due_date for x in d.links if x.due_date), default=None),
                    0 if d.links else line.remaining,
                    reason,
                    parts=tuple(
                        (
                            self.po_lines[x.po_line_id].po_number,
                            self.po_lines[x.po_line_id].line_no,
                            x.qty,
                            x.due_date,
                        )
                        for x in d.links
                    ),
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
        touched = self.touched_orders()
        # The sales orders whose emails are looked at below are locked before any of them
        # is written (a status), so every writer takes them in the same order: by id.
        lock_orders(conn, touched)
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
            NewLink(s.id, s.order_id, link)
            for s in sorted(self.so_lines.values(), key=lambda s: s.priority)
            for link in s.new_links
        ]
        ids = writes.reserve_ids({Association: len(links)})[Association]
        write_links(writes, links, ids, actor=self.actor, now=self.now, audit=self.audit)
        writes.insert(AuditEvent, self.audit)
        writes.insert(AllocationDecision, self.decisions)
        writes.flush()
        # The unsent emails of every order this change touched must still be true.
        refresh_emails(
            conn,
            ctx,
            orders=touched,
            new_links=ids,
            event=cause,
            now=self.now,
            actor=self.actor,
        )

    def touched_orders(self) -> set[int]:
        """Orders whose links this change ended, shrank or made, whose linked PO lines'
        quantities or due dates it changed, or whose status it changed."""
        changed_po = {
            i for i, before in self._orig_po.items() if self._po_values(self.po_lines[i]) != before
        }
        out = set(self._order_status)
        for line in self.so_lines.values():
            before = self._before[line.id].links
            after = {p: a.qty for p, a in line.links.items()}
            if before != after or line.new_links or not changed_po.isdisjoint(before):
                out.add(line.order_id)
        return out

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


_ACTIVE = Association.state == "active"


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
    lock: bool = True,
) -> Scope:
    """Lock and load a change's rows, in the fixed order.

    items: the stock items involved (every PO and SO line given must be of
    one of them). po_line_ids: PO lines whose linked SO lines come too.
    so_line_ids: SO lines named by the caller. Every active link of the SO
    lines loaded comes with them, and the PO lines they are linked to are
    locked. also_po_line_ids: PO lines locked without their links. worklist:
    the items' unallocated worklist lines. open_supply: every open PO line of
    the items, for re-allocation. lock=False reads the same rows without
    locking them (a what-if).
    """
    stock = {
        r.id: StockPosition(r.id, r.on_hand, r.assigned)
        for r in lock_stock_by_id(conn, items, lock=lock).values()
    }
    item_list = sorted(items)
    targets = sorted(set(po_line_ids))
    named = sorted(set(so_line_ids))
    # Every writer of associations holds the item's stock row first, so now that
    # those are locked, the links of these lines cannot change under us.
    links: list[Any] = []
    if targets or named:
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
        links = list(
            conn.execute(
                select(Association.so_line_id, Association.po_line_id).where(_ACTIVE, or_(*arms))
            )
        )
    linked = {a.so_line_id for a in links}

    po_where: list[ColumnElement[bool]] = []
    locked = set(targets) | {a.po_line_id for a in links} | set(also_po_line_ids)
    if locked:
        po_where.append(one_of(conn, PoLine.id, sorted(locked)))
    if open_supply:
        po_where.append(and_(one_of(conn, PoLine.stock_item_id, item_list), IS_OPEN))
    po_lines = _lock_po_lines(conn, po_where, lock)

    so_where: list[ColumnElement[bool]] = []
    # Id lists (not a subquery), so each arm of the OR uses its index; one_of sends
    # each list as one parameter, however long (a preview over the whole worklist).
    if linked | set(named):
        so_where.append(one_of(conn, SoLine.id, sorted(linked | set(named))))
    if worklist:
        so_where.append(
            and_(
                one_of(conn, SoLine.stock_item_id, item_list),
                SoLine.backorder_reason.is_not(None),
                SoLine.backorder_reason != LATE,
            )
        )
    so_lines = _lock_so_lines(conn, so_where, lock)

    if linked:
        stmt = (
            select(Association.id, Association.so_line_id, Association.po_line_id, Association.qty)
            .where(_ACTIVE, one_of(conn, Association.so_line_id, sorted(linked)))
            .order_by(Association.id)
        )
        for a in conn.execute(stmt.with_for_update() if lock else stmt):
            so_lines[a.so_line_id].links[a.po_line_id] = AssocRow(a.id, a.po_line_id, a.qty)
    return Scope(now=now, actor=actor, stock=stock, po_lines=po_lines, so_lines=so_lines)


def _lock_po_lines(
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


def _lock_so_lines(
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
