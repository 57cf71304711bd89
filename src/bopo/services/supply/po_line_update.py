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
from datetime import date, datetime
from enum import Enum
from typing import Annotated

from pydantic import Field, PlainSerializer, computed_field
from sqlalchemy import Connection, select
from typing_extensions import TypedDict  # pydantic reads only this one on Python < 3.12

from bopo.db.models import PoLineStatus
from bopo.errors import FieldError, InvalidInput, NotFound
from bopo.services.admin.statuses import refuse_retired
from bopo.services.context import Context
from bopo.services.supply import changes as supply
from bopo.services.supply import status_change
from bopo.services.supply.change_results import PoLineChange, SupplyChangeResult
from bopo.services.supply.status_change import StatusChange


class Keep(Enum):
    KEEP = "keep"


KEEP = Keep.KEEP  # change_po_line: leave the due date as it is


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
            change_po_line_in(
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


def change_po_line(
    ctx: Context,
    po_number: str,
    line_no: int,
    *,
    qty: int | None = None,
    due_date: date | Keep | None = KEEP,
    actor: str,
) -> SupplyChangeResult:
    """Set a PO line's ordered quantity and/or due date in one transaction.

    The quantity first (links that no longer fit are released and offered
    again), then the due date (the links left are flagged `late supply` or
    cleared, and their customers hear of the move). None and KEEP leave a
    value as it is; a due date of None clears it.
    """
    with ctx.db.write() as conn:
        return change_po_line_in(
            conn, ctx, po_number, line_no, qty=qty, due_date=due_date, actor=actor, now=ctx.clock()
        )


def change_po_line_in(
    conn: Connection,
    ctx: Context,
    po_number: str,
    line_no: int,
    *,
    qty: int | None,
    due_date: date | Keep | None,
    actor: str,
    now: datetime,
) -> SupplyChangeResult:
    """change_po_line inside the caller's transaction (one PATCH, one transaction)."""
    if qty is None and isinstance(due_date, Keep):
        raise InvalidInput([FieldError("qty", "give a quantity, a due date or both")])
    rules = ctx.rules(conn)
    first = None
    if qty is not None:
        first = supply.plan_po_line_qty(
            conn, ctx, rules, po_number, line_no, qty, actor=actor, now=now
        )
        supply.apply_change(conn, ctx, first)
    if isinstance(due_date, Keep):
        assert first is not None
        return first.result
    then = supply.plan_due_date(
        conn, ctx, rules, po_number, line_no, due_date, actor=actor, now=now
    )
    supply.apply_change(conn, ctx, then)
    if first is None:
        return then.result
    result = first.result
    befores = {c.line_no: c.before for c in result.lines}
    result.lines = [
        PoLineChange(c.line_no, befores.get(c.line_no, c.before), c.after)
        for c in then.result.lines
    ] or result.lines
    result.late_supply = then.result.late_supply
    result.on_time_again = then.result.on_time_again
    result.notices = then.result.notices
    return result
