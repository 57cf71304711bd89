"""What-if previews: what an action on a PO (or goods in, or switching allocation on) would
do, shown before anyone does it.

A Preview button posts the action's own form here instead (CSRF token included); the page
answers from bopo.services.promise.what_if, which reads and never writes, and offers the action
itself as a form with the same fields, so that confirming is submitting the action.
Previews are for the people who may then act: operators, and admins for the switch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from bopo.domain.allocation import POLICIES
from bopo.errors import BopoError, FieldError, InvalidInput
from bopo.services.promise import switch_on, what_if
from bopo.services.promise.what_if import WhatIf
from bopo.services.supply import purchasing
from bopo.services.supply.purchasing import PoLineView, PurchaseOrderView
from bopo.web import messages
from bopo.web.forms import optional_date, say, text, whole
from bopo.web.messages import Day
from bopo.web.render import redirect, render
from bopo.web.routes.emails import EVENTS
from bopo.web.routes.purchase_orders import po_url
from bopo.web.session import Admin, Form, Operator, context_of
from bopo.web.urls import local_path

router = APIRouter(prefix="/what-if", include_in_schema=False)
# Rows listed per kind; a change touching more lists the first ones and counts the rest.
SHOWN = 100


@dataclass(frozen=True, slots=True)
class Confirm:
    """The action previewed, as a form: where it posts, its fields, its button."""

    action: str
    fields: dict[str, str]
    button: str
    danger: bool = False


@dataclass(frozen=True, slots=True)
class Asked:
    question: str  # "Move PO-1 line 1's due date from Sun 29 Nov to Wed 2 Dec?"
    answer: WhatIf
    confirm: Confirm | None


def _line(po: PurchaseOrderView, line_no: int) -> PoLineView:
    for line in po.lines:
        if line.line_no == line_no:
            return line
    raise InvalidInput([FieldError("line_no", f"{po.number} has no line {line_no}")])


def _ask_po(request: Request, number: str, form: FormData, day: Day) -> Asked:
    """The PO page's actions: each form's fields, as the action itself reads them."""
    ctx = context_of(request)
    action = text(form, "action", max_length=20)
    back = po_url(number)
    if action == "cancel-po":
        answer = what_if.what_if_cancel(ctx, number)
        return Asked(
            f"Cancel every open line of {number}?",
            answer,
            Confirm(back, {"action": action}, f"Cancel {number}", danger=True),
        )
    if action not in ("receive", "qty", "due", "cancel-line", "close-short"):
        raise InvalidInput([FieldError("action", f"there is no preview for {action!r}")])
    line_no = whole(form, "line_no", high=100_000)
    fields = {"action": action, "line_no": str(line_no)}
    if action == "receive":
        return _ask_receipt(request, number, line_no, whole(form, "qty"), back, fields)
    if action == "qty":
        qty = whole(form, "qty")
        answer = what_if.what_if_po_line_qty(ctx, number, line_no, qty)
        line = _line(purchasing.show_purchase_order(ctx, number), line_no)
        return Asked(
            f"Change the ordered quantity of {number} line {line_no} ({line.sku}) "
            f"from {line.ordered:,} to {qty:,}?",
            answer,
            Confirm(back, fields | {"qty": str(qty)}, "Change the quantity"),
        )
    if action == "due":
        due = optional_date(form, "due_date")
        answer = what_if.what_if_due_date(ctx, number, line_no, due)
        line = _line(purchasing.show_purchase_order(ctx, number), line_no)
        return Asked(
            f"Move the due date of {number} line {line_no} ({line.sku}) "
            f"from {_when(day, line.due_date)} to {_when(day, due)}?",
            answer,
            Confirm(
                back, fields | {"due_date": due.isoformat() if due else ""}, "Change the due date"
            ),
        )
    if action == "cancel-line":
        answer = what_if.what_if_cancel(ctx, number, line_no)
        return Asked(
            f"Cancel {number} line {line_no}?",
            answer,
            Confirm(back, fields, f"Cancel line {line_no}", danger=True),
        )
    answer = what_if.what_if_close_short(ctx, number, line_no)
    return Asked(
        f"Close {number} line {line_no} short? Nothing more would come on it.",
        answer,
        Confirm(back, fields, f"Close line {line_no} short", danger=True),
    )


def _ask_receipt(
    request: Request, number: str, line_no: int, qty: int, back: str, fields: dict[str, str]
) -> Asked:
    ctx = context_of(request)
    answer = what_if.what_if_receipt(ctx, number, line_no, qty)
    line = _line(purchasing.show_purchase_order(ctx, number), line_no)
    return Asked(
        f"Receive {qty:,} of {line.sku} on {number} line {line_no} "
        f"({line.outstanding:,} outstanding)?",
        answer,
        Confirm(back, fields | {"qty": str(qty)}, f"Receive {qty:,}"),
    )


def _when(day: Day, value: Any) -> str:
    return day(value) if value else "no date"


def _show(
    request: Request,
    asked: Asked,
    *,
    section: str,
    crumbs: list[tuple[str, str]],
    back: str,
    still: str = "",
    switch: dict[str, str] | None = None,
    orders: switch_on.SwitchOnPage | None = None,
) -> HTMLResponse:
    """The preview page; `still` says what the action does even when no order is touched."""
    return render(
        request,
        "what_if.html",
        section=section,
        asked=asked,
        summary=messages.what_if(asked.answer),
        crumbs=crumbs,
        back=local_path(back),
        still=still,
        switch=switch,
        orders=orders,
        events=EVENTS,
        shown=SHOWN,
    )


@router.post("/purchase-orders/{number:path}")
def preview_po(request: Request, user: Operator, form: Form, number: str) -> Response:
    """What a PO page action would do; a refusal goes back to the PO, said as the action
    would say it."""
    day = request.app.state.web_env.filters["day"]
    try:
        asked = _ask_po(request, number, form, day)
    except BopoError as exc:
        return redirect(po_url(number), say(exc), "error", request=request)
    return _show(
        request,
        asked,
        section="purchase-orders",
        crumbs=[("/purchase-orders", "Purchase orders"), (po_url(number), number)],
        back=po_url(number),
        still="The purchase order itself would still change.",
    )


@router.post("/goods-in")
def preview_receipt(request: Request, user: Operator, form: Form) -> Response:
    """What receiving on the goods-in page would do."""
    try:
        number = text(form, "po_number", max_length=64)
        line_no = whole(form, "line_no", high=100_000)
        fields = {"po_number": number, "line_no": str(line_no)}
        asked = _ask_receipt(request, number, line_no, whole(form, "qty"), "/goods-in", fields)
    except BopoError as exc:
        return redirect("/goods-in", say(exc), "error", request=request)
    return _show(
        request,
        asked,
        section="goods-in",
        crumbs=[("/goods-in", "Goods in")],
        back="/goods-in",
        still="The goods would still come in, to free stock.",
    )


@router.get("/switch-on")
def preview_switch_on(
    request: Request,
    user: Admin,
    policy: Annotated[str | None, Query(max_length=40)] = None,
    default_status: Annotated[str | None, Query(max_length=32)] = None,
    offset: Annotated[int, Query(ge=0, le=100_000_000)] = 0,
) -> HTMLResponse:
    """What switching allocation to existing POs on (with this policy and default status)
    would do over today's worklist, a page of its waiting orders at a time (in the order
    a retry serves them); the page applies it once confirmed."""
    ctx = context_of(request)
    current = ctx.backorders()
    chosen = policy if policy is not None and policy in POLICIES else current.policy
    status = current.default_po_line_status if default_status is None else default_status
    page = switch_on.switch_on_page(ctx, policy=chosen, default_status=status or "", offset=offset)
    asked = Asked(
        f"What if allocation to existing purchase orders were on, policy {chosen}, "
        f"default status {status or 'none'}?",
        page.answer,
        None,
    )
    return _show(
        request,
        asked,
        section="settings",
        crumbs=[("/settings", "Settings")],
        back="/settings",
        switch={"policy": chosen, "default_status": status or ""},
        orders=page,
    )
