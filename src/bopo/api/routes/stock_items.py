"""Stock items: list, show, create, rename or count."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from bopo.api.deps import Admin, CtxDep, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import Page, StockItemCreate, StockItemUpdate, page_of
from bopo.services.supply import catalog
from bopo.services.supply.catalog import StockItemView

router = APIRouter(prefix="/stock-items", tags=["stock items"], responses=responses(401, 403, 422))

Sku = Annotated[str, Path(min_length=1, max_length=64, description="The stock item's SKU")]


@router.get("", response_model=Page[StockItemView])
def find_stock_items(
    ctx: CtxDep,
    _: Viewer,
    paging: PagingDep,
    sku: Annotated[str | None, Query(max_length=64, description="SKU starts with")] = None,
    q: Annotated[str | None, Query(max_length=200, description="SKU or name contains")] = None,
    short: Annotated[bool | None, Query(description="true: no free stock; false: some")] = None,
) -> dict[str, object]:
    """Stock items by SKU, with free stock and quantity on order."""
    page = catalog.find_stock_items(
        ctx, sku=sku, q=q, short=short, limit=paging.limit, offset=paging.offset
    )
    return page_of(page)


@router.get("/{sku}", responses=responses(404))
def get_stock_item(ctx: CtxDep, _: Viewer, sku: Sku) -> StockItemView:
    """One stock item."""
    return catalog.get_stock_item(ctx, sku)


@router.post("", status_code=201, responses=responses(409))
def create_stock_item(
    ctx: CtxDep, user: Admin, body: StockItemCreate, response: Response
) -> StockItemView:
    """Add a stock item (system data)."""
    item = catalog.create_stock_item(ctx, body, actor=user.actor)
    response.headers["Location"] = f"/api/stock-items/{quote(item.sku, safe='')}"
    return item


@router.patch("/{sku}", responses=responses(404))
def update_stock_item(ctx: CtxDep, user: Admin, sku: Sku, body: StockItemUpdate) -> StockItemView:
    """Rename a stock item or set its on-hand quantity (a stock count)."""
    item = catalog.update_stock_item(
        ctx, sku, name=body.name, on_hand=body.on_hand, actor=user.actor
    )
    return item
