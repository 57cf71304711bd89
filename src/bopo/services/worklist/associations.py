"""BO/PO associations as records: finding them, and linking or unlinking by id.

The API names sales-order lines and associations by id; linking and
unlinking themselves are manual_links' use cases, which take the line by its
order's source and number. Those never change, so the id is resolved first;
an unlink names the association it means, so it never removes a newer one.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, select
from sqlalchemy.orm import aliased

from bopo.db.models import Association, PoLine, PurchaseOrder, SalesOrder, SoLine, StockItem
from bopo.errors import Conflict, NotFound
from bopo.services.common.lookup import sales_line_ref
from bopo.services.common.pages import AnySelect, Page, fetch_page, fetch_page_by_id
from bopo.services.context import Context
from bopo.services.worklist import manual_links
from bopo.services.worklist.manual_links import UnlinkResult


@dataclass(frozen=True, slots=True)
class AssociationView:
    id: int
    state: str
    qty: int
    so_line_id: int
    sales_order_id: int
    source: str
    number: str
    line_no: int
    sku: str
    po_number: str
    po_line_no: int
    expected: Annotated[date | None, Field(description="The PO line's due date")]
    created_at: datetime
    created_by: str
    ended_at: datetime | None
    ended_by: str | None
    ended_reason: str | None


def _select() -> AnySelect:
    return (
        select(
            Association.id,
            Association.state,
            Association.qty,
            SoLine.id.label("so_line_id"),
            SalesOrder.id.label("sales_order_id"),
            SalesOrder.source,
            SalesOrder.number,
            SoLine.line_no,
            StockItem.sku,
            PurchaseOrder.number.label("po_number"),
            PoLine.line_no.label("po_line_no"),
            PoLine.due_date.label("expected"),
            Association.created_at,
            Association.created_by,
            Association.ended_at,
            Association.ended_by,
            Association.ended_reason,
        )
        .join(SoLine, SoLine.id == Association.so_line_id)
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .join(StockItem, StockItem.id == SoLine.stock_item_id)
        .join(PoLine, PoLine.id == Association.po_line_id)
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
    )


def find_associations(
    ctx: Context,
    *,
    state: str | None = None,
    po_number: str | None = None,
    sales_order_id: int | None = None,
    so_line_id: int | None = None,
    sku: str | None = None,
    limit: int = 50,
    offset: int = 0,
    after: int | None = None,
) -> Page[AssociationView]:
    """One page of associations, newest first, with the total; `after`: the page after
    this association (bopo.services.common.pages). Filtered by state or not at all, the
    page's ids are counted and sliced on the links table alone (its primary key), and only
    the page's rows are joined to their orders and PO lines, however deep the page."""
    stmt = _select().order_by(Association.id.desc())
    equal: list[tuple[Any, object]] = [
        (Association.state, state),
        (PurchaseOrder.number, po_number),
        (SalesOrder.id, sales_order_id),
        (SoLine.id, so_line_id),
        (StockItem.sku, sku),
    ]
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    if sku is not None:  # the same item's PO lines: a way in by the links' po_line_id index
        po_line, stock = aliased(PoLine), aliased(StockItem)  # not the joined ones
        item = select(stock.id).where(stock.sku == sku).scalar_subquery()
        stmt = stmt.where(
            Association.po_line_id.in_(select(po_line.id).where(po_line.stock_item_id == item))
        )
    bare = all(v is None for v in (po_number, sales_order_id, so_line_id, sku))
    with ctx.db.read() as conn:
        if bare:  # filtered on the links alone: page their ids, then read the page whole
            ids = select(Association.id).order_by(Association.id.desc())
            if state is not None:
                ids = ids.where(Association.state == state)
            return fetch_page_by_id(
                conn,
                ids,
                _select(),
                AssociationView,
                key=Association.id,
                limit=limit,
                offset=offset,
                newest_first=True,
                after=after,
            )
        return fetch_page(
            conn,
            stmt,
            AssociationView,
            limit=limit,
            offset=offset,
            key=Association.id,
            newest_first=True,
            after=after,
        )


def get_association(ctx: Context, association_id: int) -> AssociationView:
    """One association by its id, whatever its state."""
    with ctx.db.read() as conn:
        row = conn.execute(_select().where(Association.id == association_id)).first()
    if row is None:
        raise NotFound("association", association_id)
    return AssociationView(**row._mapping)


def load_associations(conn: Connection, ids: Collection[int]) -> list[AssociationView]:
    """These associations, by id, inside the caller's transaction."""
    if not ids:
        return []
    stmt = _select().where(Association.id.in_(sorted(ids))).order_by(Association.id)
    return [AssociationView(**row._mapping) for row in conn.execute(stmt)]


def link(
    ctx: Context,
    so_line_id: int,
    po_number: str,
    po_line_no: int,
    *,
    relink: bool = False,
    actor: str,
) -> AssociationView:
    """Link a worklist line (by id) to a PO line by hand; the association made.

    As manual_links.link_line: the PO line must be of the same item and have
    enough free on order for the line's whole backorder quantity.
    """
    ref = sales_line_ref(ctx, so_line_id)
    manual_links.link_line(
        ctx,
        ref.number,
        ref.line_no,
        po_number,
        po_line_no,
        source=ref.source,
        relink=relink,
        actor=actor,
    )
    # The line's newest association is the one just made (ids only grow); shown
    # as it stands, even if someone has changed it since.
    newest = find_associations(ctx, so_line_id=so_line_id, limit=1)
    return newest.items[0]


def unlink(ctx: Context, association_id: int, *, actor: str) -> UnlinkResult:
    """End an active association by hand; its line returns to the worklist (`released`)."""
    found = get_association(ctx, association_id)
    if found.state != "active":
        raise Conflict(f"association {association_id} is {found.state}, not active")
    return manual_links.unlink_line(
        ctx,
        found.number,
        found.line_no,
        source=found.source,
        association_id=association_id,
        actor=actor,
    )
