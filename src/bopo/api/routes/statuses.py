"""PO line statuses (system data), and the email template each one sends."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from bopo.api.deps import Admin, CtxDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas import StatusCreate, StatusRename
from bopo.api.schemas_emails import StatusUpdate
from bopo.services.admin import statuses
from bopo.services.supply import catalog
from bopo.services.supply.catalog import StatusView

router = APIRouter(
    prefix="/po-line-statuses", tags=["PO line statuses"], responses=responses(401, 403)
)


@router.get("")
def list_statuses(ctx: CtxDep, _: Viewer) -> list[StatusView]:
    """Every PO line status, with its email template and how many PO lines have it."""
    return catalog.list_statuses(ctx)


@router.post("", status_code=201, responses=responses(409, 422))
def create_status(ctx: CtxDep, user: Admin, body: StatusCreate) -> StatusView:
    """Add a PO line status; its code is upper-cased and must be new."""
    return catalog.add_status(ctx, body.code, body.name, actor=user.actor)


@router.patch("/{code}", responses=responses(404, 422))
def update_status(
    ctx: CtxDep,
    user: Admin,
    code: Annotated[str, Path(min_length=1, max_length=40, description="The status code")],
    body: StatusUpdate,
) -> StatusView:
    """Attach an email template to a status (by name), or detach it (null)."""
    return catalog.set_status_template(ctx, code, body.template, actor=user.actor)


def _status(ctx: CtxDep, code: str) -> StatusView:
    return next(s for s in catalog.list_statuses(ctx) if s.code == code.strip().upper())


Code = Annotated[str, Path(min_length=1, max_length=40, description="The status code")]


@router.post("/{code}/rename", responses=responses(404, 422))
def rename_status(ctx: CtxDep, user: Admin, code: Code, body: StatusRename) -> StatusView:
    """Give a status another name; its code stays (files and settings use it)."""
    statuses.rename_status(ctx, code, body.name, actor=user.actor)
    return _status(ctx, code)


@router.post("/{code}/retire", responses=responses(404, 409))
def retire_status(ctx: CtxDep, user: Admin, code: Code) -> StatusView:
    """Retire a status: it stays on the PO lines that have it and is given to no new
    one (409 for the configured default status)."""
    statuses.retire_status(ctx, code, actor=user.actor)
    return _status(ctx, code)
