"""Emails: the outbox by state, one email as the customer will see it, and sending
(over the configured SMTP server, while the operator waits), cancelling and retrying.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from bopo.domain.statuses import EmailState
from bopo.domain.templating import EmailEvent
from bopo.errors import BopoError, FieldError, InvalidInput
from bopo.services.email import outbox
from bopo.services.orders import sales
from bopo.threads import in_long_thread
from bopo.web import messages
from bopo.web.forms import act, say
from bopo.web.render import EMAIL_FRAME_CSP, pager, redirect, render
from bopo.web.session import Form, Operator, Viewer, context_of
from bopo.web.urls import local_path

router = APIRouter(prefix="/emails", include_in_schema=False)
PAGE_SIZE = 50
# "Send all due" sends this many at most while the operator waits; a bigger queue is the
# batch mailer's work (bopo emails send), and the message says how many are left.
SEND_AT_ONCE = 100
STATES = [s.value for s in EmailState]
LABELS = {
    EmailEvent.INTAKE.value: "new order",
    EmailEvent.WORKLIST.value: "worklist retry",
    EmailEvent.MANUAL_LINK.value: "linked by hand",
    EmailEvent.REALLOCATION.value: "re-allocated",
    EmailEvent.STATUS_CHANGE.value: "PO line status",
}
# Why an email was queued, for people; an event added later shows by its own name.
EVENTS = {e.value: LABELS.get(e.value, e.value.replace("_", " ")) for e in EmailEvent}
ALL = "all"


@router.get("")
def list_page(
    request: Request,
    user: Viewer,
    state: Annotated[str | None, Query(max_length=16)] = None,
    event: Annotated[str | None, Query(max_length=16)] = None,
    order: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> HTMLResponse:
    """The outbox of one state (pending unless asked), oldest first as the mailer sends."""
    ctx = context_of(request)
    shown = state if state in STATES or state == ALL else EmailState.PENDING.value
    chosen_event = event if event in EVENTS else None
    page = outbox.find_emails(
        ctx,
        state=None if shown == ALL else shown,
        sales_order_id=order,
        event=chosen_event,
        limit=PAGE_SIZE,
        offset=offset,
        after=after,
    )
    so = sales.get_sales_order(ctx, order) if order is not None else None
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        "emails.html",
        section="emails",
        page=page,
        pager=pager(page),
        state=shown,
        states=STATES,
        counts=outbox.count_emails(ctx),
        events=EVENTS,
        event=chosen_event or "",
        order=so,
        back=here,
    )


@router.get("/{email_id:int}")
def detail_page(
    request: Request,
    user: Viewer,
    email_id: int,
    back: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """One email as the customer will see it: headers, text body, and the HTML body in a
    sandboxed frame that runs no script and loads nothing (EMAIL_FRAME_CSP)."""
    view = outbox.show_email(context_of(request), email_id)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(
        request,
        "email.html",
        csp=EMAIL_FRAME_CSP,
        section="emails",
        email=view,
        s=view,
        events=EVENTS,
        back=local_path(back, f"/emails?state={view.state}"),
        here=here,
    )


def _back(form: FormData, default: str = "/emails") -> str:
    back = form.get("back")
    return local_path(back if isinstance(back, str) else None, default)


def _ids(form: FormData) -> list[int]:
    try:
        return sorted({int(str(raw)) for raw in form.getlist("id")[:500]})
    except ValueError:
        raise InvalidInput([FieldError("id", "not an email number")]) from None


@router.post("/send")
async def send(request: Request, user: Operator, form: Form) -> RedirectResponse:
    """Send the ticked emails, or (the "all" button) every due one up to SEND_AT_ONCE."""
    ctx = context_of(request)
    back = _back(form)
    due_only = form.get("all") == "1"
    try:
        ids = None if due_only else _ids(form)
        if ids == []:
            raise InvalidInput([FieldError("emails", "tick the emails to send first")])
        report = await in_long_thread(
            request, outbox.send_now, ctx, ids=ids, limit=SEND_AT_ONCE if due_only else None
        )
    except BopoError as exc:
        return redirect(back, say(exc), "error", request=request)
    kind, text = messages.sending(report, due_only=due_only)
    return redirect(back, text, kind, request=request)


ACTIONS = ("send", "cancel", "retry")


@router.post("/{email_id:int}")
async def act_on(request: Request, user: Operator, form: Form, email_id: int) -> RedirectResponse:
    """Send one email now, cancel it, or put a failed one back in the queue."""
    ctx = context_of(request)
    back = _back(form, f"/emails/{email_id}")
    action = str(form.get("action") or "")
    if action == "send":
        try:
            report = await in_long_thread(request, outbox.send_now, ctx, ids=[email_id])
        except BopoError as exc:
            return redirect(back, say(exc), "error", request=request)
        kind, text = messages.sending(report, due_only=False)
        return redirect(back, text, kind, request=request)

    def run() -> str:
        if action not in ACTIONS:
            raise InvalidInput([FieldError("action", f"unknown action {action!r}")])
        if action == "cancel":
            view = outbox.cancel_email(ctx, email_id, actor=user.actor)
            return f"Email {email_id} to {view.to_address} cancelled: it will not be sent."
        view = outbox.retry_email(ctx, email_id, actor=user.actor)
        return (
            f"Email {email_id} to {view.to_address} is pending again with its attempts "
            "reset: send it now, or the batch mailer will."
        )

    return await run_in_threadpool(act, request, back, run)
