"""PO line statuses (system data)."""

from __future__ import annotations

from fastapi import APIRouter

from bopo.api.deps import Admin, CtxDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import StatusCreate, StatusRead
from bopo.services import catalog

router = APIRouter(
    prefix="/po-line-statuses", tags=["PO line statuses"], responses=responses(401, 403)
)


@router.get("")
def list_statuses(ctx: CtxDep, _: Viewer) -> list[StatusRead]:
    """Every PO line status, with its email template and how many PO lines have it."""
    return [StatusRead.model_validate(s) for s in catalog.list_statuses(ctx)]


@router.post("", status_code=201, responses=responses(409, 422))
def create_status(ctx: CtxDep, user: Admin, body: StatusCreate) -> StatusRead:
    """Add a PO line status; its code is upper-cased and must be new."""
    return StatusRead.model_validate(
        catalog.add_status(ctx, body.code, body.name, actor=user.actor)
    )
