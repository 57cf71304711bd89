"""Purchase orders: list, show with each line's position, create; change, cancel or close
lines, cancel a whole PO, and receive goods on a line."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from bopo.api.deps import CtxDep, Operator, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import Page, PurchaseOrderCreate, page_of
from bopo.api.schemas_lifecycle import PoLineUpdate, ReceiptCreate
from bopo.services.supply import changes, goods_in, po_line_update, purchasing
from bopo.services.supply.changes import SupplyChangeResult
from bopo.services.supply.goods_in import ReceiptResult
from bopo.services.supply.purchasing import PurchaseOrderSummary, PurchaseOrderView

router = APIRouter(
    prefix="/purchase-orders", tags=["purchase orders"], responses=responses(401, 403, 422)
)

Number = Annotated[str, Path(min_length=1, max_length=64, description="The PO number")]
LineNo = Annotated[int, Path(ge=1, le=100_000, description="The PO line's number")]
Code = Annotated[str | None, Query(max_length=64)]


@router.get("", response_model=Page[PurchaseOrderSummary])
def find_purchase_orders(
    ctx: CtxDep,
    _: Viewer,
    paging: PagingDep,
    number: Code = None,
    supplier: Annotated[str | None, Query(max_length=64, description="Supplier code")] = None,
    sku: Annotated[str | None, Query(max_length=64, description="Has a line of this SKU")] = None,
    status: Annotated[
        str | None, Query(max_length=40, description="Has a line with this status code")
    ] = None,
    open: Annotated[
        bool | None, Query(description="true: something still to come; false: all in")
    ] = None,
    due_before: Annotated[
        date | None, Query(description="Has an open line due on or before this date")
    ] = None,
) -> dict[str, object]:
    """Purchase orders, newest first, with open lines, outstanding quantity and next due date."""
    page = purchasing.find_purchase_orders(
        ctx,
        number=number,
        supplier=supplier,
        sku=sku,
        status=status,
        open_only=open,
        due_before=due_before,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of(page)


@router.get("/{number}", responses=responses(404))
def get_purchase_order(ctx: CtxDep, _: Viewer, number: Number) -> PurchaseOrderView:
    """One purchase order: each line's quantities, status, due date and linked sales lines."""
    return purchasing.show_purchase_order(ctx, number)


@router.post("", status_code=201, responses=responses(409))
def create_purchase_order(
    ctx: CtxDep, user: Operator, body: PurchaseOrderCreate, response: Response
) -> PurchaseOrderView:
    """Add a purchase order with its lines; unknown SKUs or statuses refuse it whole."""
    view = purchasing.create_purchase_order(ctx, body, actor=user.actor)
    response.headers["Location"] = f"/api/purchase-orders/{quote(view.number, safe='')}"
    return view


@router.patch("/{number}/lines/{line_no}", responses=responses(404, 409))
def update_po_line(
    ctx: CtxDep, user: Operator, number: Number, line_no: LineNo, body: PoLineUpdate
) -> po_line_update.PoLineUpdate:
    """Change a PO line's quantity, due date and/or status; says how many emails were queued."""
    result = po_line_update.update_po_line(
        ctx,
        number,
        line_no,
        qty=body.qty,
        due_date=body.due_date if body.due_date_given else po_line_update.KEEP,
        status=body.status,
        actor=user.actor,
    )
    return result


@router.post("/{number}/lines/{line_no}/cancel", responses=responses(404, 409))
def cancel_po_line(
    ctx: CtxDep, user: Operator, number: Number, line_no: LineNo
) -> SupplyChangeResult:
    """Cancel an undelivered PO line; its links are released and offered to other PO lines."""
    result = changes.cancel_po_line(ctx, number, line_no, actor=user.actor)
    return result


@router.post("/{number}/lines/{line_no}/close-short", responses=responses(404, 409))
def close_po_line_short(
    ctx: CtxDep, user: Operator, number: Number, line_no: LineNo
) -> SupplyChangeResult:
    """Close a part-delivered PO line: nothing more comes; its links are re-allocated."""
    result = changes.close_po_line_short(ctx, number, line_no, actor=user.actor)
    return result


@router.post("/{number}/cancel", responses=responses(404, 409))
def cancel_purchase_order(ctx: CtxDep, user: Operator, number: Number) -> SupplyChangeResult:
    """Cancel every open line of a PO (lines with deliveries close short); links re-allocated."""
    result = changes.cancel_purchase_order(ctx, number, actor=user.actor)
    return result


@router.post("/{number}/lines/{line_no}/receipts", status_code=201, responses=responses(404, 409))
def receive_goods(
    ctx: CtxDep,
    user: Operator,
    number: Number,
    line_no: LineNo,
    body: ReceiptCreate,
    response: Response,
) -> ReceiptResult:
    """Receive goods on a PO line: linked orders first, then the worklist, the rest to stock."""
    result = goods_in.receive(ctx, number, line_no, body.qty, actor=user.actor)
    response.headers["Location"] = f"/api/receipts/{result.id}"
    return result
