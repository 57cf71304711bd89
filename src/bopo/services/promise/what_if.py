"""What-if: what a proposed change would do, worked out without changing anything.

Each question loads the rows the change would touch, in a read transaction and
without locks, lets the same code the change itself runs change them in memory
(bopo.services.supply.changes, goods_in, bopo.domain.workset's Workset.offer), and then
reads the answer off the changed rows instead of writing them: the orders that
would be linked or re-linked (to what), sent to the worklist, made late against
their delivery date (or later still, or on time again; and those a due date
puts on the worklist as `late supply`), given stock, and the emails that would
be queued. Nothing is flushed, so nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field, computed_field
from sqlalchemy import Connection, select

from bopo.db.models import PoLineStatus, SoLine
from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.allocation import AllocationRules
from bopo.domain.decisions import DecisionKind
from bopo.domain.records import LATE, SalesLineRef, SoLineRow
from bopo.domain.templating import EmailEvent
from bopo.domain.workset import Workset
from bopo.services.common.record_json import LineFields
from bopo.services.context import Context
from bopo.services.email.notices import NoticePlan
from bopo.services.files.imports import gc_paused
from bopo.services.promise.email_previews import (
    EmailPreview,
    back_order_previews,
    notice_preview,
)
from bopo.services.supply import changes, goods_in
from bopo.services.worklist.backorders import UNALLOCATED

ACTOR = "what-if"


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True, slots=True)
class Part:
    """Units of a line on one PO line."""

    po_number: str
    po_line_no: int
    qty: int
    expected: date | None


@dataclass(frozen=True, slots=True)
class Relinked(LineFields):
    """A line that would be linked to other PO lines (before: none, for a waiting line)."""

    line: Annotated[SalesLineRef, Field(exclude=True)]
    sku: str
    before: tuple[Part, ...]
    after: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class ToWorklist(LineFields):
    line: Annotated[SalesLineRef, Field(exclude=True)]
    sku: str
    waiting: int
    reason: str


@dataclass(frozen=True, slots=True)
class Lateness(LineFields):
    """A linked line whose expected date is (or no longer is) after its delivery date."""

    line: Annotated[SalesLineRef, Field(exclude=True)]
    delivery_date: date
    expected: Annotated[date | None, Field(description="When all of the line would be expected")]


@dataclass(frozen=True, slots=True)
class Served(LineFields):
    line: Annotated[SalesLineRef, Field(exclude=True)]
    sku: str
    qty: Annotated[int, Field(description="Units of stock it would be given")]


@dataclass
class WhatIf:
    """The answer: what the change would do, nothing of it done."""

    change: Annotated[str, Field(description="The change, in words")]
    relinked: Annotated[
        list[Relinked], Field(description="Lines that would be linked or re-linked")
    ] = field(default_factory=list)
    to_worklist: Annotated[
        list[ToWorklist], Field(description="Lines that would wait on the worklist")
    ] = field(default_factory=list)
    late: Annotated[
        list[Lateness],
        Field(
            description="Linked lines that would be expected after their delivery date "
            "(or later still)"
        ),
    ] = field(default_factory=list)
    late_supply: Annotated[
        list[SalesLineRef],
        Field(description="Lines that would go on the worklist as `late supply`"),
    ] = field(default_factory=list)
    on_time_again: list[Lateness] = field(default_factory=list)
    served: Annotated[list[Served], Field(description="Lines that would be given stock")] = field(
        default_factory=list
    )
    emails: list[EmailPreview] = field(default_factory=list)

    @computed_field(  # type: ignore[prop-decorator]
        description="true: no order would be affected and no email queued"
    )
    @property
    def nothing(self) -> bool:
        return not (
            self.relinked
            or self.to_worklist
            or self.late
            or self.late_supply
            or self.on_time_again
            or self.served
            or self.emails
        )


# --- the questions -----------------------------------------------------------------------


def _supply_change(ctx: Context, change: str, plan: Callable[..., Any], *args: Any) -> WhatIf:
    """Plan a supply change without locks or writes, and read its effects off the plan."""
    with ctx.db.read() as conn:
        planned = plan(conn, ctx, ctx.rules(conn), *args, actor=ACTOR, now=ctx.clock(), lock=False)
        return _answer(conn, ctx, planned.workset, change, EmailEvent.REALLOCATION, planned.notices)


def what_if_due_date(ctx: Context, po_number: str, line_no: int, due_date: date | None) -> WhatIf:
    """A PO line's due date moved: which orders turn late (or on time), which notices go."""
    change = f"{po_number} line {line_no} due {_iso(due_date) or 'no date'}"
    return _supply_change(ctx, change, changes.plan_due_date, po_number, line_no, due_date)


def what_if_po_line_qty(ctx: Context, po_number: str, line_no: int, qty: int) -> WhatIf:
    """A PO line's ordered quantity set to `qty` (a cut releases what no longer fits)."""
    change = f"{po_number} line {line_no} ordered quantity {qty}"
    return _supply_change(ctx, change, changes.plan_po_line_qty, po_number, line_no, qty)


def what_if_cancel(ctx: Context, po_number: str, line_no: int | None = None) -> WhatIf:
    """A PO line, or (line_no None) the whole PO, cancelled."""
    change = f"{po_number}{'' if line_no is None else f' line {line_no}'} cancelled"
    return _supply_change(ctx, change, changes.plan_cancel, po_number, line_no)


def what_if_close_short(ctx: Context, po_number: str, line_no: int) -> WhatIf:
    """A part-delivered PO line closed short: nothing more comes on it."""
    change = f"{po_number} line {line_no} closed short"
    return _supply_change(ctx, change, changes.plan_close_short, po_number, line_no)


def what_if_receipt(ctx: Context, po_number: str, line_no: int, qty: int) -> WhatIf:
    """`qty` received on a PO line: which orders get the stock."""
    with ctx.db.read() as conn:
        planned = goods_in.plan_receipt(
            conn, po_number, line_no, qty, actor=ACTOR, now=ctx.clock(), lock=False
        )
        change = f"{qty} received on {po_number} line {line_no}"
        return _answer(conn, ctx, planned.workset, change, EmailEvent.REALLOCATION, [])


def what_if_switch_on(
    ctx: Context, *, policy: str | None = None, default_status: str | None = None
) -> WhatIf:
    """`[backorders] allocate_existing_pos` turned on, and the worklist retried; with
    `policy` or `default_status` (a status code) instead of those in effect.

    The whole worklist is held in memory at once and creates no cycles: with the
    cyclic collector on, its full passes over that heap cost several times the
    work itself (about 4x on 30,000 waiting lines).
    """
    with ctx.db.read() as conn, gc_paused():
        rules = switch_on_rules(conn, ctx, policy, default_status)
        items = set(conn.scalars(select(SoLine.stock_item_id).where(*UNALLOCATED).distinct()))
        query = WorksetQuery.of(items, worklist=True, open_supply=True, lock=False)
        workset = load_workset(conn, query, now=ctx.clock(), actor=ACTOR)
        workset.offer(workset.waiting(items), rules, "so_line.reallocate", DecisionKind.WORKLIST)
        return _answer(conn, ctx, workset, SWITCHED_ON, EmailEvent.WORKLIST, [])


SWITCHED_ON = "allocation to existing POs switched on"


def switch_on_rules(
    conn: Connection, ctx: Context, policy: str | None, default_status: str | None
) -> AllocationRules:
    """The rules in effect, switched on, with this policy and default status if given."""
    rules = ctx.rules(conn)
    rules = replace(rules, enabled=True, policy=policy or rules.policy)
    if default_status is not None:
        found = conn.scalar(select(PoLineStatus.id).where(PoLineStatus.code == default_status))
        rules = replace(rules, default_status_id=found)
    return rules


# --- reading the answer off the changed workset ----------------------------------------------


def _after(line: SoLineRow) -> dict[int, int]:
    links = {p: a.qty for p, a in line.links.items()}
    for n in line.new_links:
        links[n.po_line_id] = links.get(n.po_line_id, 0) + n.qty
    return links


def _waiting(links: dict[int, int], reason: str | None) -> bool:
    return not links and reason is not None and reason != LATE


def _answer(
    conn: Connection,
    ctx: Context,
    workset: Workset,
    change: str,
    cause: EmailEvent,
    notices: list[NoticePlan],
) -> WhatIf:
    answer = WhatIf(change)
    lines = sorted(workset.so_lines.values(), key=lambda s: (s.number, s.source, s.line_no))
    for line in lines:
        before = workset.before(line.id)
        after = _after(line)
        if set(after) != set(before.links) and after:
            answer.relinked.append(
                Relinked(
                    line.ref,
                    line.sku,
                    tuple(
                        _part(workset, p, q, workset.due_before(p))
                        for p, q in sorted(before.links.items())
                    ),
                    tuple(
                        _part(workset, p, q, workset.po_lines[p].due_date)
                        for p, q in sorted(after.items())
                    ),
                )
            )
        if (
            _waiting(after, line.reason)
            and line.remaining
            and not _waiting(before.links, before.reason)
        ):
            assert line.reason is not None
            answer.to_worklist.append(ToWorklist(line.ref, line.sku, line.remaining, line.reason))
        if after and line.order_status == "open":
            late_now, late_before = workset.is_late(line), workset.was_late(line)
            expected = _latest(workset.po_lines[p].due_date for p in after)
            was = _latest(workset.due_before(p) for p in before.links)
            later = expected is not None and was is not None and expected > was
            if late_now and (not late_before or later):
                answer.late.append(Lateness(line.ref, line.delivery_date, expected))
            elif late_before and not late_now:
                answer.on_time_again.append(Lateness(line.ref, line.delivery_date, expected))
        if line.reason == LATE and before.reason != LATE:
            answer.late_supply.append(line.ref)
        if line.assigned > before.assigned:
            answer.served.append(Served(line.ref, line.sku, line.assigned - before.assigned))
    answer.emails = back_order_previews(conn, workset, cause) + [notice_preview(n) for n in notices]
    return answer


def _latest(dates: Iterable[date | None]) -> date | None:
    """When all of a line is expected: its latest known due date."""
    return max((d for d in dates if d is not None), default=None)


def _part(workset: Workset, po_line_id: int, qty: int, due: date | None) -> Part:
    po = workset.po_lines[po_line_id]
    return Part(po.po_number, po.line_no, qty, due)
