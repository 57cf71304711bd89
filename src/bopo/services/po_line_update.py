"""One change to a PO line: its quantity and/or due date, and/or its status.

supply.change_po_line and status_change.set_po_line_status each own their
transaction, so a change of both runs as two transactions, in this order:

1. quantity and due date: links that no longer fit are released and
   re-allocated, late supply is flagged;
2. the status: a BACK_ORDER template on it emails each customer still linked.

In that order the emails announce what the first step left: only the links
that still fit, with the new due date as the expected date. The status is
looked up before anything changes, so an unknown status refuses the whole
change; a quantity or due date that is refused stops it before the status is
touched. What two transactions cannot promise: if the second one fails on its
own (the database goes away between them), the first stays done and the error
is reported. Other writers may come between the two, exactly as if the two
changes had been asked for one after the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from bopo.db.models import PoLineStatus
from bopo.errors import FieldError, InvalidInput, NotFound
from bopo.services import status_change, supply
from bopo.services.context import Context
from bopo.services.status_change import StatusChange
from bopo.services.supply import KEEP, SupplyChangeResult, _Keep


@dataclass(frozen=True, slots=True)
class PoLineUpdate:
    po_number: str
    line_no: int
    supply: SupplyChangeResult | None  # None: neither quantity nor due date was given
    status: StatusChange | None  # None: no status was given

    @property
    def emails_queued(self) -> int:
        """Emails the status change queued (those of re-allocated lines are not counted)."""
        return self.status.emails_queued if self.status else 0

    def as_dict(self) -> dict[str, Any]:
        supplied = self.supply or SupplyChangeResult(self.po_number)
        return supplied.as_dict() | {
            "status": self.status.as_dict() if self.status else None,
            "emails_queued": self.emails_queued,
        }


def update_po_line(
    ctx: Context,
    po_number: str,
    line_no: int,
    *,
    qty: int | None = None,
    due_date: date | _Keep | None = KEEP,
    status: str | None = None,
    actor: str,
) -> PoLineUpdate:
    """Change a PO line's quantity, due date and status (any of them); see the module."""
    quantities = qty is not None or due_date is not KEEP
    if not quantities and status is None:
        raise InvalidInput([FieldError("qty", "give a quantity, a due date or a status")])
    if status is not None:
        code = status.strip().upper()
        with ctx.db.read() as conn:
            if conn.scalar(select(PoLineStatus.id).where(PoLineStatus.code == code)) is None:
                raise NotFound("PO line status", code)
    changed = (
        supply.change_po_line(ctx, po_number, line_no, qty=qty, due_date=due_date, actor=actor)
        if quantities
        else None
    )
    given = (
        status_change.set_po_line_status(ctx, po_number, line_no, status, actor=actor)
        if status is not None
        else None
    )
    return PoLineUpdate(po_number, line_no, changed, given)
