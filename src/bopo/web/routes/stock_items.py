"""A stock item's page: its stock, what is on order for it, the lines waiting for it, and
its history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from bopo.services.admin import audit
from bopo.services.supply import catalog, deliveries
from bopo.services.worklist import backorders
from bopo.web.render import render
from bopo.web.session import Viewer, context_of

router = APIRouter(prefix="/stock-items", include_in_schema=False)
WAITING_SHOWN = 50


@router.get("/{sku}")
def stock_item_page(
    request: Request,
    user: Viewer,
    sku: str,
    history: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    ctx = context_of(request)
    sku = catalog.skus_as_stored(ctx, [sku]).get(sku, sku)  # typed in any case
    item = catalog.get_stock_item(ctx, sku)
    return render(
        request,
        "stock_item.html",
        section="purchase-orders",
        item=item,
        supply=deliveries.expected_deliveries(ctx, window="all", sku=item.sku),
        waiting=backorders.find_backorders(ctx, sku=item.sku, limit=WAITING_SHOWN),
        history=audit.history(ctx, "stock_item", item.id, offset=history),
    )
