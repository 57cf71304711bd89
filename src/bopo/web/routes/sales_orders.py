"""Sales orders: the list, one order with each line's outcome, a new order by form, and
cancelling, unlinking and shipping.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from bopo.domain.decisions import DecisionKind
from bopo.domain.statuses import Priority, SalesOrderStatus
from bopo.errors import FieldError, InvalidInput
from bopo.services.admin import audit
from bopo.services.common import sorting
from bopo.services.common.inputs import NewSalesOrder
from bopo.services.orders import customers, demand_changes, despatch, intake, sales
from bopo.services.orders.outcomes import OrderStatus
from bopo.services.promise import explain
from bopo.services.supply import catalog
from bopo.services.worklist import manual_links
from bopo.web import messages
from bopo.web.forms import act, field_errors, query_date, text, whole
from bopo.web.render import PAGE_SIZES, page_size, pager, redirect, render
from bopo.web.session import Form, Operator, Viewer, context_of, flash

router = APIRouter(prefix="/sales-orders", include_in_schema=False)
PAGE_SIZE = 50
FORM_LINES = 5  # empty line rows on a new form; "add a line" adds more
Text = Annotated[str | None, Query(max_length=64)]
STATUSES = [s.value for s in SalesOrderStatus]
PRIORITIES = [p.value for p in Priority]
GOODS_IN = {DecisionKind.GOODS_IN_LINKED, DecisionKind.GOODS_IN_WAITING}


def so_url(order_id: int | None) -> str:
    return f"/sales-orders/{order_id}"


@router.get("")
def list_page(
    request: Request,
    user: Viewer,
    number: Text = None,
    customer: Text = None,
    source: Annotated[str | None, Query(max_length=40)] = None,
    sku: Text = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    waiting: Annotated[str | None, Query(pattern="^(yes|no)?$")] = None,
    priority: Annotated[str | None, Query(max_length=16)] = None,
    delivery_from: Annotated[str | None, Query(max_length=10)] = None,
    delivery_to: Annotated[str | None, Query(max_length=10)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    size: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
    sort: Annotated[str | None, Query(max_length=20)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> HTMLResponse:
    page = sales.find_sales_orders(
        context_of(request),
        number=number or None,
        customer=customer or None,
        source=source or None,
        sku=sku or None,
        status=status if status in STATUSES else None,
        waiting={"yes": True, "no": False}.get(waiting or ""),
        priority=priority if priority in PRIORITIES else None,
        delivery_from=query_date(delivery_from),
        delivery_to=query_date(delivery_to),
        q=q or None,
        sort=sort,
        limit=page_size(size),
        offset=offset,
        after=after,
    )
    return render(
        request,
        "sales_orders.html",
        section="sales-orders",
        page=page,
        pager=pager(page),
        statuses=STATUSES,
        priorities=PRIORITIES,
        filters={
            "number": number or "",
            "customer": customer or "",
            "source": source or "",
            "sku": sku or "",
            "status": status or "",
            "waiting": waiting or "",
            "priority": priority if priority in PRIORITIES else "",
            "delivery_from": delivery_from or "",
            "delivery_to": delivery_to or "",
            "q": q or "",
        },
        sort=sorting.sort_key(sort, sales.SALES_ORDER_SORTS),
        sizes=PAGE_SIZES,
        so_url=so_url,
    )


def _blank(request: Request) -> dict[str, Any]:
    today = context_of(request).clock().date()
    return {
        "source": "manual",
        "number": "",
        "customer_code": "",
        "customer_name": "",
        "customer_email": "",
        "order_date": today.isoformat(),
        "delivery_date": (today + timedelta(days=3)).isoformat(),
        "priority": Priority.NORMAL.value,
        "lines": [{"sku": "", "qty": ""} for _ in range(FORM_LINES)],
    }


@router.get("/new")
def new_page(request: Request, user: Operator) -> HTMLResponse:
    return render(
        request,
        "sales_order_new.html",
        section="sales-orders",
        values=_blank(request),
        errors=[],
        priorities=PRIORITIES,
    )


def _values(form: FormData) -> dict[str, Any]:
    """The form as typed, to show again with the errors."""
    values: dict[str, Any] = {
        key: str(form.get(key) or "").strip()
        for key in (
            "source",
            "number",
            "customer_code",
            "customer_name",
            "customer_email",
            "order_date",
            "delivery_date",
            "priority",
        )
    }
    skus = [str(s).strip() for s in form.getlist("sku")][:1000]
    qtys = [str(q).strip() for q in form.getlist("qty")][:1000]
    values["lines"] = [{"sku": s, "qty": q} for s, q in zip(skus, qtys, strict=False)]
    return values


def _order(values: dict[str, Any]) -> NewSalesOrder:
    """The typed order: rows left empty are dropped, each problem named by field."""
    lines = [line for line in values["lines"] if line["sku"] or line["qty"]]
    raw = {
        "source": values["source"] or "manual",
        "number": values["number"],
        "customer": {
            "code": values["customer_code"],
            "name": values["customer_name"],
            "email": values["customer_email"],
        },
        "order_date": values["order_date"],
        "delivery_date": values["delivery_date"],
        "priority": values["priority"],
        "lines": [
            {"line_no": n, "sku": line["sku"], "qty": line["qty"]}
            for n, line in enumerate(lines, 1)
        ],
    }
    try:
        return NewSalesOrder.model_validate(raw)
    except ValidationError as exc:
        raise InvalidInput(field_errors(exc, "order")) from None


def _customer_changes(ctx: Any, order: NewSalesOrder) -> list[tuple[str, str, str]]:
    """What taking the order would change about its customer, stored already: (field,
    stored, typed)."""
    known = customers.customer_by_code(ctx, order.customer.code)
    if known is None:
        return []
    typed = order.customer
    return [
        (field, old, new)
        for field, old, new in (
            ("name", known.name, typed.name),
            ("email", known.email, typed.email),
        )
        if old != new
    ]


@router.post("/new")
def create(request: Request, user: Operator, form: Form) -> Response:
    ctx = context_of(request)
    values = _values(form)
    stored = catalog.skus_as_stored(ctx, [x["sku"] for x in values["lines"]])
    for line in values["lines"]:  # SKUs typed in any case, as stored
        line["sku"] = stored.get(line["sku"], line["sku"])
    try:
        order = _order(values)
    except InvalidInput as exc:
        return render(
            request,
            "sales_order_new.html",
            422,
            section="sales-orders",
            values=values,
            errors=exc.errors,
            priorities=PRIORITIES,
        )
    changes = _customer_changes(ctx, order)
    if changes and form.get("customer_ok") != "yes":  # ask before overwriting a customer
        return render(
            request,
            "sales_order_new.html",
            section="sales-orders",
            values=values,
            errors=[],
            priorities=PRIORITIES,
            customer_changes=changes,
        )
    result = intake.take_order(ctx, order, actor=user.actor)
    if result.status is OrderStatus.REJECTED:
        return render(
            request,
            "sales_order_new.html",
            422,
            section="sales-orders",
            values=values,
            errors=list(result.errors),
            priorities=PRIORITIES,
        )
    if result.status is OrderStatus.CHANGED:
        return redirect(
            so_url(result.id),
            f"{result.source}/{result.number} was taken before with other content; "
            "nothing changed: " + "; ".join(str(d) for d in result.differences),
            "warn",
            request=request,
        )
    if result.status is OrderStatus.DUPLICATE:
        return redirect(
            so_url(result.id),
            f"{result.source}/{result.number} was taken before; nothing changed.",
            "warn",
            request=request,
        )
    day = request.app.state.web_env.filters["day"]
    for warning in result.warnings:
        flash(request, "warn", warning[0].upper() + warning[1:] + ".")
    return redirect(so_url(result.id), messages.order_taken(result, day), request=request)


@router.get("/by-number")
def by_number(
    request: Request,
    user: Viewer,
    number: Annotated[str, Query(max_length=64)],
    source: Annotated[str | None, Query(max_length=40)] = None,
) -> RedirectResponse:
    """A link by business key (from a PO or a receipt) to the order's page."""
    view = sales.show_sales_order(context_of(request), number, source)
    return RedirectResponse(so_url(view.id), status_code=303)


# Up to this many lines, each line's "why" is shown open; a longer order shows them closed.
OPEN_WHY = 3


@router.get("/{order_id:int}")
def detail_page(
    request: Request,
    user: Viewer,
    order_id: int,
    history: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """The order, each line's outcome, why (every allocation decision made for it), and
    its history (the audit rows about it and its lines, newest first)."""
    ctx = context_of(request)
    view = sales.get_sales_order(ctx, order_id)
    why = explain.explain_order(ctx, view.number, source=view.source)
    return render(
        request,
        "sales_order.html",
        section="sales-orders",
        so=view,
        why={x.line.line_no: x for x in why.lines},
        open_why=len(view.lines) <= OPEN_WHY,
        goods_in=GOODS_IN,
        priorities=PRIORITIES,
        history=audit.history(ctx, "sales_order", view.id, offset=history),
    )


ACTIONS = ("cancel", "cancel-line", "unlink", "ship", "priority")


@router.post("/{order_id:int}")
def act_on(request: Request, user: Operator, form: Form, order_id: int) -> RedirectResponse:
    """Every change to an order posts here with an `action`; back to it with what it did."""
    ctx = context_of(request)
    day = request.app.state.web_env.filters["day"]
    action = str(form.get("action") or "")

    def run() -> str:
        if action not in ACTIONS:
            raise InvalidInput([FieldError("action", f"unknown action {action!r}")])
        so = sales.get_sales_order(ctx, order_id)
        number, source, actor = so.number, so.source, user.actor
        if action == "cancel":
            result = demand_changes.cancel_sales_order(ctx, number, source=source, actor=actor)
            return messages.demand_change(result, day)
        if action == "ship":
            return messages.shipment(despatch.ship(ctx, number, source=source, actor=actor))
        if action == "priority":
            wanted = text(form, "priority", max_length=16)
            changed = sales.set_order_priority(ctx, number, wanted, source=source, actor=actor)
            return messages.priority(changed)
        line_no = whole(form, "line_no", high=100_000)
        if action == "cancel-line":
            result = demand_changes.cancel_so_line(ctx, number, line_no, source=source, actor=actor)
            return messages.demand_change(result, day)
        unlinked = manual_links.unlink_line(ctx, number, line_no, source=source, actor=actor)
        return messages.unlink(unlinked, day)

    return act(request, so_url(order_id), run)
