"""Customers: they come in with their sales orders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from bopo.api.deps import CtxDep, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import Page, page_of
from bopo.services.common import parties
from bopo.services.common.parties import CustomerView

router = APIRouter(prefix="/customers", tags=["customers"], responses=responses(401, 403, 422))


@router.get("", response_model=Page[CustomerView])
def find_customers(
    ctx: CtxDep,
    _: Viewer,
    paging: PagingDep,
    q: Annotated[str | None, Query(max_length=200, description="Code or name contains")] = None,
    email: Annotated[str | None, Query(max_length=320, description="This email address")] = None,
) -> dict[str, object]:
    """Customers by code, with how many orders each has."""
    page = parties.find_customers(ctx, q=q, email=email, limit=paging.limit, offset=paging.offset)
    return page_of(page)


@router.get("/{code}", responses=responses(404))
def get_customer(
    ctx: CtxDep, _: Viewer, code: Annotated[str, Path(min_length=1, max_length=64)]
) -> CustomerView:
    """One customer."""
    return parties.get_customer(ctx, code)
