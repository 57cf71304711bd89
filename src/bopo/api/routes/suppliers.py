"""Suppliers: they come in with their purchase orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from bopo.api.deps import CtxDep, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import Page, page_of
from bopo.services.common import parties
from bopo.services.common.parties import SupplierView

router = APIRouter(prefix="/suppliers", tags=["suppliers"], responses=responses(401, 403, 422))


@router.get("", response_model=Page[SupplierView])
def find_suppliers(
    ctx: CtxDep,
    _: Viewer,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=200, description="Code or name contains")] = None,
) -> dict[str, object]:
    """Suppliers by code, with how many purchase orders each has."""
    page = parties.find_suppliers(ctx, q=q, limit=paging.limit, offset=paging.offset)
    return page_of(page)


@router.get("/{code}", responses=responses(404))
def get_supplier(
    ctx: CtxDep, _: Viewer, code: Annotated[str, Path(min_length=1, max_length=64)]
) -> SupplierView:
    """One supplier."""
    return parties.get_supplier(ctx, code)
