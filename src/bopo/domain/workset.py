"""The rows one change works on, in memory, and the rules that change them.

A workset holds some stock items, PO lines and SO lines (each with its active
links), as bopo.db.workset loaded them. A change asks these rules what to do
(release, shrink, give up on order, fulfil, assign stock, link, offer, set an
order's status) and the workset remembers how it stood before, so `changes()`
can say what to write: the rows that differ from what was loaded, the audit
rows, the decision records and the new links. Nothing here reads or writes.

A line's backorder quantity is linked whole or waits: with `allow_split` it
may be linked in parts to several PO lines (one active association each), and
when one part has to go, the whole line is released and offered again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from datetime import date, datetime
from typing import Any

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
from bopo.domain.records import (
    LATE,
    AssocRow,
    LineBefore,
    Offered,
    PoLineRow,
    Released,
    SoLineRow,
    audit_row,
    offered,
)
from bopo.domain.statuses import AssociationState, SalesOrderStatus, SkipReason, transition
from bopo.domain.workset_changes import Changes, changes_of, po_values, so_values


class Workset:
    """Loaded rows of one change, their state before it, and what it did to them."""

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
        self.audit: list[dict[str, Any]] = []  # rows made by the rules, in order
        self.decisions: list[dict[str, Any]] = []  # allocation_decisions rows
        self.orig_stock = {i: (s.on_hand, s.assigned) for i, s in stock.items()}
        self.orig_po = {i: po_values(p) for i, p in po_lines.items()}
        self.orig_so = {i: so_values(s) for i, s in so_lines.items()}
        self.assocs = {a.id: a for s in so_lines.values() for a in s.links.values()}
        self.orig_assoc = {a.id: (a.qty, a.state) for a in self.assocs.values()}
        self._before = {
            s.id: LineBefore(s.assigned, s.reason, {p: a.qty for p, a in s.links.items()})
            for s in so_lines.values()
        }
        self.line_action: dict[int, str] = {}
        self.po_action: dict[int, str] = {}
        self.order_status: dict[int, tuple[str, str]] = {}

    # --- reading the workset ------------------------------------------------------------

    def link_now(self, association_id: int) -> AssocRow | None:
        """An association the workset loaded, as the change has left it (ended ones too)."""
        return self.assocs.get(association_id)

    def before(self, line_id: int) -> LineBefore:
        return self._before[line_id]

    def due_before(self, po_line_id: int) -> date | None:
        due: date | None = self.orig_po[po_line_id][3]
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

    def supply(self) -> dict[int, list[PoLineSupply]]:
        """Each item's PO lines as allocation sees them (and changes them), oldest first."""
        supply: dict[int, list[PoLineSupply]] = defaultdict(list)
        for po in sorted(self.po_lines.values(), key=lambda p: p.id):
            supply[po.item_id].append(po.supply)
        return supply

    def touched_orders(self) -> set[int]:
        """Orders whose links this change ended, shrank or made, whose linked PO lines'
        quantities or due dates it changed, or whose status it changed."""
        changed_po = {
            i for i, before in self.orig_po.items() if po_values(self.po_lines[i]) != before
        }
        out = set(self.order_status)
        for line in self.so_lines.values():
            before = self._before[line.id].links
            after = {p: a.qty for p, a in line.links.items()}
            if before != after or line.new_links or not changed_po.isdisjoint(before):
                out.add(line.order_id)
        return out

    def changes(self, *, stock_action: str | None, details: dict[str, Any]) -> Changes:
        """What to write: see bopo.domain.workset_changes.changes_of."""
        return changes_of(self, stock_action=stock_action, details=details)

    # --- changing it ----------------------------------------------------------------------

    def touch_line(self, line: SoLineRow, action: str) -> None:
        """Name the action an SO line's audit row will carry (the first one wins)."""
        self.line_action.setdefault(line.id, action)

    def touch_po_line(self, po: PoLineRow, action: str) -> None:
        self.po_action.setdefault(po.id, action)

    def event(
        self,
        action: str,
        entity: str,
        entity_id: int,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """An audit row of this change (its time and actor)."""
        return audit_row(self.now, self.actor, action, entity, entity_id, before, after)

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
            self.event(
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
            self.event(
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

    def take_back(self, line: SoLineRow, qty: int, action: str) -> None:
        """Take `qty` of the stock a line was given back out of it (a receipt reversed):
        the line wants those units again."""
        assert 0 < qty <= line.assigned
        self.touch_line(line, action)
        self.stock[line.item_id].assigned -= qty
        line.assigned -= qty

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
        """Link a line by hand to a PO line (written with the new links, so its email follows)."""
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
        self.order_status[order_id] = (current, wanted)
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
        supply = self.supply()
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
            out.append(offered(line, d, reason, self.po_lines))
        return out
