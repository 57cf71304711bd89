"""The pending-email outbox: list, show, cancel, retry, and send now."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from io import BytesIO
from typing import Any

from sqlalchemy import Connection, func, select, update

from bopo.db.audit import event
from bopo.db.models import EmailTemplate, PendingEmail, PendingEmailAssociation, SalesOrder
from bopo.db.queries import record_audit
from bopo.domain.addresses import BadAddress
from bopo.domain.statuses import EmailState, transition
from bopo.domain.templating import EmailEvent
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.associations import AssociationView, load_associations
from bopo.services.context import Context
from bopo.services.mailer import SendSummary, Transport, send_emails
from bopo.services.pages import Page, fetch_page
from bopo.smtp import build_message


@dataclass(frozen=True, slots=True)
class EmailSummary:
    id: int
    state: str
    to_address: str
    subject: str
    sales_order: str | None  # source/number
    template: str | None
    event: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: datetime | None
    sales_order_id: int | None = None
    superseded_by: int | None = None  # the email that says what is true instead
    superseded_reason: str | None = None  # why it was no longer true

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "to": self.to_address,
            "subject": self.subject,
            "sales_order": self.sales_order,
            "sales_order_id": self.sales_order_id,
            "template": self.template,
            "event": self.event,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "created_at": self.created_at.isoformat(),
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "superseded_by": self.superseded_by,
            "superseded_reason": self.superseded_reason,
        }


@dataclass(frozen=True, slots=True)
class EmailView:
    summary: EmailSummary
    to_name: str | None
    message_id: str
    body_text: str
    body_html: str | None
    association_ids: tuple[int, ...]
    claimed_by: str | None
    lease_until: datetime | None
    raw: str  # the message as the mailer sends it
    headers: tuple[tuple[str, str], ...] = ()  # the message's own, decoded for reading
    associations: tuple[AssociationView, ...] = ()  # what it announces, as they stand now

    def as_dict(self) -> dict[str, Any]:
        return self.summary.as_dict() | {
            "to_name": self.to_name,
            "message_id": self.message_id,
            "body_text": self.body_text,
            "body_html": self.body_html,
            "association_ids": list(self.association_ids),
            "claimed_by": self.claimed_by,
            "lease_until": self.lease_until.isoformat() if self.lease_until else None,
            "headers": [{"name": k, "value": v} for k, v in self.headers],
            "associations": [a.as_dict() for a in self.associations],
        }


def _summaries() -> Any:
    return (
        select(
            PendingEmail.id,
            PendingEmail.state,
            PendingEmail.to_address,
            PendingEmail.subject,
            SalesOrder.source + "/" + SalesOrder.number,
            EmailTemplate.name,
            PendingEmail.event,
            PendingEmail.attempts,
            PendingEmail.last_error,
            PendingEmail.created_at,
            PendingEmail.sent_at,
            PendingEmail.next_attempt_at,
            PendingEmail.sales_order_id,
            PendingEmail.superseded_by_id,
            PendingEmail.superseded_reason,
        )
        .outerjoin(SalesOrder, SalesOrder.id == PendingEmail.sales_order_id)
        .outerjoin(EmailTemplate, EmailTemplate.id == PendingEmail.template_id)
    )


def _state(value: str) -> EmailState:
    try:
        return EmailState(value)
    except ValueError:
        raise InvalidInput(
            [FieldError("state", f"unknown state {value!r}; use {', '.join(EmailState)}")]
        ) from None


def list_emails(
    ctx: Context, *, state: str | None = None, limit: int | None = 200
) -> list[EmailSummary]:
    """The outbox, oldest first (of a state, when given)."""
    stmt = _summaries().order_by(PendingEmail.id).limit(limit)
    if state is not None:
        stmt = stmt.where(PendingEmail.state == _state(state).value)
    with ctx.db.read() as conn:
        return [EmailSummary(*r) for r in conn.execute(stmt)]


def _event(value: str) -> EmailEvent:
    try:
        return EmailEvent(value)
    except ValueError:
        raise InvalidInput(
            [FieldError("event", f"unknown event {value!r}; use {', '.join(EmailEvent)}")]
        ) from None


def find_emails(
    ctx: Context,
    *,
    state: str | None = None,
    sales_order_id: int | None = None,
    event: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> Page[EmailSummary]:
    """One page of the outbox in the order the mailer sends it (oldest first), with the total.

    Every filter is on the outbox table alone: the page's ids are counted and sliced
    there (an index scan on state, id), and only the page's rows are joined to their
    orders and templates, however deep the page.
    """
    stmt = select(PendingEmail.id).order_by(PendingEmail.id)
    if state is not None:
        stmt = stmt.where(PendingEmail.state == _state(state).value)
    if sales_order_id is not None:
        stmt = stmt.where(PendingEmail.sales_order_id == sales_order_id)
    if event is not None:
        stmt = stmt.where(PendingEmail.event == _event(event).value)
    with ctx.db.read() as conn:
        ids = fetch_page(conn, stmt, int, limit=limit, offset=offset)
        found = {}
        if ids.items:
            for r in conn.execute(_summaries().where(PendingEmail.id.in_(ids.items))):
                found[r.id] = EmailSummary(*r)
    return Page([found[i] for i in ids.items], ids.total, ids.limit, ids.offset)


def count_emails(ctx: Context) -> dict[str, int]:
    """How many emails are in each state."""
    with ctx.db.read() as conn:
        rows = conn.execute(
            select(PendingEmail.state, func.count()).group_by(PendingEmail.state)
        ).all()
    return {s.value: 0 for s in EmailState} | {r[0]: r[1] for r in rows}


def show_email(ctx: Context, email_id: int) -> EmailView:
    with ctx.db.read() as conn:
        return _view(conn, ctx, email_id)


def _view(conn: Connection, ctx: Context, email_id: int) -> EmailView:
    row = conn.execute(_summaries().where(PendingEmail.id == email_id)).first()
    if row is None:
        raise NotFound("email", email_id)
    full = conn.execute(
        select(
            PendingEmail.to_name,
            PendingEmail.message_id,
            PendingEmail.body_text,
            PendingEmail.body_html,
            PendingEmail.claimed_by,
            PendingEmail.lease_until,
        ).where(PendingEmail.id == email_id)
    ).one()
    associations = conn.scalars(
        select(PendingEmailAssociation.association_id)
        .where(PendingEmailAssociation.email_id == email_id)
        .order_by(PendingEmailAssociation.association_id)
    ).all()
    summary = EmailSummary(*row)
    settings = ctx.settings.email
    headers: tuple[tuple[str, str], ...]
    try:
        message = build_message(
            from_address=settings.from_address,
            from_name=settings.company_name,
            to_address=summary.to_address,
            to_name=full.to_name,
            subject=summary.subject,
            body_text=full.body_text,
            body_html=full.body_html,
            message_id=full.message_id,
            date=summary.created_at,
        ).message
    except BadAddress as exc:  # stored before addresses were checked: it cannot go
        raw, headers = f"(cannot be sent: {exc})", (("To", summary.to_address),)
    else:
        raw, headers = _raw(message), _readable_headers(message)
    return EmailView(
        summary,
        full.to_name,
        full.message_id,
        full.body_text,
        full.body_html,
        tuple(associations),
        full.claimed_by,
        full.lease_until,
        raw,
        headers,
        tuple(load_associations(conn, associations)),
    )


def _raw(message: Message) -> str:
    """The message as sent, read as UTF-8 (an internationalised address shows as itself)."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0).flatten(message)  # as as_string()
    return out.getvalue().decode("utf-8", "replace")


def _readable_headers(message: Message) -> tuple[tuple[str, str], ...]:
    """The headers as a mail program shows them: encoded words decoded."""
    return tuple((name, _decoded(value)) for name, value in message.items())


def _decoded(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError):  # text that only looks encoded: shown as it is
        return value


def _change_state(ctx: Context, email_id: int, wanted: EmailState, actor: str) -> EmailView:
    now = ctx.clock()
    with ctx.db.write() as conn:
        row = conn.execute(
            select(
                PendingEmail.state,
                PendingEmail.attempts,
                PendingEmail.sales_order_id,
                PendingEmail.template_id,
                PendingEmail.superseded_by_id,
            )
            .where(PendingEmail.id == email_id)
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound("email", email_id)
        current = EmailState(row.state)
        if current is EmailState.SENDING:
            raise Conflict(f"email {email_id} is being sent by a mailer right now")
        if current is EmailState.SUPERSEDED:
            instead = (
                f"; email {row.superseded_by_id} says what is true" if row.superseded_by_id else ""
            )
            raise Conflict(f"email {email_id} was superseded{instead}")
        transition(current, wanted)
        if wanted is EmailState.PENDING and row.attempts == 0:
            raise Conflict(f"email {email_id} was never rendered; fix its template instead")
        if wanted is EmailState.PENDING:
            waiting = conn.scalar(
                select(PendingEmail.id).where(
                    PendingEmail.sales_order_id == row.sales_order_id,
                    PendingEmail.template_id == row.template_id,
                    PendingEmail.state == EmailState.PENDING.value,
                )
            )
            if waiting is not None:
                raise Conflict(
                    f"email {waiting} is waiting to be sent for the same order and template; "
                    "it says what is true now"
                )
        values: dict[str, Any] = {"state": wanted.value, "updated_at": now}
        if wanted is EmailState.PENDING:
            values |= {"attempts": 0, "next_attempt_at": None, "claimed_by": None}
        conn.execute(update(PendingEmail).where(PendingEmail.id == email_id).values(**values))
        record_audit(
            conn,
            [
                event(
                    now,
                    actor,
                    f"email.{'cancel' if wanted is EmailState.CANCELLED else 'retry'}",
                    "pending_email",
                    email_id,
                    {"state": current.value, "attempts": row.attempts},
                    {"state": wanted.value},
                )
            ],
        )
        return _view(conn, ctx, email_id)


def cancel_email(ctx: Context, email_id: int, *, actor: str) -> EmailView:
    """Cancel a pending (or failed) email: it will not be sent."""
    return _change_state(ctx, email_id, EmailState.CANCELLED, actor)


def retry_email(ctx: Context, email_id: int, *, actor: str) -> EmailView:
    """Put a failed email back in the queue with its attempts reset."""
    return _change_state(ctx, email_id, EmailState.PENDING, actor)


# --- sending now, for someone waiting on the answer ------------------------------------

_WAITING = (EmailState.PENDING.value, EmailState.SENDING.value)


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a send did, and how many of the emails asked for are still to go."""

    summary: SendSummary
    left: int  # pending (due later, or not reached) or being sent by a mailer

    def as_dict(self) -> dict[str, Any]:
        return self.summary.as_dict() | {"left": self.left}


def send_now(
    ctx: Context,
    *,
    ids: Collection[int] | None = None,
    limit: int | None = None,
    transport: Transport | None = None,
) -> SendReport:
    """Run the mailer once over the due emails (or just `ids`, due or not), then count
    what is left. An unknown id is refused before anything is sent; an id that is not
    pending (sent, cancelled, failed) is left alone.

    A server that cannot be reached is not an error here: the summary says so
    (`stopped`) and the emails stay pending with their last error, as with the
    batch mailer.
    """
    wanted = sorted(set(ids)) if ids is not None else None
    if wanted is not None:
        with ctx.db.read() as conn:
            known = set(conn.scalars(select(PendingEmail.id).where(PendingEmail.id.in_(wanted))))
        missing = [i for i in wanted if i not in known]
        if missing:
            raise NotFound("email", missing[0])
    summary = send_emails(ctx, ids=wanted, limit=limit, transport=transport)
    left = select(func.count()).select_from(PendingEmail).where(PendingEmail.state.in_(_WAITING))
    if wanted is not None:
        left = left.where(PendingEmail.id.in_(wanted))
    with ctx.db.read() as conn:
        return SendReport(summary, conn.scalar(left) or 0)
