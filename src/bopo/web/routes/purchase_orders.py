"""Purchase orders: the list with filters, one PO with its lines, and what can be done to them."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bopo.errors import FieldError, InvalidInput
from bopo.services.admin import audit
from bopo.services.common import sorting
from bopo.services.supply import catalog, changes, goods_in, po_line_update, purchasing
from bopo.web import messages
from bopo.web.forms import act, optional_date, query_date, text, whole
from bopo.web.render import PAGE_SIZES, page_size, pager, render
from bopo.web.session import Form, Operator, Viewer, context_of

router = APIRouter(prefix="/purchase-orders", include_in_schema=False)
PAGE_SIZE = 50
Text = Annotated[str | None, Query(max_length=64)]


def po_url(number: str) -> str:
    return "/purchase-orders/" + quote(number, safe="")


@router.get("")
def list_page(
    request: Request,
    user: Viewer,
    number: Text = None,
    supplier: Text = None,
    sku: Text = None,
    status: Text = None,
    state: Annotated[str | None, Query(pattern="^(open|delivered)?$")] = None,
    due_before: Annotated[str | None, Query(max_length=10)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
    sort: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    ctx = context_of(request)
    page = purchasing.find_purchase_orders(
        ctx,
        number=number or None,
        supplier=supplier or None,
        sku=sku or None,
        status=status or None,
        open_only={"open": True, "delivered": False}.get(state or ""),
        due_before=query_date(due_before),
        q=q or None,
        sort=sort,
        limit=page_size(size),
        offset=offset,
    )
    return render(
        request,
        "purchase_orders.html",
        section="purchase-orders",
        page=page,
        pager=pager(page),
        statuses=catalog.list_statuses(ctx),
        filters={
            "number": number or "",
            "supplier": supplier or "",
            "sku": sku or "",
            "status": status or "",
            "state": state or "",
            "due_before": due_before or "",
            "q": q or "",
        },
        sort=sorting.sort_key(sort, dict.fromkeys(purchasing.PURCHASE_ORDER_SORTS)),
        sizes=PAGE_SIZES,
        po_url=po_url,
    )


@router.get("/{number:path}")
def detail_page(
    request: Request,
    user: Viewer,
    number: str,
    history: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    ctx = context_of(request)
    po = purchasing.show_purchase_order(ctx, number)
    receipts = goods_in.list_receipts(ctx, po_number=number, limit=20)
    return render(
        request,
        "purchase_order.html",
        section="purchase-orders",
        po=po,
        receipts=receipts,
        statuses=catalog.list_statuses(ctx),
        po_url=po_url,
        preview_url="/what-if" + po_url(number),
        history=audit.history(ctx, "purchase_order", po.id, offset=history),
    )


ACTIONS = ("receive", "qty", "due", "status", "cancel-line", "close-short", "cancel-po")


@router.post("/{number:path}")
def act_on(request: Request, user: Operator, form: Form, number: str) -> RedirectResponse:
    """Every change to a PO posts here with an `action`; back to the PO with what it did."""
    ctx = context_of(request)
    day = request.app.state.web_env.filters["day"]
    action = text(form, "action", max_length=20) if form.get("action") else ""

    def run() -> str:
        if action not in ACTIONS:
            raise InvalidInput([FieldError("action", f"unknown action {action!r}")])
        if action == "cancel-po":
            return messages.supply_change(
                changes.cancel_purchase_order(ctx, number, actor=user.actor), day
            )
        line_no = whole(form, "line_no", high=100_000)
        if action == "receive":
            qty = whole(form, "qty")
            return messages.receipt(goods_in.receive(ctx, number, line_no, qty, actor=user.actor))
        if action == "status":
            code = text(form, "status", max_length=40).upper()
            sends = {s.code: s.template for s in catalog.list_statuses(ctx)}.get(code)
            changed = po_line_update.update_po_line(
                ctx, number, line_no, status=code, actor=user.actor
            )
            return messages.status_set(changed, sends)
        if action == "qty":
            qty = whole(form, "qty")
            result = changes.change_po_line_qty(ctx, number, line_no, qty, actor=user.actor)
        elif action == "due":
            due = optional_date(form, "due_date")
            result = changes.change_due_date(ctx, number, line_no, due, actor=user.actor)
        elif action == "cancel-line":
            result = changes.cancel_po_line(ctx, number, line_no, actor=user.actor)
        else:
            result = changes.close_po_line_short(ctx, number, line_no, actor=user.actor)
        return messages.supply_change(result, day)

    return act(request, po_url(number), run)
