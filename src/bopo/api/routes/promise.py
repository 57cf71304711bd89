"""Keeping the promise: why a sales order's lines got what they got (explain), and what a
change would do before anyone makes it (what-if).

A what-if route has the shape of the action it previews, under /what-if, and needs
only the viewer role: it changes nothing, and answers 404, 409 or 422 where the
action would refuse.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from bopo.api.deps import CtxDep, Viewer
from bopo.api.errors import responses
from bopo.api.schemas_promise import ExplanationRead, WhatIfDueDate, WhatIfQty, WhatIfReceipt
from bopo.services.common.lookup import OrderKey, sales_order_key
from bopo.services.common.serial import to_json
from bopo.services.promise import explain, what_if
from bopo.services.promise.what_if import WhatIf

explain_router = APIRouter(
    prefix="/sales-orders", tags=["sales orders"], responses=responses(401, 403, 422)
)
what_if_router = APIRouter(prefix="/what-if", tags=["what-if"], responses=responses(401, 403))
REFUSED = responses(404, 409, 422)  # where the action itself would refuse

Number = Annotated[str, Path(min_length=1, max_length=64, description="The PO number")]
PoLineNo = Annotated[int, Path(ge=1, le=100_000, description="The PO line's number")]
LINE = "/purchase-orders/{number}/lines/{line_no}"


def _order(
    ctx: CtxDep,
    order_id: Annotated[int, Path(ge=1, le=2_147_483_647, description="The order's id")],
) -> OrderKey:
    return sales_order_key(ctx, order_id)


# Declared after the caller's role, so a request without a token never learns what exists.
Order = Annotated[OrderKey, Depends(_order)]


@explain_router.get("/{order_id}/explain", responses=responses(404))
def explain_sales_order(
    ctx: CtxDep,
    _: Viewer,
    order: Order,
    line_no: Annotated[
        int | None, Query(ge=1, le=100_000, description="Only this line; left out: every line")
    ] = None,
) -> ExplanationRead:
    """Why each line got what it got: every allocation decision, in words and in figures."""
    result = explain.explain_order(ctx, order.number, line_no, source=order.source)
    # A read model of its own: the API names a candidate's free quantity `free_on_order`,
    # the CLI's JSON (the result's own) `free`.
    return ExplanationRead.model_validate(to_json(result))


@what_if_router.post(f"{LINE}/due-date", responses=REFUSED)
def what_if_due_date(
    ctx: CtxDep, _: Viewer, number: Number, line_no: PoLineNo, body: WhatIfDueDate
) -> WhatIf:
    """If a PO line's due date moved: orders made late (or on time), notices that would go."""
    return what_if.what_if_due_date(ctx, number, line_no, body.due_date)


@what_if_router.post(f"{LINE}/qty", responses=REFUSED)
def what_if_po_line_qty(
    ctx: CtxDep, _: Viewer, number: Number, line_no: PoLineNo, body: WhatIfQty
) -> WhatIf:
    """If a PO line's ordered quantity changed: links released, re-linked or sent to wait."""
    return what_if.what_if_po_line_qty(ctx, number, line_no, body.qty)


@what_if_router.post(f"{LINE}/cancel", responses=REFUSED)
def what_if_cancel_po_line(ctx: CtxDep, _: Viewer, number: Number, line_no: PoLineNo) -> WhatIf:
    """If an undelivered PO line were cancelled: where its orders would go."""
    return what_if.what_if_cancel(ctx, number, line_no)


@what_if_router.post(f"{LINE}/close-short", responses=REFUSED)
def what_if_close_po_line_short(
    ctx: CtxDep, _: Viewer, number: Number, line_no: PoLineNo
) -> WhatIf:
    """If a part-delivered PO line were closed short: where its orders would go."""
    return what_if.what_if_close_short(ctx, number, line_no)


@what_if_router.post("/purchase-orders/{number}/cancel", responses=REFUSED)
def what_if_cancel_purchase_order(ctx: CtxDep, _: Viewer, number: Number) -> WhatIf:
    """If a whole PO were cancelled: where the orders linked to its lines would go."""
    return what_if.what_if_cancel(ctx, number)


@what_if_router.post(f"{LINE}/receipts", responses=REFUSED)
def what_if_receipt(
    ctx: CtxDep, _: Viewer, number: Number, line_no: PoLineNo, body: WhatIfReceipt
) -> WhatIf:
    """If goods were received on a PO line: which orders would get the stock."""
    return what_if.what_if_receipt(ctx, number, line_no, body.qty)


@what_if_router.post("/switch-on")
def what_if_switch_on(ctx: CtxDep, _: Viewer) -> WhatIf:
    """If allocation to existing POs were switched on: what today's worklist would be linked to."""
    return what_if.what_if_switch_on(ctx)
