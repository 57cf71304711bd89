"""Purchase orders: list, show with each line's position, create."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from bopo.api.deps import CtxDep, Operator, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import (
    Page,
    PurchaseOrderCreate,
    PurchaseOrderRead,
    PurchaseOrderSummaryRead,
    page_of,
)
from bopo.services import purchasing

router = APIRouter(
    prefix="/purchase-orders", tags=["purchase orders"], responses=responses(401, 403, 422)
)

Number = Annotated[str, Path(min_length=1, max_length=64, description="The PO number")]
Code = Annotated[str | None, Query(max_length=64)]


@router.get("", response_model=Page[PurchaseOrderSummaryRead])
def list_purchase_orders(
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
    page = purchasing.list_purchase_orders(
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
    return page_of(PurchaseOrderSummaryRead, page)


@router.get("/{number}", responses=responses(404))
def get_purchase_order(ctx: CtxDep, _: Viewer, number: Number) -> PurchaseOrderRead:
    """One purchase order: each line's quantities, status, due date and linked sales lines."""
    return PurchaseOrderRead.model_validate(purchasing.show_purchase_order(ctx, number))


@router.post("", status_code=201, responses=responses(409))
def create_purchase_order(
    ctx: CtxDep, user: Operator, body: PurchaseOrderCreate, response: Response
) -> PurchaseOrderRead:
    """Add a purchase order with its lines; unknown SKUs or statuses refuse it whole."""
    view = purchasing.create_purchase_order(ctx, body, actor=user.actor)
    response.headers["Location"] = f"/api/purchase-orders/{quote(view.number, safe='')}"
    return PurchaseOrderRead.model_validate(view)
