"""Goods in: receive on a PO line, and the recent receipts with who got what."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bopo.services import goods_in
from bopo.web import messages
from bopo.web.forms import act, text, whole
from bopo.web.render import render
from bopo.web.session import Form, Operator, Viewer, context_of

router = APIRouter(prefix="/goods-in", include_in_schema=False)
SHOWN = 50


@router.get("")
def show(
    request: Request,
    user: Viewer,
    po: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    receipts = goods_in.list_receipts(context_of(request), po_number=po or None, limit=SHOWN)
    return render(
        request,
        "goods_in.html",
        section="goods-in",
        receipts=receipts,
        po=po or "",
        shown=SHOWN,
    )


@router.post("")
def receive(request: Request, user: Operator, form: Form) -> RedirectResponse:
    ctx = context_of(request)

    def run() -> str:
        result = goods_in.receive(
            ctx,
            text(form, "po_number", max_length=64),
            whole(form, "line_no", high=100_000),
            whole(form, "qty"),
            actor=user.actor,
        )
        return messages.receipt(result)

    return act(request, "/goods-in", run)
