"""The backorder worklist: lines waiting for stock or a PO line, retrying them, and the
PO lines that could take a line."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from bopo.api.deps import CtxDep, Operator, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.exports import EXPORT_RESPONSES, file_response, wanted
from bopo.api.schemas import Page, page_of
from bopo.domain.statuses import SkipReason
from bopo.services.files import exports
from bopo.services.worklist import backorders, manual_links
from bopo.services.worklist.backorders import BackorderLine, RetrySummary
from bopo.services.worklist.manual_links import LineCandidates

router = APIRouter(prefix="/backorders", tags=["backorder worklist"], responses=responses(401, 403))


@router.get("", response_model=Page[BackorderLine], responses=responses(422) | EXPORT_RESPONSES)
def list_backorders(
    ctx: CtxDep,
    _: Viewer,
    request: Request,
    paging: PagingDep,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    reason: SkipReason | None = None,
    customer: Annotated[str | None, Query(max_length=64, description="Customer code")] = None,
    source: Annotated[str | None, Query(max_length=40)] = None,
    delivery_from: date | None = None,
    delivery_to: date | None = None,
) -> Any:
    """Lines waiting on the worklist, oldest delivery date first, each with its reason."""
    fmt = wanted(request)
    if fmt is not None:
        export = exports.worklist_export(
            ctx,
            sku=sku,
            reason=reason.value if reason else None,
            customer=customer,
            source=source,
            delivery_from=delivery_from,
            delivery_to=delivery_to,
        )
        return file_response(ctx, export, fmt)
    page = backorders.find_backorders(
        ctx,
        sku=sku,
        reason=reason.value if reason else None,
        customer=customer,
        source=source,
        delivery_from=delivery_from,
        delivery_to=delivery_to,
        limit=paging.limit,
        offset=paging.offset,
        after=paging.after,
    )
    return page_of(page)


@router.post("/allocate")
def allocate(ctx: CtxDep, user: Operator) -> RetrySummary:
    """Offer every worklist line free stock, then a PO line, oldest delivery date first."""
    return backorders.allocate_worklist(ctx, actor=user.actor)


@router.get("/{so_line_id}/candidates", responses=responses(404, 422))
def line_candidates(
    ctx: CtxDep,
    _: Viewer,
    so_line_id: Annotated[int, Path(ge=1, le=2_147_483_647, description="The worklist line")],
) -> LineCandidates:
    """The PO lines that could take a worklist line's whole quantity, in the policy's order."""
    return manual_links.line_candidates(ctx, so_line_id)
