"""The search box in the page header: everything a few typed characters find."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from bopo.services.common import search
from bopo.web.render import render
from bopo.web.routes.purchase_orders import po_url
from bopo.web.session import Viewer, context_of

router = APIRouter(prefix="/search", include_in_schema=False)


def hit_url(hit: search.Hit) -> str:
    if hit.kind is search.Kind.SALES_ORDER:
        return f"/sales-orders/{hit.id}"
    if hit.kind is search.Kind.PURCHASE_ORDER:
        return po_url(hit.key)
    if hit.kind is search.Kind.CUSTOMER:
        return f"/customers/{hit.id}"
    return "/stock-items/" + quote(hit.key, safe="")


@router.get("")
def results_page(
    request: Request,
    user: Viewer,
    q: Annotated[str, Query(max_length=search.MAX_QUERY)] = "",
) -> HTMLResponse:
    """Results grouped by kind, the best of each first."""
    return render(
        request,
        "search.html",
        section="search",
        results=search.search(context_of(request), q),
        hit_url=hit_url,
        min_contains=search.MIN_CONTAINS,
        sku_url=lambda sku, where: f"/{where}?" + urlencode({"sku": sku}),
    )
