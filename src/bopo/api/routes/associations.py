"""BO/PO associations: list them, link a worklist line to a PO line by hand, unlink."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from bopo.api.deps import CtxDep, Operator, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import Page, page_of
from bopo.api.schemas_lifecycle import AssociationCreate
from bopo.domain.statuses import AssociationState
from bopo.services.worklist import associations
from bopo.services.worklist.associations import AssociationView
from bopo.services.worklist.manual_links import UnlinkResult

router = APIRouter(
    prefix="/associations", tags=["associations"], responses=responses(401, 403, 422)
)

AssociationId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The association's id")]
RowId = Annotated[int | None, Query(ge=1, le=2_147_483_647)]


@router.get("", response_model=Page[AssociationView])
def list_associations(
    ctx: CtxDep,
    _: Viewer,
    paging: PagingDep,
    state: AssociationState | None = None,
    po_number: Annotated[str | None, Query(max_length=64)] = None,
    sales_order_id: RowId = None,
    so_line_id: RowId = None,
    sku: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, object]:
    """Associations newest first: which sales-order line waits on which PO line, in what state."""
    page = associations.find_associations(
        ctx,
        state=state.value if state else None,
        po_number=po_number,
        sales_order_id=sales_order_id,
        so_line_id=so_line_id,
        sku=sku,
        limit=paging.limit,
        offset=paging.offset,
        after=paging.after,
    )
    return page_of(page)


@router.get("/{association_id}", responses=responses(404))
def get_association(ctx: CtxDep, _: Viewer, association_id: AssociationId) -> AssociationView:
    """One association, whatever its state."""
    return associations.get_association(ctx, association_id)


@router.post("", status_code=201, responses=responses(404, 409))
def create_association(
    ctx: CtxDep, user: Operator, body: AssociationCreate, response: Response
) -> AssociationView:
    """Link a worklist line to a PO line with enough free on order (409 if it does not fit)."""
    made = associations.link(
        ctx, body.so_line_id, body.po_number, body.po_line_no, relink=body.relink, actor=user.actor
    )
    response.headers["Location"] = f"/api/associations/{made.id}"
    return made


@router.delete("/{association_id}", responses=responses(404, 409))
def delete_association(ctx: CtxDep, user: Operator, association_id: AssociationId) -> UnlinkResult:
    """Unlink: the line returns to the worklist and the freed quantity is offered to others."""
    return associations.unlink(ctx, association_id, actor=user.actor)
