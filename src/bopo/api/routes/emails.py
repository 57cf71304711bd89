"""The pending-email outbox: list, show, cancel, retry, and send now over SMTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request

from bopo.api.deps import CtxDep, Operator, PagingDep, Viewer
from bopo.api.errors import responses
from bopo.api.exports import EXPORT_RESPONSES, file_response, wanted
from bopo.api.schemas import Page, page_of
from bopo.api.schemas_emails import EmailSend
from bopo.domain.statuses import EmailState
from bopo.domain.templating import EmailEvent
from bopo.services.email import outbox
from bopo.services.email.outbox import EmailSummary, EmailView, SendReport
from bopo.services.files import exports
from bopo.threads import in_long_thread

router = APIRouter(prefix="/emails", tags=["emails"], responses=responses(401, 403, 422))

EmailId = Annotated[int, Path(ge=1, le=2_147_483_647, description="The email's id")]


@router.get("", response_model=Page[EmailSummary], responses=EXPORT_RESPONSES)
def list_emails(
    ctx: CtxDep,
    _: Viewer,
    request: Request,
    paging: PagingDep,
    state: EmailState | None = None,
    sales_order_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    event: Annotated[EmailEvent | None, Query(description="What queued the email")] = None,
) -> Any:
    """The outbox in the order the mailer sends it, oldest first."""
    fmt = wanted(request)
    if fmt is not None:
        export = exports.emails_export(
            ctx,
            state=state.value if state else None,
            sales_order_id=sales_order_id,
            event=event.value if event else None,
        )
        return file_response(ctx, export, fmt)
    page = outbox.find_emails(
        ctx,
        state=state.value if state else None,
        sales_order_id=sales_order_id,
        event=event.value if event else None,
        limit=paging.limit,
        offset=paging.offset,
        after=paging.after,
    )
    return page_of(page)


@router.post("/send", responses=responses(404))
async def send_emails(
    ctx: CtxDep, _: Operator, request: Request, body: Annotated[EmailSend | None, Body()] = None
) -> SendReport:
    """Send due emails now (or those given) over SMTP, and wait for the result."""
    report = await in_long_thread(
        request,
        outbox.send_now,
        ctx,
        ids=body.ids if body else None,
        limit=body.limit if body else None,
    )
    return report


@router.get("/{email_id}", responses=responses(404))
def get_email(ctx: CtxDep, _: Viewer, email_id: EmailId) -> EmailView:
    """One email: its headers and bodies as sent, its attempts and last error, its links."""
    return outbox.show_email(ctx, email_id)


@router.post("/{email_id}/cancel", responses=responses(404, 409))
def cancel_email(ctx: CtxDep, user: Operator, email_id: EmailId) -> EmailView:
    """Cancel a pending or failed email: it will not be sent."""
    return outbox.cancel_email(ctx, email_id, actor=user.actor)


@router.post("/{email_id}/retry", responses=responses(404, 409))
def retry_email(ctx: CtxDep, user: Operator, email_id: EmailId) -> EmailView:
    """Put a failed email back in the queue, its attempts reset."""
    return outbox.retry_email(ctx, email_id, actor=user.actor)
