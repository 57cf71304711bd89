"""Manual association: linking a worklist line to a PO line by hand, unlinking one,
and the PO lines that could take each worklist line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Unpack

from pydantic import Field, computed_field
from sqlalchemy import Connection, select

from bopo.db.models import PoLine, PoLineStatus, PurchaseOrder, StockItem
from bopo.db.queries import IS_OPEN, OUTSTANDING
from bopo.db.workset import WorksetQuery, load_workset
from bopo.domain.allocation import PoLineSupply, fitting_po_lines
from bopo.domain.records import ChangeLog, PoLineRow, Released, SalesLineRef, SoLineRow
from bopo.domain.templating import EmailEvent
from bopo.domain.workset import Workset
from bopo.errors import BopoError, Conflict, FieldError, InvalidInput, NotFound
from bopo.services.common.engine import commit
from bopo.services.common.lookup import find_po_line, find_sales_order, order_lines
from bopo.services.common.pages import Page
from bopo.services.common.record_json import (
    LineFields,
    Reallocated,
    ReleasedLink,
    ReleasedOut,
    reallocated_json,
    released_json,
)
from bopo.services.context import Context
from bopo.services.worklist.backorders import (
    BackorderLine,
    WorklistQuery,
    find_backorders,
    load_backorders,
)


@dataclass(frozen=True, slots=True)
class LinkResult(LineFields):
    line: Annotated[SalesLineRef, Field(exclude=True)]
    sku: str
    qty: int
    po_number: str
    po_line_no: int
    expected: date | None


def link_line(
    ctx: Context,
    number: str,
    line_no: int,
    po_number: str,
    po_line_no: int,
    *,
    source: str | None = None,
    relink: bool = False,
    actor: str,
) -> LinkResult:
    """Link an unallocated SO line's whole backorder quantity to a PO line of its item.

    The PO line's free quantity on order must cover it. A PO line without a
    status gets the default status, if one is configured. The link is written
    like any other, so the same back-order email follows. With `relink`, a
    linked line (a late one with a better candidate, say) is unlinked and linked
    in the same transaction, and what it frees is offered to the item's waiting
    lines: nobody sees it in between.
    """
    now = ctx.clock()
    with ctx.db.write() as conn:
        rules = ctx.rules(conn)
        order = find_sales_order(conn, number, source)
        key = order_lines(conn, order, [line_no])[0]
        po_key = find_po_line(conn, po_number, po_line_no)
        if po_key.stock_item_id != key.stock_item_id:
            raise InvalidInput(
                [FieldError("po_line", f"{po_number} line {po_line_no} is for another item")]
            )
        # The item's open PO lines come too: the decision record keeps what else fitted.
        query = WorksetQuery.of(
            {key.stock_item_id},
            so_line_ids={key.id},
            also_po_line_ids={po_key.id},
            worklist=relink,
            open_supply=True,
        )
        workset = load_workset(conn, query, now=now, actor=actor)
        line = workset.so_lines[key.id]
        po = workset.po_lines[po_key.id]
        freed = _make_room(workset, line, po, relink)
        need = line.remaining
        if po.supply.free_on_order < need:
            raise Conflict(
                f"{po} has {po.supply.free_on_order} free on order; {line.ref} needs {need}"
            )
        default = rules.default_status_id if po.supply.status_id is None else None
        workset.link(line, po, need, default, "so_line.link", policy=rules.policy)
        if freed and rules.enabled:  # what the old PO line no longer holds for it
            workset.offer(workset.waiting({line.item_id}), rules, "so_line.reallocate")
        commit(
            conn,
            ctx,
            workset,
            stock_action="stock.assign",
            details={"by_hand": True},
            cause=EmailEvent.MANUAL_LINK,
        )
    return LinkResult(line.ref, line.sku, need, po.po_number, po.line_no, po.due_date)


def _make_room(workset: Workset, line: SoLineRow, po: PoLineRow, relink: bool) -> list[Released]:
    """Refuse a link that cannot be made; a line re-linked gives up its links first."""
    if line.order_status != "open":
        raise Conflict(f"sales order {line.source}/{line.number} is {line.order_status}")
    if po.id in line.links:
        raise Conflict(f"{line.ref} is linked to {po} already")
    if line.links and not relink:
        linked = ", ".join(str(workset.po_lines[p]) for p in sorted(line.links))
        raise Conflict(f"{line.ref} is linked to {linked} already: unlink it first")
    freed = workset.release(line, f"re-linked to {po}", "so_line.relink") if relink else []
    if line.remaining == 0:
        raise Conflict(f"{line.ref} has nothing on backorder")
    if po.outstanding == 0:
        raise Conflict(f"{po} has nothing outstanding")
    return freed


@dataclass(frozen=True, slots=True)
class UnlinkResult:
    """The link removed, and how the quantity it freed was offered to other lines."""

    # the (first) link removed; a split line's every part is in log
    released: Annotated[ReleasedOut, Field(serialization_alias="unlinked")]
    log: Annotated[ChangeLog, Field(exclude=True)]

    @computed_field(alias="released")  # type: ignore[prop-decorator]
    @property
    def all_released(self) -> list[ReleasedLink]:
        return released_json(self.log)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def reallocated(self) -> list[Reallocated]:
        return reallocated_json(self.log)


def unlink_line(
    ctx: Context,
    number: str,
    line_no: int,
    *,
    source: str | None = None,
    association_id: int | None = None,
    actor: str,
) -> UnlinkResult:
    """Remove a line's link (every part of a split line): it returns to the worklist
    (`released`).

    The quantity it frees on order is offered (switch on) to the item's other
    waiting lines, oldest delivery date first. With `association_id`, only
    that link is removed: a caller who named it never removes a newer one.
    """
    now = ctx.clock()
    with ctx.db.write() as conn:
        rules = ctx.rules(conn)
        order = find_sales_order(conn, number, source)
        key = order_lines(conn, order, [line_no])[0]
        query = WorksetQuery.of(
            {key.stock_item_id},
            so_line_ids={key.id},
            worklist=rules.enabled,
            open_supply=rules.enabled,
        )
        workset = load_workset(conn, query, now=now, actor=actor)
        line = workset.so_lines[key.id]
        if not line.links:
            raise Conflict(f"{line.ref} is not linked to a PO line")
        if association_id is not None and association_id not in {a.id for a in line.links.values()}:
            raise Conflict(f"association {association_id} is no longer the link of {line.ref}")
        released = workset.release(line, "unlinked by hand", "so_line.unlink")
        log = ChangeLog(released)
        if rules.enabled:
            waiting = workset.waiting({line.item_id}, exclude={line.id})
            log.offered = workset.offer(waiting, rules, "so_line.reallocate")
        commit(
            conn,
            ctx,
            workset,
            stock_action="stock.assign",
            details={"by_hand": True},
            cause=EmailEvent.MANUAL_LINK,
        )
    return UnlinkResult(released[0], log)


@dataclass(frozen=True, slots=True)
class Candidate:
    po_number: str
    line_no: int
    due_date: date | None
    status: str | None
    outstanding: int
    free_on_order: int


@dataclass(frozen=True, slots=True)
class LineCandidates:
    """A worklist line and the PO lines that could take it, in the policy's order."""

    line: BackorderLine
    candidates: tuple[Candidate, ...] = field(default=())


def list_candidates(
    ctx: Context, *, limit: int | None = None, sku: str | None = None
) -> list[LineCandidates]:
    """Each worklist line with the PO lines that could take its whole quantity.

    In the allocation policy's order; a `late supply` line is shown the PO
    lines other than its own.
    """
    with ctx.db.read() as conn:
        lines = load_backorders(conn, limit=limit, sku=sku)
        return _with_candidates(conn, lines, ctx.backorders(conn).policy)


def line_candidates(ctx: Context, so_line_id: int) -> LineCandidates:
    """One worklist line (by SO line id) with the PO lines that could take it."""
    with ctx.db.read() as conn:
        lines = load_backorders(conn, so_line_id=so_line_id)
        if not lines:
            raise NotFound("worklist line", so_line_id)
        return _with_candidates(conn, lines, ctx.backorders(conn).policy)[0]


def find_candidates(ctx: Context, **query: Unpack[WorklistQuery]) -> Page[LineCandidates]:
    """One page of the worklist (as `find_backorders`), each line with its candidates."""
    page = find_backorders(ctx, **query)
    with ctx.db.read() as conn:
        items = _with_candidates(conn, page.items, ctx.backorders(conn).policy)
    return Page(items, page.total, page.limit, page.offset, page.total_capped, page.next_after)


def _with_candidates(
    conn: Connection, lines: Sequence[BackorderLine], policy: str
) -> list[LineCandidates]:
    skus = sorted({line.sku for line in lines})
    supply: dict[str, list[PoLineSupply]] = defaultdict(list)
    shown: dict[int, tuple[str, int, str | None]] = {}
    if skus:
        for r in conn.execute(
            select(
                PoLine.id,
                PoLine.stock_item_id,
                PoLine.due_date,
                OUTSTANDING,
                PoLine.qty_associated,
                PoLine.status_id,
                StockItem.sku,
                PurchaseOrder.number,
                PoLine.line_no,
                PoLineStatus.code,
            )
            .join(StockItem, StockItem.id == PoLine.stock_item_id)
            .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
            .outerjoin(PoLineStatus, PoLineStatus.id == PoLine.status_id)
            .where(StockItem.sku.in_(skus), IS_OPEN)
            .order_by(PoLine.id)
        ):
            supply[r.sku].append(_supply(r))
            shown[r.id] = (r.number, r.line_no, r.code)
    out = []
    for line in lines:
        own = (line.po_number, line.po_line_no)
        fits = [
            s
            for s in fitting_po_lines(line.waiting, supply[line.sku], policy)
            if shown[s.po_line_id][:2] != own
        ]
        out.append(
            LineCandidates(
                line,
                tuple(
                    Candidate(
                        shown[s.po_line_id][0],
                        shown[s.po_line_id][1],
                        s.due_date,
                        shown[s.po_line_id][2],
                        s.outstanding,
                        s.free_on_order,
                    )
                    for s in fits
                ),
            )
        )
    return out


def _supply(r: Any) -> PoLineSupply:
    return PoLineSupply(
        po_line_id=r.id,
        item_id=r.stock_item_id,
        due_date=r.due_date,
        outstanding=r.outstanding,
        associated=r.qty_associated,
        status_id=r.status_id,
    )


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """One worklist line and the PO line a person chose for it."""

    line: SalesLineRef
    po_number: str
    po_line_no: int


@dataclass
class LinkBatch:
    """What linking several lines by hand did: each linked, or why not."""

    linked: list[LinkResult] = field(default_factory=list)
    refused: list[tuple[SalesLineRef, str]] = field(default_factory=list)


def link_lines(ctx: Context, requests: Sequence[LinkRequest], *, actor: str) -> LinkBatch:
    """Link several worklist lines by hand, each in its own transaction.

    A line that cannot be linked (taken meanwhile, not enough free on order)
    is reported with the reason and the others go on.
    """
    batch = LinkBatch()
    for req in requests:
        try:
            batch.linked.append(
                link_line(
                    ctx,
                    req.line.number,
                    req.line.line_no,
                    req.po_number,
                    req.po_line_no,
                    source=req.line.source,
                    actor=actor,
                )
            )
        except (Conflict, InvalidInput, NotFound) as exc:
            batch.refused.append((req.line, _plain(exc)))
    return batch


def _plain(exc: BopoError) -> str:
    if isinstance(exc, InvalidInput):
        return "; ".join(e.message for e in exc.errors)
    return str(exc)
