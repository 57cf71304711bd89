"""The switch-on preview a page at a time, for a worklist too long to work out at once.

A retry serves the worklist's lines in one order (priority, delivery date, order,
line) and a line's outcome depends only on the lines served before it. So the first
orders in that order are worked out exactly, whatever comes after them: a page is
the worklist's orders [offset, offset + limit), worked out together with the orders
before it (nothing later is loaded), and only its own orders are reported. A page
costs what the orders up to its end cost, never the whole worklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from bopo.db.bulk import one_of
from bopo.db.models import SalesOrder, SoLine
from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.decisions import DecisionKind
from bopo.domain.templating import EmailEvent
from bopo.services.context import Context
from bopo.services.files.imports import gc_paused
from bopo.services.promise.what_if import ACTOR, SWITCHED_ON, WhatIf, _answer, switch_on_rules
from bopo.services.worklist.backorders import UNALLOCATED

SWITCH_ON_ORDERS = 1_000  # orders a page of the preview covers


@dataclass(frozen=True, slots=True)
class SwitchOnPage:
    """One page of the switch-on preview: the orders [offset, offset + orders) of those
    waiting, in serving order; `next_offset` None on the last page."""

    answer: WhatIf
    offset: int
    orders: int
    next_offset: int | None
    limit: int = SWITCH_ON_ORDERS

    @property
    def prev_offset(self) -> int | None:
        return max(0, self.offset - self.limit) if self.offset else None


def _waiting_orders() -> Any:
    """Open orders with a line waiting unlinked, in serving order (the worklist's indexes)."""
    waits = select(SoLine.id).where(SoLine.sales_order_id == SalesOrder.id, *UNALLOCATED)
    return (
        select(SalesOrder.id)
        .where(SalesOrder.status == "open", waits.exists())
        .order_by(SalesOrder.priority.desc(), SalesOrder.delivery_date, SalesOrder.id)
    )


def switch_on_page(
    ctx: Context,
    *,
    policy: str | None = None,
    default_status: str | None = None,
    offset: int = 0,
    limit: int = SWITCH_ON_ORDERS,
) -> SwitchOnPage:
    """What switching allocation on would do to one page of the waiting orders."""
    offset, limit = max(0, offset), max(1, limit)
    with ctx.db.read() as conn, gc_paused():
        rules = switch_on_rules(conn, ctx, policy, default_status)
        ids = list(conn.scalars(_waiting_orders().limit(offset + limit + 1)))
        more = len(ids) > offset + limit
        ids = ids[: offset + limit]
        answer = _work_out(conn, ctx, ids, rules, set(ids[offset:]))
    next_offset = offset + limit if more else None
    return SwitchOnPage(answer, offset, len(ids[offset:]), next_offset, limit)


def _work_out(
    conn: Connection, ctx: Context, order_ids: list[int], rules: Any, page: set[int]
) -> WhatIf:
    """The retry over these orders' waiting lines, reported for the page's orders only."""
    if not order_ids:
        return WhatIf(SWITCHED_ON)
    rows = conn.execute(
        select(SoLine.id, SoLine.stock_item_id).where(
            *UNALLOCATED, one_of(conn, SoLine.sales_order_id, order_ids)
        )
    ).all()
    line_ids = {r.id for r in rows}
    items = {r.stock_item_id for r in rows}
    query = WorksetQuery.of(items, so_line_ids=line_ids, open_supply=True, lock=False)
    workset = load_workset(conn, query, now=ctx.clock(), actor=ACTOR)
    lines = [s for s in workset.waiting(items) if s.id in line_ids]
    workset.offer(lines, rules, "so_line.reallocate", DecisionKind.WORKLIST)
    answer = _answer(conn, ctx, workset, SWITCHED_ON, EmailEvent.WORKLIST, [])
    shown = {(s.source, s.number) for s in workset.so_lines.values() if s.order_id in page}
    return _only(answer, shown)


def _only(answer: WhatIf, shown: set[tuple[str, str]]) -> WhatIf:
    """The answer about these orders (source, number) alone."""

    def keep(items: list[Any]) -> list[Any]:
        return [x for x in items if (_line(x).source, _line(x).number) in shown]

    return WhatIf(
        answer.change,
        relinked=keep(answer.relinked),
        to_worklist=keep(answer.to_worklist),
        late=keep(answer.late),
        late_supply=keep(answer.late_supply),
        on_time_again=keep(answer.on_time_again),
        served=keep(answer.served),
        emails=[e for e in answer.emails if (e.source, e.number) in shown],
    )


def _line(item: Any) -> Any:
    return getattr(item, "line", item)  # a result about a line, or the line's ref itself
