"""The rows a change works on, what it reports back about SO lines, and the audit rows
and new links it leaves for the writer (bopo.db.workset)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from bopo.domain.allocation import LineDecision, Link, PoLineSupply
from bopo.domain.changes import Claim, Priority, serving_order
from bopo.domain.statuses import AssociationState, SkipReason

LATE = SkipReason.LATE_SUPPLY.value


def audit_row(
    at: datetime,
    actor: str,
    action: str,
    entity: str,
    entity_id: int,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    """An audit row; the writer stamps it with the request behind it (bopo.db.audit)."""
    return {
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before,
        "after": after,
    }


@dataclass(frozen=True, slots=True)
class NewLink:
    """A link a change made, to be written as an active association."""

    so_line_id: int
    sales_order_id: int
    link: Link


@dataclass(frozen=True, slots=True)
class SalesLineRef:
    source: str
    number: str
    line_no: int

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "number": self.number, "line_no": self.line_no}

    def __str__(self) -> str:
        return f"{self.source}/{self.number} line {self.line_no}"


@dataclass(slots=True)
class PoLineRow:
    id: int
    item_id: int
    po_number: str
    line_no: int
    ordered: int
    delivered: int
    cancelled: int
    due_date: date | None
    supply: PoLineSupply  # outstanding, associated and status as allocation sees them

    @property
    def outstanding(self) -> int:
        return max(0, self.ordered - self.delivered - self.cancelled)

    @property
    def closed(self) -> bool:
        """Cancelled or closed short: nothing more is expected on it."""
        return self.cancelled > 0

    def sync(self) -> None:
        self.supply.outstanding = self.outstanding
        self.supply.due_date = self.due_date

    def __str__(self) -> str:
        return f"{self.po_number} line {self.line_no}"


@dataclass(slots=True)
class AssocRow:
    id: int
    po_line_id: int
    qty: int
    state: str = AssociationState.ACTIVE.value
    ended_reason: str | None = None


@dataclass(slots=True)
class SoLineRow:
    id: int
    order_id: int
    order_status: str
    source: str
    number: str
    line_no: int
    item_id: int
    sku: str
    delivery_date: date
    qty: int
    assigned: int
    shipped: int
    cancelled: int
    reason: str | None
    since: datetime | None
    rank: int  # the order's priority rank (bopo.domain.statuses.Priority)
    # Active links by PO line id: one, or (allow_split) one per PO line covering a part.
    links: dict[int, AssocRow] = field(default_factory=dict)
    new_links: list[Link] = field(default_factory=list)  # made in this change; see write_links

    @property
    def remaining(self) -> int:
        """Neither shipped, assigned nor cancelled: linked to PO lines or waiting."""
        return self.qty - self.shipped - self.assigned - self.cancelled

    @property
    def linked(self) -> int:
        return sum(link.qty for link in self.links.values())

    @property
    def priority(self) -> Priority:
        return serving_order(self.rank, self.delivery_date, self.order_id, self.line_no)

    @property
    def unallocated(self) -> bool:
        return not self.links and not self.new_links and self.remaining > 0

    @property
    def ref(self) -> SalesLineRef:
        return SalesLineRef(self.source, self.number, self.line_no)

    def claim(self, qty: int | None = None) -> Claim:
        return Claim(self.id, self.remaining if qty is None else qty, self.priority)


@dataclass(frozen=True, slots=True)
class LineBefore:
    """An SO line as it stood when its workset was loaded (bopo.domain.workset)."""

    assigned: int
    reason: str | None
    links: dict[int, int]  # PO line id -> linked quantity


@dataclass(frozen=True, slots=True)
class Released:
    """An association a change ended: the SO line lost its link."""

    line: SalesLineRef
    sku: str
    qty: int
    po_number: str
    po_line_no: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return self.line.as_dict() | {
            "sku": self.sku,
            "qty": self.qty,
            "po_number": self.po_number,
            "po_line_no": self.po_line_no,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class Offered:
    """A line offered to the allocation: what it took from stock, its new link or why not.

    A line split over several PO lines names the first in `po_number`/`po_line_no`,
    the latest date in `expected`, and lists every part in `parts`.
    """

    line: SalesLineRef
    sku: str
    from_stock: int
    linked_qty: int = 0
    po_number: str | None = None
    po_line_no: int | None = None
    expected: date | None = None
    waiting: int = 0
    reason: str | None = None
    parts: tuple[tuple[str, int, int, date | None], ...] = ()  # (PO, line, qty, expected)

    def as_dict(self) -> dict[str, Any]:
        return self.line.as_dict() | {
            "sku": self.sku,
            "from_stock": self.from_stock,
            "linked_qty": self.linked_qty,
            "po_number": self.po_number,
            "po_line_no": self.po_line_no,
            "expected": self.expected.isoformat() if self.expected else None,
            "waiting": self.waiting,
            "reason": self.reason,
            "parts": [
                {
                    "po_number": po,
                    "po_line_no": n,
                    "qty": qty,
                    "expected": due.isoformat() if due else None,
                }
                for po, n, qty, due in self.parts
            ],
        }


def offered(
    line: SoLineRow, d: LineDecision, reason: str | None, po_lines: Mapping[int, PoLineRow]
) -> Offered:
    """What offering `line` gave it, as reported: `d` the decision, `reason` its new one."""
    first = d.links[0] if d.links else None
    target = po_lines[first.po_line_id] if first else None
    return Offered(
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
                po_lines[x.po_line_id].po_number,
                po_lines[x.po_line_id].line_no,
                x.qty,
                x.due_date,
            )
            for x in d.links
        ),
    )


@dataclass
class ChangeLog:
    """What a change released and how the freed lines were offered again."""

    released: list[Released] = field(default_factory=list)
    offered: list[Offered] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "released": [r.as_dict() for r in self.released],
            "reallocated": [o.as_dict() for o in self.offered],
        }
