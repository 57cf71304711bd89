"""PO line statuses (system data), and the email template each one sends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from bopo.api.deps import Admin, CtxDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import StatusCreate, StatusRead
from bopo.api.schemas_emails import StatusUpdate
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


@router.patch("/{code}", responses=responses(404, 422))
def update_status(
    ctx: CtxDep,
    user: Admin,
    code: Annotated[str, Path(min_length=1, max_length=40, description="The status code")],
    body: StatusUpdate,
) -> StatusRead:
    """Attach an email template to a status (by name), or detach it (null)."""
    return StatusRead.model_validate(
        catalog.set_status_template(ctx, code, body.template, actor=user.actor)
    )
