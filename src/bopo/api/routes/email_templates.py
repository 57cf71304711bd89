"""Email templates (system data): list, show, add, change, and preview as a customer sees them.

Previewing an unsaved template is part of writing one, so it needs the admin
role, as saving does; previewing a saved template is reading it. Every route
that renders a template (saving checks it, previewing shows it) runs on the
long-request threads: a slow template never holds up orders and pages.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response

from bopo.api.deps import Admin, CtxDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas_emails import TemplateCreate, TemplatePreviewCreate, TemplateUpdate
from bopo.domain.templating import TemplateSource
from bopo.services.email import templates
from bopo.services.email.templates import Preview, TemplateView
from bopo.threads import in_long_thread

router = APIRouter(
    prefix="/email-templates", tags=["email templates"], responses=responses(401, 403, 422)
)

Name = Annotated[str, Path(min_length=1, max_length=200, description="The template's name")]


@router.get("")
def list_templates(ctx: CtxDep, _: Viewer) -> list[TemplateView]:
    """Every email template, by name, with the PO line statuses it is attached to."""
    return templates.list_templates(ctx)


@router.post("", status_code=201, responses=responses(409))
async def create_template(
    ctx: CtxDep, user: Admin, body: TemplateCreate, request: Request, response: Response
) -> TemplateView:
    """Add a template; refused, naming the part and line, unless it renders against a sample."""
    view = await in_long_thread(
        request,
        templates.add_template,
        ctx,
        body.name,
        body.subject,
        body.body_text,
        body.body_html,
        kind=body.type.value,
        actor=user.actor,
    )
    response.headers["Location"] = f"/api/email-templates/{quote(view.name, safe='')}"
    return view


@router.post("/preview", responses=responses(404, 409))
async def preview_unsaved(
    ctx: CtxDep, _: Admin, body: TemplatePreviewCreate, request: Request
) -> Preview:
    """Render an unsaved template against an order's linked lines, or the sample order."""
    preview = await in_long_thread(
        request,
        templates.preview_source,
        ctx,
        body.type.value,
        TemplateSource(body.subject, body.body_text, body.body_html),
        order_id=body.order_id,
        order_number=body.order_number,
        order_source=body.order_source,
    )
    return preview


@router.get("/{name}", responses=responses(404))
def get_template(ctx: CtxDep, _: Viewer, name: Name) -> TemplateView:
    """One template, as written."""
    return templates.get_template(ctx, name)


@router.patch("/{name}", responses=responses(404, 409))
async def update_template(
    ctx: CtxDep, user: Admin, name: Name, body: TemplateUpdate, request: Request
) -> TemplateView:
    """Change or rename a template; refused like a new one. Queued emails keep their text."""
    view = await in_long_thread(
        request,
        templates.edit_template,
        ctx,
        name,
        new_name=body.name,
        subject=body.subject,
        body_text=body.body_text,
        body_html=(body.body_html or "") if body.html_given else None,
        actor=user.actor,
    )
    return view


@router.get("/{name}/preview", responses=responses(404, 409))
async def preview_template(
    ctx: CtxDep,
    _: Viewer,
    name: Name,
    request: Request,
    order_id: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="Render for this sales order")
    ] = None,
    order_number: Annotated[
        str | None, Query(min_length=1, max_length=64, description="Or the one with this number")
    ] = None,
    order_source: Annotated[
        str | None, Query(min_length=1, max_length=40, description="and this source")
    ] = None,
) -> Preview:
    """Render a saved template against an order's linked lines, or the sample order."""
    preview = await in_long_thread(
        request,
        templates.preview_template,
        ctx,
        name,
        order_id=order_id,
        order_number=order_number,
        source=order_source,
    )
    return preview
