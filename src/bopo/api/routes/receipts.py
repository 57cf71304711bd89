"""Receipts: what goods in released to which orders, and what went to free stock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from bopo.api.deps import CtxDep, Operator, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import Page, page_of
from bopo.services.supply import goods_in, receipt_reversal
from bopo.services.supply.goods_in import ReceiptView
from bopo.services.supply.receipt_reversal import ReversalResult

router = APIRouter(prefix="/receipts", tags=["goods in"], responses=responses(401, 403, 422))


@router.get("", response_model=Page[ReceiptView])
def list_receipts(
    ctx: CtxDep,
    _: Viewer,
    paging: PagingDep,
    po_number: Annotated[str | None, Query(max_length=64, description="Of this PO")] = None,
) -> dict[str, object]:
    """Released at goods in: receipts newest first, which orders got what, what went to stock."""
    page = goods_in.find_receipts(
        ctx, po_number=po_number, limit=paging.limit, offset=paging.offset
    )
    return page_of(page)


@router.get("/{receipt_id}", responses=responses(404))
def get_receipt(
    ctx: CtxDep,
    _: Viewer,
    receipt_id: Annotated[int, Path(ge=1, le=2_147_483_647, description="The receipt's id")],
) -> ReceiptView:
    """One receipt."""
    return goods_in.get_receipt(ctx, receipt_id)


@router.post("/{receipt_id}/reverse", responses=responses(404, 409))
def reverse_receipt(
    ctx: CtxDep,
    user: Operator,
    receipt_id: Annotated[int, Path(ge=1, le=2_147_483_647, description="The receipt's id")],
) -> ReversalResult:
    """Take a receipt booked in error back out: the PO line expects the units again, each
    order gives back what it got and is offered again; 409 if the goods are gone (shipped
    or assigned since) or it was reversed already."""
    return receipt_reversal.reverse_receipt(ctx, receipt_id, actor=user.actor)
