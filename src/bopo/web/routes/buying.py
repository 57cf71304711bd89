"""Buying: the items running short, a new purchase order by form ("order this" fills it
in), and a line added to a PO. Registered before the PO pages, so /purchase-orders/new
is this form and not a PO called "new"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from bopo.errors import BopoError, FieldError, InvalidInput
from bopo.services.common.inputs import NewPurchaseOrder
from bopo.services.supply import buying, catalog
from bopo.services.worklist.backorders import RetrySummary
from bopo.web.forms import field_errors, say, whole
from bopo.web.render import redirect, render
from bopo.web.routes.purchase_orders import po_url
from bopo.web.session import Form, Operator, Viewer, context_of

router = APIRouter(include_in_schema=False)
FORM_LINES = 5  # empty line rows on a new form; "add a line" adds more
HEAD = ("number", "supplier_code", "supplier_name", "order_date")


@router.get("/short-items")
def short_items(request: Request, user: Viewer) -> HTMLResponse:
    items = buying.short_items(context_of(request))
    return render(request, "short_items.html", section="purchase-orders", items=items)


@router.get("/purchase-orders/new")
def new_page(
    request: Request,
    user: Operator,
    sku: Annotated[str | None, Query(max_length=64)] = None,
    qty: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> HTMLResponse:
    """The form, with one line filled in when it comes from "order this"."""
    lines = [{"sku": "", "qty": "", "due_date": "", "status": ""} for _ in range(FORM_LINES)]
    if sku:
        lines[0] |= {"sku": sku, "qty": str(qty or "")}
    values = dict.fromkeys(HEAD, "") | {"lines": lines}
    return _form(request, values, [])


@router.post("/purchase-orders/new", response_model=None)
def create(request: Request, user: Operator, form: Form) -> Response:
    values = _stored_skus(request, _values(form))
    try:
        order = _order(values)
        created, retried = buying.create_purchase_order(
            context_of(request), order, actor=user.actor
        )
    except InvalidInput as exc:
        return _form(request, values, exc.errors, 422)
    except BopoError as exc:
        return _form(request, values, [FieldError("purchase order", say(exc))], 409)
    said = _created(order, len(created.lines), retried)
    return redirect(po_url(order.number), said, request=request)


@router.post("/purchase-orders/{number}/lines", response_model=None)
def add_line(request: Request, user: Operator, number: str, form: Form) -> Response:
    """One more line on a PO, numbered after its last; its item's waiting lines are
    offered to it at once."""
    ctx = context_of(request)
    try:
        line = {k: str(form.get(k) or "").strip() for k in ("sku", "qty", "due_date", "status")}
        line["sku"] = catalog.skus_as_stored(ctx, [line["sku"]]).get(line["sku"], "")
        order = _order(
            {
                "number": number,
                "supplier_code": str(form.get("supplier_code") or ""),
                "supplier_name": "",
                "order_date": "",
                "lines": [line],
            },
            first_line=whole(form, "line_no", high=100_000),
        )
        created, retried = buying.add_lines(ctx, order, actor=user.actor)
    except BopoError as exc:
        return redirect(po_url(number), say(exc), "error", request=request)
    said = _created(order, created.lines_created, retried)
    return redirect(po_url(number), said, request=request)


def _form(
    request: Request, values: dict[str, Any], errors: list[FieldError], status: int = 200
) -> HTMLResponse:
    statuses = [s for s in catalog.list_statuses(context_of(request)) if s.retired_at is None]
    return render(
        request,
        "purchase_order_new.html",
        status,
        section="purchase-orders",
        values=values,
        errors=errors,
        statuses=statuses,
    )


def _stored_skus(request: Request, values: dict[str, Any]) -> dict[str, Any]:
    """SKUs typed in any case, as stored: `pan-28` is PAN-28."""
    stored = catalog.skus_as_stored(context_of(request), [x["sku"] for x in values["lines"]])
    for line in values["lines"]:
        line["sku"] = stored.get(line["sku"], line["sku"])
    return values


def _values(form: FormData) -> dict[str, Any]:
    """The form as typed, to show again with the errors."""
    values: dict[str, Any] = {key: str(form.get(key) or "").strip() for key in HEAD}
    columns = [[str(v).strip() for v in form.getlist(k)][:1000] for k in _LINE]
    values["lines"] = [dict(zip(_LINE, row, strict=True)) for row in zip(*columns, strict=False)]
    return values


_LINE = ("sku", "qty", "due_date", "status")


def _order(values: dict[str, Any], *, first_line: int = 1) -> NewPurchaseOrder:
    """The typed PO: rows left empty are dropped, each problem named by field."""
    lines = [line for line in values["lines"] if line["sku"] or line["qty"]]
    raw = {
        "number": values["number"],
        "supplier_code": values["supplier_code"],
        "supplier_name": values["supplier_name"] or None,
        "order_date": values["order_date"] or None,
        "lines": [
            {
                "line_no": n,
                "sku": line["sku"],
                "qty": line["qty"],
                "due_date": line["due_date"] or None,
                "status": line["status"] or None,
            }
            for n, line in enumerate(lines, first_line)
        ],
    }
    try:
        return NewPurchaseOrder.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc, "purchase order")) from None


def _created(order: NewPurchaseOrder, lines: int, retried: RetrySummary) -> str:
    text = f"{order.number}: {lines} line{'' if lines == 1 else 's'} added"
    if retried.linked or retried.from_stock:
        text += (
            f"; {retried.linked} waiting line{'' if retried.linked == 1 else 's'} linked to it"
            + (f", {retried.from_stock} took free stock" if retried.from_stock else "")
        )
    return text + "."
