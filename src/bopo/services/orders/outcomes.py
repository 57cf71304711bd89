"""What happened to each line of a sales order, for callers and reports."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, computed_field
from sqlalchemy import Connection, and_, select

from bopo.db.models import Association, PoLine, PurchaseOrder, SoLine, StockItem
from bopo.domain.allocation import LineDecision
from bopo.domain.changes import is_overdue
from bopo.domain.records import PoLineRow
from bopo.errors import FieldError


@dataclass(frozen=True, slots=True)
class LinkedPart:
    """Units of an SO line linked to one PO line (a split line has several parts)."""

    po_number: str
    po_line_no: int
    qty: int
    expected: date | None  # the PO line's due date
    # that date is past: no promise, the supplier's date is awaited
    overdue: Annotated[
        bool,
        Field(description="The due date is past: no date is promised until the supplier's"),
    ] = False

    @property
    def when(self) -> str:
        """The expected date in words; a past one is never given as expected."""
        if self.overdue and self.expected:
            return f"overdue, was due {self.expected.isoformat()}"
        return f"expected {self.expected.isoformat() if self.expected else 'date unknown'}"


@dataclass(frozen=True, slots=True)
class LineOutcome:
    """One SO line: units from stock, units linked to a PO line, or why it waits.

    A line split over several PO lines names the first in `po_number` and
    `po_line_no`, gives the latest date in `expected` (when all of it is
    expected) and keeps every part in `split`; `parts` lists the part or parts
    of any linked line.
    """

    line_no: int
    sku: str
    qty: int
    from_stock: int
    linked_qty: int = 0
    po_number: str | None = None
    po_line_no: int | None = None
    expected: Annotated[date | None, Field(description="When the linked PO line is due")] = None
    skipped: Annotated[str | None, Field(description="Why the line waits on the worklist")] = None
    shipped: int = 0
    cancelled: int = 0
    # only for a line linked to several PO lines; the JSON has them in `parts`
    split: Annotated[tuple[LinkedPart, ...], Field(exclude=True)] = ()
    overdue: Annotated[bool, Field(description="Linked to a PO line whose due date is past")] = (
        False
    )

    @computed_field(  # type: ignore[prop-decorator]
        description="Each PO line the line is linked to; several when it is split"
    )
    @property
    def parts(self) -> tuple[LinkedPart, ...]:
        if self.split:
            return self.split
        if self.linked_qty and self.po_number is not None and self.po_line_no is not None:
            return (
                LinkedPart(
                    self.po_number, self.po_line_no, self.linked_qty, self.expected, self.overdue
                ),
            )
        return ()

    @computed_field  # type: ignore[prop-decorator]
    @property
    def waiting(self) -> int:
        return self.qty - self.cancelled - self.from_stock - self.linked_qty

    @computed_field  # type: ignore[prop-decorator]
    @property
    def outcome(self) -> Literal["from stock", "linked", "skipped", "cancelled"]:
        if self.linked_qty:
            return "linked"
        if self.skipped:
            return "skipped"
        if self.cancelled == self.qty:
            return "cancelled"
        return "from stock"

    def describe(self) -> str:
        parts = []
        if self.shipped:
            parts.append(f"{self.shipped} shipped")
        if self.from_stock - self.shipped:
            parts.append(f"{self.from_stock - self.shipped} from stock")
        if self.split:
            pieces = ", ".join(
                f"{p.qty} to {p.po_number} line {p.po_line_no} ({p.when})" for p in self.split
            )
            parts.append(f"{self.linked_qty} linked in {len(self.split)} parts: {pieces}")
        elif self.linked_qty:
            (part,) = self.parts
            parts.append(
                f"{self.linked_qty} linked to {self.po_number} line {self.po_line_no} ({part.when})"
            )
        if self.skipped and self.linked_qty:  # on the worklist while linked: late supply
            parts.append(self.skipped)
        elif self.skipped:
            parts.append(f"{self.waiting} waiting: {self.skipped}")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        return ", ".join(parts) or "nothing to do"


FROM_STOCK = "from stock"
LINKED = "linked"


def linked_parts(parts: list[LinkedPart]) -> dict[str, Any]:
    """LineOutcome's link fields for these parts: first PO line, total, latest date."""
    if not parts:
        return {}
    return {
        "linked_qty": sum(p.qty for p in parts),
        "po_number": parts[0].po_number,
        "po_line_no": parts[0].po_line_no,
        "expected": max((p.expected for p in parts if p.expected), default=None),
        "split": tuple(parts) if len(parts) > 1 else (),
        "overdue": any(p.overdue for p in parts),
    }


class OrderStatus(StrEnum):
    TAKEN = "taken"
    DUPLICATE = "duplicate"  # the same source + number again, with the same content
    CHANGED = "changed"  # the same source + number again, with other content: not taken
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Difference:
    """One way an order given again differs from the order as it was taken.

    `field` is `customer`, `order_date`, `delivery_date`, `line N sku`, `line N qty`,
    or `line N` for a line only one of them has; `taken` and `given` are the values
    as text, None where that side has no such line.
    """

    field: Annotated[
        str,
        Field(description="customer, order_date, delivery_date, line N sku, line N qty or line N"),
    ]
    taken: str | None
    given: str | None

    def __str__(self) -> str:
        if self.taken is None:
            return f"{self.field}: not in the order taken ({self.given})"
        if self.given is None:
            return f"{self.field}: in the order taken ({self.taken}), not in this one"
        return f"{self.field}: {self.taken} → {self.given}"


@dataclass(frozen=True, slots=True)
class OrderResult:
    source: str
    number: str
    status: OrderStatus
    id: int | None = None
    lines: tuple[LineOutcome, ...] = ()
    errors: tuple[FieldError, ...] = field(default=())
    # Each line's outcome in one word ("from stock", "linked") or its skip reason;
    # all a bulk import reports, so it can leave `lines` empty.
    kinds: Annotated[tuple[str, ...], Field(exclude=True)] = ()
    differences: tuple[Difference, ...] = ()  # of a CHANGED order, from the order taken
    # What taking it changed besides the order: a stored customer's name or email.
    warnings: Annotated[
        tuple[str, ...],
        Field(description="what it changed besides the order: a customer's name or email"),
    ] = ()


def load_line_outcomes(
    conn: Connection, order_ids: Collection[int], today: date | None = None
) -> dict[int, list[LineOutcome]]:
    """Each order's lines as they stand now, in one query; with `today`, a linked part
    whose due date is before it is marked overdue."""
    if not order_ids:
        return {}
    active = and_(Association.so_line_id == SoLine.id, Association.state == "active")
    rows = conn.execute(
        select(
            SoLine.sales_order_id,
            SoLine.line_no,
            StockItem.sku,
            SoLine.qty,
            SoLine.qty_assigned,
            SoLine.qty_shipped,
            SoLine.qty_cancelled,
            SoLine.backorder_reason,
            Association.qty,
            PurchaseOrder.number,
            PoLine.line_no,
            PoLine.due_date,
        )
        .join(StockItem, StockItem.id == SoLine.stock_item_id)
        .outerjoin(Association, active)
        .outerjoin(PoLine, PoLine.id == Association.po_line_id)
        .outerjoin(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .where(SoLine.sales_order_id.in_(sorted(order_ids)))
        .order_by(SoLine.sales_order_id, SoLine.line_no, Association.id)
    )
    grouped: dict[tuple[int, int], tuple[Any, list[LinkedPart]]] = {}
    for r in rows:
        _, parts = grouped.setdefault((r[0], r[1]), (r, []))
        if r[8]:
            overdue = today is not None and is_overdue(r[11], today)
            parts.append(LinkedPart(r[9], r[10], r[8], r[11], overdue))
    out: dict[int, list[LineOutcome]] = {i: [] for i in order_ids}
    for r, parts in grouped.values():
        out[r[0]].append(
            LineOutcome(
                line_no=r[1],
                sku=r[2],
                qty=r[3],
                from_stock=r[4] + r[5],
                skipped=r[7],
                shipped=r[5],
                cancelled=r[6],
                **linked_parts(parts),
            )
        )
    return out


def decided_outcomes(
    lines: Sequence[Any],
    decisions: Sequence[LineDecision],
    po_lines: Mapping[int, PoLineRow],
    today: date,
) -> list[LineOutcome]:
    """Each line's outcome as intake decided it (`lines` with line_no, sku and qty), the
    PO lines named as loaded: no query."""
    out = []
    for line, d in zip(lines, decisions, strict=True):
        if len(d.links) == 1:
            x = d.links[0]
            row = po_lines[x.po_line_id]
            out.append(
                LineOutcome(
                    line.line_no,
                    line.sku,
                    line.qty,
                    d.from_stock,
                    x.qty,
                    row.po_number,
                    row.line_no,
                    x.due_date,
                    overdue=is_overdue(x.due_date, today),
                )
            )
        elif d.links:
            parts = [
                LinkedPart(
                    po_lines[x.po_line_id].po_number,
                    po_lines[x.po_line_id].line_no,
                    x.qty,
                    x.due_date,
                    is_overdue(x.due_date, today),
                )
                for x in d.links
            ]
            out.append(
                LineOutcome(line.line_no, line.sku, line.qty, d.from_stock, **linked_parts(parts))
            )
        else:
            out.append(
                LineOutcome(
                    line.line_no,
                    line.sku,
                    line.qty,
                    d.from_stock,
                    skipped=d.skip.value if d.skip else None,
                )
            )
    return out
