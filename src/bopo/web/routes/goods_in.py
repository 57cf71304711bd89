"""Goods in at the dock: what is expected, receiving on a PO line (asking first when it
is more than was outstanding), and the recent receipts with who got what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from bopo.errors import BopoError
from bopo.services.supply import deliveries, goods_in, receipt_reversal
from bopo.web import messages
from bopo.web.forms import act, say, text, whole
from bopo.web.render import render
from bopo.web.session import Form, Operator, Viewer, context_of, flash

router = APIRouter(prefix="/goods-in", include_in_schema=False)
SHOWN = 50


@router.get("")
def show(
    request: Request,
    user: Viewer,
    po: Annotated[str | None, Query(max_length=64)] = None,
    window: Annotated[str, Query(pattern="^(overdue|today|week|next)$")] = "next",
    supplier: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    return _page(request, po=po or "", window=window, supplier=supplier or "")


def _page(
    request: Request,
    *,
    po: str = "",
    window: str = "next",
    supplier: str = "",
    confirm: dict[str, object] | None = None,
) -> HTMLResponse:
    ctx = context_of(request)
    return render(
        request,
        "goods_in.html",
        section="goods-in",
        expected=deliveries.expected_deliveries(ctx, window=window, supplier=supplier or None),
        window=window,
        supplier=supplier,
        expected_limit=deliveries.LIMIT,
        receipts=goods_in.list_receipts(ctx, po_number=po or None, limit=SHOWN),
        po=po,
        shown=SHOWN,
        confirm=confirm,
    )


@router.post("", response_model=None)
def receive(request: Request, user: Operator, form: Form) -> Response:
    ctx = context_of(request)
    if form.get("over") != "yes":
        try:
            po, line_no, qty = _receipt_fields(form)
            outstanding = deliveries.outstanding_on(ctx, po, line_no)
        except BopoError as exc:
            flash(request, "error", say(exc))
            return RedirectResponse("/goods-in", status_code=303)
        if qty > outstanding:  # an over-delivery is taken only when the clerk says so
            confirm = {"po": po, "line_no": line_no, "qty": qty, "outstanding": outstanding}
            return _page(request, confirm=confirm)

    done: list[int] = []

    def run() -> str:
        po, line_no, qty = _receipt_fields(form)
        result = goods_in.receive(ctx, po, line_no, qty, actor=user.actor)
        done.append(result.id)
        return messages.receipt(result)

    # Then the receipt: who gets the goods, ready to print.
    return act(request, "/goods-in", run, then=lambda: f"/goods-in/receipts/{done[0]}")


@router.get("/receipts/{receipt_id}")
def receipt(request: Request, user: Viewer, receipt_id: int) -> HTMLResponse:
    slip = deliveries.receipt_slip(context_of(request), receipt_id)
    return render(request, "receipt.html", section="goods-in", s=slip)


@router.post("/receipts/{receipt_id}/reverse")
def reverse(request: Request, user: Operator, receipt_id: int) -> RedirectResponse:
    """Take a receipt booked in error back out; its orders are offered again."""

    def run() -> str:
        done = receipt_reversal.reverse_receipt(context_of(request), receipt_id, actor=user.actor)
        return messages.reversal(done)

    return act(request, f"/goods-in/receipts/{receipt_id}", run)


def _receipt_fields(form: FormData) -> tuple[str, int, int]:
    return (
        text(form, "po_number", max_length=64),
        whole(form, "line_no", high=100_000),
        whole(form, "qty"),
    )
