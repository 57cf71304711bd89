"""One customer: who they are, the emails written to them, and correcting their name or
address.

A corrected address also readdresses the customer's emails that have not gone yet
(pending or failed), in the same transaction: an email that failed because of a
mistyped address is sent to the right one when it is retried. Emails a mailer is
sending at that moment keep the address they were claimed with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bopo.db.audit import event
from bopo.db.models import Customer, PendingEmail, SalesOrder
from bopo.db.queries import record_audit
from bopo.domain.addresses import BadAddress, parse_address
from bopo.domain.statuses import EmailState
from bopo.errors import FieldError, InvalidInput, NotFound
from bopo.services.common.parties import CustomerView, customer_rows
from bopo.services.context import Context

NAME_MAX = 200
EMAILS_SHOWN = 50
# Emails still to go: a new address takes them with it.
UNSENT = (EmailState.PENDING.value, EmailState.FAILED.value)


@dataclass(frozen=True, slots=True)
class CustomerEmail:
    id: int
    state: str
    to_address: str
    subject: str
    sales_order_id: int | None
    sales_order: str  # source/number
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class CustomerChange:
    customer: CustomerView
    before: dict[str, str]
    after: dict[str, str]  # only what changed; empty when nothing did
    readdressed: list[int]  # unsent emails now going to the new address


def get_customer(ctx: Context, customer_id: int) -> CustomerView:
    with ctx.db.read() as conn:
        row = conn.execute(customer_rows().where(Customer.id == customer_id)).one_or_none()
    if row is None:
        raise NotFound("customer", customer_id)
    return CustomerView(**row._mapping)


def customer_emails(
    ctx: Context, customer_id: int, *, limit: int = EMAILS_SHOWN
) -> list[CustomerEmail]:
    """The emails written about the customer's orders, newest first."""
    stmt = (
        select(
            PendingEmail.id,
            PendingEmail.state,
            PendingEmail.to_address,
            PendingEmail.subject,
            PendingEmail.sales_order_id,
            SalesOrder.source + "/" + SalesOrder.number,
            PendingEmail.attempts,
            PendingEmail.last_error,
            PendingEmail.created_at,
            PendingEmail.sent_at,
        )
        .join(SalesOrder, SalesOrder.id == PendingEmail.sales_order_id)
        .where(SalesOrder.customer_id == customer_id)
        .order_by(PendingEmail.id.desc())
        .limit(limit)
    )
    with ctx.db.read() as conn:
        return [
            CustomerEmail(
                id=r.id,
                state=r.state,
                to_address=r.to_address,
                subject=r.subject,
                sales_order_id=r.sales_order_id,
                sales_order=r[5],
                attempts=r.attempts,
                last_error=r.last_error,
                created_at=r.created_at,
                sent_at=r.sent_at,
            )
            for r in conn.execute(stmt)
        ]


def _checked(name: str, email: str) -> tuple[str, str]:
    errors = []
    name = name.strip()
    if not name:
        errors.append(FieldError("name", "is required"))
    elif len(name) > NAME_MAX:
        errors.append(FieldError("name", f"must be at most {NAME_MAX} characters"))
    try:
        email = parse_address(email.strip()).normalized
    except BadAddress as exc:
        errors.append(FieldError("email", str(exc)))
    if errors:
        raise InvalidInput(errors)
    return name, email


def update_customer(
    ctx: Context, customer_id: int, *, name: str, email: str, actor: str
) -> CustomerChange:
    """Correct a customer's name or email address; their unsent emails follow the
    address. Audited as `customer.update` (before and after) and `email.readdress`
    for each email that now goes elsewhere."""
    name, email = _checked(name, email)
    now = ctx.clock()
    with ctx.db.write() as conn:
        row = conn.execute(
            select(Customer.name, Customer.email)
            .where(Customer.id == customer_id)
            .with_for_update(key_share=True)
        ).one_or_none()
        if row is None:
            raise NotFound("customer", customer_id)
        old = {"name": row.name, "email": row.email}
        new = {"name": name, "email": email}
        before = {k: v for k, v in old.items() if new[k] != v}
        after = {k: new[k] for k in before}
        readdressed: list[int] = []
        if after:
            conn.execute(update(Customer).where(Customer.id == customer_id).values(**after))
            events = [event(now, actor, "customer.update", "customer", customer_id, before, after)]
            if "email" in after:
                readdressed = list(
                    conn.scalars(
                        update(PendingEmail)
                        .where(
                            PendingEmail.sales_order_id.in_(
                                select(SalesOrder.id).where(SalesOrder.customer_id == customer_id)
                            ),
                            PendingEmail.state.in_(UNSENT),
                            PendingEmail.to_address == old["email"],
                        )
                        .values(to_address=email, to_name=name, updated_at=now)
                        .returning(PendingEmail.id)
                    )
                )
                events += [
                    event(
                        now,
                        actor,
                        "email.readdress",
                        "pending_email",
                        email_id,
                        {"to": old["email"]},
                        {"to": email},
                    )
                    for email_id in sorted(readdressed)
                ]
            record_audit(conn, events)
        detail = CustomerView(
            **conn.execute(customer_rows().where(Customer.id == customer_id)).one()._mapping
        )
    return CustomerChange(detail, before, after, sorted(readdressed))


def customer_id(ctx: Context, code: str) -> int:
    """The id of the customer with this code."""
    with ctx.db.read() as conn:
        found = conn.scalar(select(Customer.id).where(Customer.code == code))
    if found is None:
        raise NotFound("customer", code)
    return found


def customer_by_code(ctx: Context, code: str) -> CustomerView | None:
    """The stored customer with this code, if any: what a new order would update."""
    with ctx.db.read() as conn:
        row = conn.execute(customer_rows().where(Customer.code == code)).one_or_none()
    return None if row is None else CustomerView(*row)
