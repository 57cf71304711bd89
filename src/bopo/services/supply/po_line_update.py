"""One change to a PO line: its quantity and/or due date, and/or its status.

One transaction, in this order:

1. quantity and due date: links that no longer fit are released and
   re-allocated, late supply is flagged;
2. the status: a BACK_ORDER template on it emails each customer still linked.

In that order the emails announce what the first step left: only the links
that still fit, with the new due date as the expected date. An unknown status,
or a quantity or due date that is refused, refuses the whole change: nothing
of it is done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from pydantic import Field, PlainSerializer, computed_field
from sqlalchemy import select
from typing_extensions import TypedDict  # pydantic reads only this one on Python < 3.12

from bopo.db.models import PoLineStatus
from bopo.errors import FieldError, InvalidInput, NotFound
from bopo.services.admin.statuses import refuse_retired
from bopo.services.context import Context
from bopo.services.supply import changes as supply
from bopo.services.supply import status_change
from bopo.services.supply.changes import KEEP, Keep, SupplyChangeResult
from bopo.services.supply.status_change import StatusChange


class StatusMove(TypedDict):
    """The status change, as the PO line change reports it (the line is named above)."""

    before: str | None
    after: str
    changed: Annotated[bool, Field(description="false: the line had this status already")]
    emails_queued: int


def _move(change: StatusChange | None) -> StatusMove | None:
    if change is None:
        return None
    return StatusMove(
        before=change.before,
        after=change.after,
        changed=change.changed,
        emails_queued=change.emails_queued,
    )


@dataclass(kw_only=True)
class PoLineUpdate(SupplyChangeResult):
    """What a PO line change did, the status change included (no quantity nor due date
    given: nothing in the supply change's lists)."""

    line_no: Annotated[int, Field(exclude=True)]
    # None: neither quantity nor due date was given (the lists above are empty)
    supply: Annotated[SupplyChangeResult | None, Field(exclude=True)]
    status: Annotated[
        StatusChange | None,
        PlainSerializer(_move, return_type=StatusMove | None),
        Field(description="null: no status was given"),
    ]

    @computed_field(  # type: ignore[prop-decorator]
        description="Emails the status change queued (re-allocated lines' emails not counted)"
    )
    @property
    def emails_queued(self) -> int:
        return self.status.emails_queued if self.status else 0


def update_po_line(
    ctx: Context,
    po_number: str,
    line_no: int,
    *,
    qty: int | None = None,
    due_date: date | Keep | None = KEEP,
    status: str | None = None,
    actor: str,
) -> PoLineUpdate:
    """Change a PO line's quantity, due date and status (any of them); see the module."""
    quantities = qty is not None or due_date is not KEEP
    if not quantities and status is None:
        raise InvalidInput([FieldError("qty", "give a quantity, a due date or a status")])
    now = ctx.clock()
    with ctx.db.write() as conn:
        if status is not None:
            code = status.strip().upper()
            if conn.scalar(select(PoLineStatus.id).where(PoLineStatus.code == code)) is None:
                raise NotFound("PO line status", code)
            refuse_retired(conn, code)
        changed = (
            supply.change_po_line_in(
                conn, ctx, po_number, line_no, qty=qty, due_date=due_date, actor=actor, now=now
            )
            if quantities
            else None
        )
        given = (
            status_change.set_po_line_status_in(
                conn, ctx, po_number, line_no, status, actor=actor, now=now
            )
            if status is not None
            else None
        )
    supplied = changed or SupplyChangeResult(po_number)
    return PoLineUpdate(**vars(supplied), line_no=line_no, supply=changed, status=given)
