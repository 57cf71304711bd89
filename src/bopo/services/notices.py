"""Due-date notices: telling customers when a PO line they wait for moves.

When a PO line's due date moves later by at least `[backorders]
notify_delay_days`, each sales order with an active link on it gets a
BACK_ORDER_UPDATE email listing its lines with the date it was given before
and the new one; a move earlier by as much sends a BACK_ORDER_EARLIER email,
if a template of that type exists. Moves from or to "no date" send nothing.

At most one notice per sales order goes out per `notify_min_interval_hours`.
A notice not sent yet takes in later moves (the one email is rendered again);
a new notice within the interval of the last one is held back
(`next_attempt_at`) until the interval ends, and takes in what moves meanwhile.
A line whose date comes back to what the customer was told drops out of an
unsent notice, and a notice left with no line is cancelled.

`plan_notices` decides (it only reads, so a what-if can ask it too);
`write_notices` renders and writes the plan, after the new due dates are written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from pydantic import Field, PlainSerializer
from sqlalchemy import Connection, delete, select, text, update

from bopo.db.bulk import Writes, one_of
from bopo.db.models import (
    Association,
    Customer,
    PendingEmail,
    PendingEmailAssociation,
    PoLine,
    SalesOrder,
)
from bopo.db.queries import record_audit
from bopo.domain.templating import EmailEvent, TemplateType
from bopo.errors import InvalidInput
from bopo.services.backorder_emails import (
    TemplateRef,
    announced,
    compiled_templates,
    email_context,
    message_id,
    stated,
)
from bopo.services.context import Context
from bopo.services.linking import event

LATER = TemplateType.BACK_ORDER_UPDATE
EARLIER = TemplateType.BACK_ORDER_EARLIER

_TEMPLATES = text(
    "SELECT id, type, updated_at, name FROM email_templates "
    "WHERE type IN (:later, :earlier) ORDER BY id"
).bindparams(later=LATER.value, earlier=EARLIER.value)


def notice_templates(conn: Connection) -> dict[TemplateType, TemplateRef]:
    """The template of each notice type (the oldest, if there are several)."""
    out: dict[TemplateType, TemplateRef] = {}
    for r in conn.execute(_TEMPLATES):
        out.setdefault(TemplateType(r[1]), TemplateRef(r[0], r[2], r[3]))
    return out


@dataclass(frozen=True, slots=True)
class Moved:
    """An active link whose PO line's due date moves."""

    association_id: int
    sales_order_id: int
    before: date | None
    after: date | None


def _name(template: TemplateRef | None) -> str | None:
    return template.name if template else None


@dataclass(frozen=True, slots=True)
class NoticePlan:
    """One notice email to queue, to take in more lines, or to cancel."""

    sales_order_id: Annotated[int, Field(exclude=True)]
    source: str
    number: str
    to: str
    action: str  # "new", "merged" (into an unsent notice) or "cancelled"
    template: Annotated[TemplateRef | None, PlainSerializer(_name, return_type=str | None)]
    kind: Annotated[TemplateType | None, Field(serialization_alias="type")]
    email_id: int | None  # the unsent notice merged into or cancelled
    send_after: datetime | None  # held back until then by the throttle
    # (association id, date told before); the JSON counts them
    lines: Annotated[tuple[tuple[int, date | None], ...], PlainSerializer(len, return_type=int)]


def _direction(before: date | None, after: date | None, delay: int) -> TemplateType | None:
    if before is None or after is None:
        return None
    days = (after - before).days
    if days >= delay:
        return LATER
    if -days >= delay:
        return EARLIER
    return None


@dataclass
class _Notice:
    id: int
    state: str
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None

    @property
    def goes_out(self) -> datetime:
        """When it went, or will go, to the customer."""
        if self.sent_at is not None:
            return self.sent_at
        return self.next_attempt_at or self.created_at


def plan_notices(
    conn: Connection, ctx: Context, moved: Sequence[Moved], *, now: datetime, lock: bool = True
) -> list[NoticePlan]:
    """The notices these moves call for, in sales-order order.

    With `lock`, the unsent notices that may take in the moves are locked (after
    the associations, as everywhere), so a mailer cannot claim one meanwhile.
    """
    if not moved:
        return []
    templates = notice_templates(conn)
    if not templates:
        return []
    cfg = ctx.settings.backorders
    delay = cfg.notify_delay_days
    interval = timedelta(hours=cfg.notify_min_interval_hours)

    by_order: dict[int, list[Moved]] = defaultdict(list)
    for m in moved:
        by_order[m.sales_order_id].append(m)
    orders = sorted(by_order)
    if lock:
        # One change at a time plans an order's notices: two PO lines of one order
        # moving at once must not both find no notice and each queue one. (Locked
        # after the associations; writers that lock sales orders hold their stock
        # items first, as this one does.)
        conn.execute(
            select(SalesOrder.id)
            .where(one_of(conn, SalesOrder.id, orders))
            .order_by(SalesOrder.id)
            .with_for_update()
        ).all()
    notices: dict[int, list[_Notice]] = defaultdict(list)
    for r in conn.execute(
        select(
            PendingEmail.sales_order_id,
            PendingEmail.id,
            PendingEmail.state,
            PendingEmail.created_at,
            PendingEmail.next_attempt_at,
            PendingEmail.sent_at,
        )
        .where(
            one_of(conn, PendingEmail.sales_order_id, orders),
            PendingEmail.event == EmailEvent.DUE_DATE.value,
            PendingEmail.state.not_in(("cancelled", "failed")),
        )
        .order_by(PendingEmail.id)
    ):
        notice = dict(r._mapping)
        order_id = notice.pop("sales_order_id")
        if order_id is not None:  # never null: the query selects by sales order
            notices[order_id].append(_Notice(**notice))
    unsent = _unsent(
        conn, [n.id for ns in notices.values() for n in ns if n.state == "pending"], lock
    )
    told: dict[int, dict[int, date | None]] = defaultdict(dict)  # email -> association -> date
    if unsent:
        for email_id, assoc_id, previous in conn.execute(
            select(
                PendingEmailAssociation.email_id,
                PendingEmailAssociation.association_id,
                PendingEmailAssociation.previous_due,
            ).where(one_of(conn, PendingEmailAssociation.email_id, sorted(unsent)))
        ):
            told[email_id][assoc_id] = previous
    moved_to = {m.association_id: m.after for m in moved}
    current = _current_dates(
        conn, {a for lines in told.values() for a in lines if a not in moved_to}
    )
    current.update(moved_to)

    plans: list[tuple[int, str, TemplateType | None, int | None, datetime | None, Any]] = []
    for order_id in orders:
        moves = by_order[order_id]
        fresh = [m for m in moves if _direction(m.before, m.after, delay) in templates]
        pending = [n for n in notices[order_id] if n.id in unsent]
        into = pending[-1] if pending else None
        if into is not None and (fresh or any(m.association_id in told[into.id] for m in moves)):
            lines = dict(told[into.id])
            for m in fresh:
                lines.setdefault(m.association_id, m.before)
            kinds = {
                a: _direction(previous, current[a], delay)
                for a, previous in lines.items()
                if a in current
            }
            keep = tuple(sorted((a, lines[a]) for a, k in kinds.items() if k in templates))
            kind = _kind(k for k in kinds.values() if k in templates)
            if not keep:
                plans.append((order_id, "cancelled", None, into.id, into.next_attempt_at, ()))
            else:
                plans.append((order_id, "merged", kind, into.id, into.next_attempt_at, keep))
        elif fresh:
            last = max((n.goes_out for n in notices[order_id]), default=None)
            hold = last + interval if last is not None and last + interval > now else None
            kind = _kind(_direction(m.before, m.after, delay) for m in fresh)
            keep = tuple(sorted((m.association_id, m.before) for m in fresh))
            plans.append((order_id, "new", kind, None, hold, keep))
    if not plans:
        return []
    heads = {
        r.id: r
        for r in conn.execute(
            select(SalesOrder.id, SalesOrder.source, SalesOrder.number, Customer.email)
            .join(Customer, Customer.id == SalesOrder.customer_id)
            .where(one_of(conn, SalesOrder.id, [p[0] for p in plans]))
        )
    }
    return [
        NoticePlan(
            order_id,
            heads[order_id].source,
            heads[order_id].number,
            heads[order_id].email,
            action,
            templates[kind] if kind else None,
            kind,
            email_id,
            hold,
            lines,
        )
        for order_id, action, kind, email_id, hold, lines in plans
    ]


def _kind(kinds: Iterable[TemplateType | None]) -> TemplateType:
    """A later date anywhere makes it an update; only earlier dates, the good news."""
    return EARLIER if all(k is EARLIER for k in kinds) else LATER


def _unsent(conn: Connection, ids: list[int], lock: bool) -> set[int]:
    """The notices still pending; locked, so no mailer claims them while we change them."""
    if not ids:
        return set()
    stmt = (
        select(PendingEmail.id)
        .where(one_of(conn, PendingEmail.id, ids), PendingEmail.state == "pending")
        .order_by(PendingEmail.id)
    )
    return set(conn.scalars(stmt.with_for_update() if lock else stmt))


def _current_dates(conn: Connection, association_ids: set[int]) -> dict[int, date | None]:
    """Active associations' due dates now; ended ones are left out."""
    if not association_ids:
        return {}
    return {
        r.id: r.due_date
        for r in conn.execute(
            select(Association.id, PoLine.due_date)
            .join(PoLine, PoLine.id == Association.po_line_id)
            .where(
                one_of(conn, Association.id, sorted(association_ids)),
                Association.state == "active",
            )
        )
    }


def write_notices(
    conn: Connection, ctx: Context, plans: Sequence[NoticePlan], *, now: datetime, actor: str
) -> list[int]:
    """Render and write the planned notices; returns the ids of the emails written."""
    if not plans:
        return []
    rows = {
        r.association_id: r for r in announced(conn, {a for p in plans for a, _ in p.lines}, None)
    }
    templates = compiled_templates(conn, ctx, {p.template for p in plans if p.template})
    writes = Writes(conn)
    fresh = [p for p in plans if p.action == "new"]
    ids = iter(writes.reserve_ids({PendingEmail: len(fresh)})[PendingEmail])
    inserts: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    written: list[int] = []
    for plan in plans:
        if plan.action == "cancelled":
            assert plan.email_id is not None
            writes.execute(
                update(PendingEmail)
                .where(PendingEmail.id == plan.email_id)
                .values(state="cancelled", updated_at=now)
            )
            audit.append(
                event(
                    now,
                    actor,
                    "email.cancel",
                    "pending_email",
                    plan.email_id,
                    {"state": "pending"},
                    {"state": "cancelled", "reason": "every date is back to what was told"},
                )
            )
            written.append(plan.email_id)
            continue
        assert plan.template is not None
        group = sorted(
            (rows[a] for a, _ in plan.lines if a in rows),
            key=lambda r: (r.line_no, r.association_id),
        )
        content = _render(ctx, plan, group, templates, now)
        email_id = plan.email_id if plan.action == "merged" else next(ids)
        assert email_id is not None
        if plan.action == "merged":
            writes.execute(
                update(PendingEmail).where(PendingEmail.id == email_id).values(**content)
            )
            writes.execute(
                delete(PendingEmailAssociation).where(PendingEmailAssociation.email_id == email_id)
            )
        else:
            head = group[0]
            inserts.append(
                content
                | {
                    "id": email_id,
                    "sales_order_id": plan.sales_order_id,
                    "event": EmailEvent.DUE_DATE.value,
                    "to_address": head.email,
                    "to_name": head.customer_name,
                    "message_id": message_id(ctx.settings.email.from_address),
                    "attempts": 0,
                    "created_at": now,
                    "next_attempt_at": plan.send_after,
                }
            )
        links.extend(
            stated(email_id, r, now.date(), previous)
            for r in group
            for a, previous in plan.lines
            if a == r.association_id
        )
        written.append(email_id)
    writes.insert(PendingEmail, inserts)
    writes.insert(PendingEmailAssociation, links)
    writes.flush()
    record_audit(conn, audit)
    return written


def _render(
    ctx: Context,
    plan: NoticePlan,
    group: Sequence[Any],
    templates: dict[int, Any],
    now: datetime,
) -> dict[str, Any]:
    """The email's template and text (or, when it does not render, why not)."""
    assert plan.template is not None
    previous = dict(plan.lines)
    out: dict[str, Any] = {"template_id": plan.template.id, "updated_at": now}
    try:
        rendered = templates[plan.template.id].render(
            email_context(ctx, group, EmailEvent.DUE_DATE.value, previous, today=now.date()),
            ctx.settings.email.render_limits,
        )
    except InvalidInput as exc:
        name = plan.template.name
        return out | {
            "subject": f"(not rendered: template {name})",
            "body_text": "",
            "body_html": None,
            "state": "failed",
            "last_error": f"template {name!r} did not render: {exc}",
        }
    return out | {
        "subject": rendered.subject,
        "body_text": rendered.body_text,
        "body_html": rendered.body_html,
        "state": "pending",
        "last_error": None,
    }
