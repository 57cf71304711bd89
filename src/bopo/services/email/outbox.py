"""The pending-email outbox: list, show, cancel, retry, and send now."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from datetime import datetime
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.message import Message
from io import BytesIO
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Connection, func, select, update

from bopo.db.audit import event
from bopo.db.models import EmailTemplate, PendingEmail, PendingEmailAssociation, SalesOrder
from bopo.db.queries import record_audit
from bopo.domain.addresses import BadAddress
from bopo.domain.statuses import EmailState, transition
from bopo.domain.templating import EmailEvent
from bopo.errors import Conflict, FieldError, InvalidInput, NotFound
from bopo.services.common.pages import Page, fetch_page_by_id
from bopo.services.context import Context
from bopo.services.email.mailer import SendSummary, Transport, send_emails
from bopo.services.worklist.associations import AssociationView, load_associations
from bopo.smtp import build_message

ToAddress = Annotated[str, Field(serialization_alias="to")]


@dataclass(frozen=True, slots=True)
class EmailSummary:
    id: int
    state: str
    to_address: ToAddress
    subject: str
    sales_order: Annotated[str | None, Field(description="source/number")]
    template: str | None
    event: Annotated[str, Field(description="What queued it: " + ", ".join(EmailEvent))]
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    next_attempt_at: Annotated[
        datetime | None, Field(description="Not sent before this (after a failure)")
    ]
    sales_order_id: int | None = None
    superseded_by: Annotated[
        int | None,
        Field(description="Superseded: the email that says what is true instead (none: nothing)"),
    ] = None
    superseded_reason: Annotated[
        str | None,
        Field(description="Superseded: which link or date it states changed before it was sent"),
    ] = None


@dataclass(frozen=True, slots=True)
class Header:
    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmailView(EmailSummary):
    """One email: the message as it goes out, and the links it announces."""

    to_name: str | None
    message_id: str
    body_text: str
    body_html: str | None
    association_ids: tuple[int, ...]
    claimed_by: Annotated[str | None, Field(description="The mailer sending it, while `sending`")]
    lease_until: datetime | None
    raw: Annotated[str, Field(exclude=True)]  # the message as the mailer sends it
    headers: Annotated[tuple[Header, ...], Field(description="As sent, encoded words decoded")] = ()
    associations: Annotated[
        tuple[AssociationView, ...], Field(description="The links it announces, as now")
    ] = ()


def _summaries() -> Any:
    return (
        select(
            PendingEmail.id,
            PendingEmail.state,
            PendingEmail.to_address,
            PendingEmail.subject,
            (SalesOrder.source + "/" + SalesOrder.number).label("sales_order"),
            EmailTemplate.name.label("template"),
            PendingEmail.event,
            PendingEmail.attempts,
            PendingEmail.last_error,
            PendingEmail.created_at,
            PendingEmail.sent_at,
            PendingEmail.next_attempt_at,
            PendingEmail.sales_order_id,
            PendingEmail.superseded_by_id.label("superseded_by"),
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
        return [EmailSummary(**r._mapping) for r in conn.execute(stmt)]


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
    after: int | None = None,
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
        return fetch_page_by_id(
            conn,
            stmt,
            _summaries(),
            EmailSummary,
            key=PendingEmail.id,
            limit=limit,
            offset=offset,
            after=after,
        )


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
    summary = row  # the summary columns, by name
    settings = ctx.settings.email
    headers: tuple[Header, ...]
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
        raw, headers = f"(cannot be sent: {exc})", (Header("To", summary.to_address),)
    else:
        raw, headers = _raw(message), _readable_headers(message)
    return EmailView(
        **row._mapping,
        **full._mapping,
        association_ids=tuple(associations),
        raw=raw,
        headers=headers,
        associations=tuple(load_associations(conn, associations)),
    )


def _raw(message: Message) -> str:
    """The message as sent, read as UTF-8 (an internationalised address shows as itself)."""
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, maxheaderlen=0).flatten(message)  # as as_string()
    return out.getvalue().decode("utf-8", "replace")


def _readable_headers(message: Message) -> tuple[Header, ...]:
    """The headers as a mail program shows them: encoded words decoded."""
    return tuple(Header(name, _decoded(value)) for name, value in message.items())


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
            .with_for_update(key_share=True)
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


@dataclass(kw_only=True)
class SendReport(SendSummary):
    """What the run did. An unreachable server is not an error: `stopped` says so and the
    emails stay pending with the error, to be tried again."""

    left: Annotated[
        int, Field(description="Of those asked for, still pending or being sent")
    ]  # pending (due later, or not reached) or being sent by a mailer


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
        return SendReport(**asdict(summary), left=conn.scalar(left) or 0)
