"""A customer: their orders, lines waiting, the emails written to them, and correcting
their name or email address."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bopo.services.orders import customers, sales
from bopo.services.worklist import backorders
from bopo.web.forms import act, plural, text
from bopo.web.render import render
from bopo.web.session import Form, Operator, Viewer, context_of

router = APIRouter(prefix="/customers", include_in_schema=False)
SHOWN = 25


@router.get("/by-code/{code:path}")
def by_code(request: Request, user: Viewer, code: str) -> RedirectResponse:
    found = customers.customer_id(context_of(request), code)
    return RedirectResponse(f"/customers/{found}", status_code=303)


@router.get("/{customer_id:int}")
def detail_page(request: Request, user: Viewer, customer_id: int) -> HTMLResponse:
    ctx = context_of(request)
    customer = customers.get_customer(ctx, customer_id)
    return render(
        request,
        "customer.html",
        customer=customer,
        orders=sales.find_sales_orders(ctx, customer=customer.code, limit=SHOWN),
        waiting=backorders.find_backorders(ctx, customer=customer.code, limit=SHOWN),
        emails=customers.customer_emails(ctx, customer_id),
        back=f"/customers/{customer_id}",
    )


@router.post("/{customer_id:int}")
def update(request: Request, user: Operator, form: Form, customer_id: int) -> RedirectResponse:
    """Correct the customer's name or email address."""
    ctx = context_of(request)

    def run() -> str:
        change = customers.update_customer(
            ctx,
            customer_id,
            name=text(form, "name", required=False, max_length=customers.NAME_MAX),
            email=text(form, "email", required=False, max_length=320),
            actor=user.actor,
        )
        c = change.customer
        if not change.after:
            return f"Customer {c.code}: nothing changed."
        said = "; ".join(f"{k} {change.before[k]} → {v}" for k, v in change.after.items())
        message = f"Customer {c.code}: {said}."
        if change.readdressed:
            ids = ", ".join(str(i) for i in change.readdressed)
            message += (
                f" {plural(len(change.readdressed), 'unsent email')} now addressed to"
                f" {c.email} ({ids}); a failed one goes again when retried."
            )
        return message

    return act(request, f"/customers/{customer_id}", run)
