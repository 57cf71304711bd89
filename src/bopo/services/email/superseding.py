"""Keeping unsent emails true: superseding what a change made untrue.

A pending back-order email states links (each one's quantity, expected date,
and whether that date was past) under its template. `pending_email_associations`
records what it states. While every stated link is still active with that
quantity, its PO line still due that date (and overdue or not as stated), still
under a status whose template is the email's, and its order still open, the
email is true. Otherwise it is *superseded*: it leaves the queue (state
`superseded`, with why), and one fresh email per sales order and template is
rendered for what is still true: the links it stated that are still active, under
the template their PO line's status has now (none when nothing is left), with
the links newly made by the same change. Newly made links join the order's
waiting email for their template the same way, so at most one email waits per
sales order and template (a partial unique index makes sure of it).

`refresh_emails` runs in the transaction of the change, after its rows are
written: from `bopo.services.common.engine.commit` (every goods-in, supply, demand, link, unlink and
despatch change), after the worklist retry's links, from a status change and
from giving a status another template. `decide` is the rule on plain values, so
a what-if (`preview_refresh`) answers with the same rule. The mailer asks
`untrue` of what it claims, and has `refresh_emails` supersede what is no longer
true.

Due-date notices (event `due_date`) keep their own rules (bopo.services.email.notices):
a move takes them in and renders them again. The changes leave them alone; the
mailer's check covers them like any email, and supersedes one that is no
longer true with a notice of what still moved, or none.

Locks, after the change's own (stock items, PO lines, SO lines, associations):
the sales orders, then their waiting emails, each by ascending id. Two changes
to one order therefore queue its emails one after the other, and the second
sees the first's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from bopo.db.audit import event as audit_event
from bopo.db.bulk import Writes, one_of
from bopo.db.models import (
    Association,
    PendingEmail,
    PendingEmailAssociation,
    PoLine,
    PurchaseOrder,
    SalesOrder,
    SoLine,
)
from bopo.db.queries import record_audit
from bopo.domain.statuses import EmailState
from bopo.domain.templating import EmailEvent
from bopo.services.context import Context
from bopo.services.email.backorder_emails import (
    TemplateRef,
    announced,
    group_announced,
    templated_statuses,
    write_emails,
)
from bopo.services.email.notices import NoticePlan, notice_templates, write_notices
from bopo.services.email.superseding_rule import NOTICE, Decision, StatedLine, Waiting, decide

PENDING = EmailState.PENDING.value


# The rule on values is written beside (superseding_rule); its callers find it here too.
__all__ = [
    "Decision",
    "StatedLine",
    "Waiting",
    "decide",
    "lock_orders",
    "preview_refresh",
    "refresh_emails",
    "untrue",
]


def untrue(conn: Connection, email_ids: Collection[int], today: date) -> dict[int, str]:
    """Of these emails, those that no longer say what is true, with the first reason."""
    if not email_ids:
        return {}
    emails = {
        r.id: r
        for r in conn.execute(
            select(PendingEmail.id, PendingEmail.template_id, PendingEmail.event).where(
                one_of(conn, PendingEmail.id, sorted(email_ids))
            )
        )
    }
    templates = templated_statuses(conn)
    out: dict[int, str] = {}
    lines = _stated(conn, emails)
    for email_id, e in emails.items():
        template_id = None if e.event == NOTICE else e.template_id
        why = next(
            (
                w
                for line in lines.get(email_id, ())
                if (w := line.why_untrue(template_id, templates, today)) is not None
            ),
            None,
        )
        if why is not None:
            out[email_id] = why
    return out


def _stated(conn: Connection, email_ids: Iterable[int]) -> dict[int, list[StatedLine]]:
    ids = sorted(email_ids)
    if not ids:
        return {}
    out: dict[int, list[StatedLine]] = defaultdict(list)
    stmt = (
        select(
            PendingEmailAssociation.email_id,
            PendingEmailAssociation.association_id,
            PendingEmailAssociation.qty.label("stated_qty"),
            PendingEmailAssociation.due_date.label("stated_due"),
            PendingEmailAssociation.overdue.label("stated_overdue"),
            PendingEmailAssociation.previous_due,
            Association.state,
            Association.qty.label("qty"),
            PoLine.due_date.label("due_date"),
            PoLine.status_id,
            SalesOrder.status.label("order_status"),
            SoLine.line_no.label("line_no"),
            PurchaseOrder.number.label("po_number"),
            PoLine.line_no.label("po_line_no"),
            PoLine.id.label("po_line_id"),
            SoLine.id.label("so_line_id"),
        )
        .join(Association, Association.id == PendingEmailAssociation.association_id)
        .join(PoLine, PoLine.id == Association.po_line_id)
        .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
        .join(SoLine, SoLine.id == Association.so_line_id)
        .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
        .where(one_of(conn, PendingEmailAssociation.email_id, ids))
        .order_by(PendingEmailAssociation.email_id, SoLine.line_no, Association.id)
    )
    for r in conn.execute(stmt):
        out[r.email_id].append(StatedLine(**r._mapping))
    return out


def _waiting(
    conn: Connection, order_ids: Sequence[int], *, notices: bool, lock: bool
) -> list[Waiting]:
    stmt = (
        select(PendingEmail.id, PendingEmail.sales_order_id, PendingEmail.template_id)
        .add_columns(PendingEmail.event)
        .where(one_of(conn, PendingEmail.sales_order_id, order_ids), PendingEmail.state == PENDING)
        .order_by(PendingEmail.id)
    )
    if not notices:
        stmt = stmt.where(PendingEmail.event != NOTICE)
    if lock:
        stmt = stmt.with_for_update(key_share=True)
    return [Waiting(r.id, r.sales_order_id, r.template_id, r.event) for r in conn.execute(stmt)]


def lock_orders(conn: Connection, order_ids: Collection[int]) -> None:
    """Lock sales orders by ascending id: whoever changes an order's waiting emails
    holds the order first, so two changes to one order queue its emails in turn."""
    if order_ids:
        conn.execute(
            select(SalesOrder.id)
            .where(one_of(conn, SalesOrder.id, sorted(order_ids)))
            .order_by(SalesOrder.id)
            .with_for_update(key_share=True)
        ).all()


def refresh_emails(
    conn: Connection,
    ctx: Context,
    *,
    orders: Collection[int],
    new_links: Collection[int] = (),
    event: EmailEvent | None = None,
    now: datetime,
    actor: str,
    notices: bool = False,
) -> list[int]:
    """Supersede these orders' waiting emails that are no longer true, or that new
    links of the same template join, and queue one email per order and template for
    what is true; returns the ids of the emails queued.

    `new_links`: associations made by the change, announced (under a status with a
    BACK_ORDER template) with `event`. `notices`: due-date notices are checked too
    (the mailer's check; changes leave notices to their own rules).
    """
    if not orders and not new_links:
        return []
    templates = templated_statuses(conn)
    fresh_rows = announced(conn, new_links, templates) if new_links and templates else []
    fresh = {r.association_id: (r.order_id, templates[r.status_id].id) for r in fresh_rows}
    order_ids = sorted(set(orders) | {o for o, _ in fresh.values()})
    if not order_ids:
        return []
    lock_orders(conn, order_ids)
    waiting = _waiting(conn, order_ids, notices=notices, lock=True)
    if not waiting and not fresh:
        return []
    stated = _stated(conn, [w.id for w in waiting])
    plan = decide(waiting, stated, templates, fresh, today=now.date(), event=event)
    if not plan.reasons and not fresh:
        return []

    gone = [w for w in waiting if w.id in plan.reasons]
    _leave_queue(conn, gone, plan.reasons, now)
    rows, successor = _queue(conn, ctx, plan, templates, event, now)
    notice_successors = _renotice(
        conn, ctx, [w for w in gone if w.event == NOTICE], stated, now=now, actor=actor
    )
    where_now = {r.association_id: (r.order_id, templates[r.status_id].id) for r in rows}
    audit = []
    for w in gone:
        after = (
            notice_successors.get(w.id)
            if w.event == NOTICE
            else _successor(w, stated.get(w.id, ()), successor, where_now)
        )
        if after is not None:
            conn.execute(
                update(PendingEmail).where(PendingEmail.id == w.id).values(superseded_by_id=after)
            )
        audit.append(_superseded(w.id, plan.reasons[w.id], after, now=now, actor=actor))
    record_audit(conn, audit)
    return list(successor.values()) + list(notice_successors.values())


def _superseded(
    email_id: int, reason: str, after: int | None, *, now: datetime, actor: str
) -> dict[str, Any]:
    """The audit row of a superseded email."""
    return audit_event(
        now,
        actor,
        "email.supersede",
        "pending_email",
        email_id,
        {"state": PENDING},
        {"state": "superseded", "reason": reason, "superseded_by": after},
    )


def _leave_queue(
    conn: Connection, gone: Sequence[Waiting], reasons: Mapping[int, str], now: datetime
) -> None:
    """Supersede the emails that go. First: the unique index allows one waiting email per
    order and template, and their successors are queued next."""
    for w in gone:
        conn.execute(
            update(PendingEmail)
            .where(PendingEmail.id == w.id)
            .values(state=EmailState.SUPERSEDED.value, superseded_reason=reasons[w.id])
            .values(updated_at=now, next_attempt_at=None)
        )


def _queue(
    conn: Connection,
    ctx: Context,
    plan: Decision,
    templates: Mapping[int, TemplateRef],
    event: EmailEvent | None,
    now: datetime,
) -> tuple[list[Any], dict[tuple[int, int], int]]:
    """Queue one email per order and template for what the plan says is true: the lines
    announced, and each new email's id by (sales order id, template id)."""
    wanted = {a for ids in plan.groups.values() for a in ids}
    rows = announced(conn, wanted, templates) if wanted else []
    groups = group_announced(rows, templates)
    writes = Writes(conn)
    ids = writes.reserve_ids({PendingEmail: len(groups)})[PendingEmail] if groups else []
    successor = dict(zip(groups, ids, strict=True))
    by_event: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for key in groups:
        by_event[plan.events.get(key, (event or EmailEvent.REALLOCATION).value)].append(key)
    for name, keys in sorted(by_event.items()):
        write_emails(
            writes,
            ctx,
            {k: groups[k] for k in keys},
            templates,
            [successor[k] for k in keys],
            event=EmailEvent(name),
            now=now,
        )
    writes.flush()
    return rows, successor


def _successor(
    w: Waiting,
    stated: Sequence[StatedLine],
    successor: Mapping[tuple[int, int], int],
    where_now: Mapping[int, tuple[int, int]],
) -> int | None:
    """The email queued in a superseded one's place: its order and template's, or, when its
    links went under another template, that one's."""
    after = successor.get((w.order_id, w.template_id or 0))
    if after is None:
        after = next(
            (
                successor[where_now[line.association_id]]
                for line in stated
                if line.association_id in where_now
            ),
            None,
        )
    return after


def _renotice(
    conn: Connection,
    ctx: Context,
    gone: list[Waiting],
    stated: dict[int, list[StatedLine]],
    *,
    now: datetime,
    actor: str,
) -> dict[int, int]:
    """A superseded due-date notice's successor: the same notice for its links still
    active whose date is not back to what the customer was told; none if none is."""
    if not gone:
        return {}
    by_id = {ref.id: (kind, ref) for kind, ref in notice_templates(conn).items()}
    plans: list[tuple[int, NoticePlan]] = []
    for w in gone:
        lines = tuple(
            (line.association_id, line.previous_due)
            for line in stated.get(w.id, ())
            if line.active and line.due_date != line.previous_due
        )
        if not lines or w.template_id not in by_id:
            continue
        kind, ref = by_id[w.template_id]
        head = conn.execute(
            select(SalesOrder.source, SalesOrder.number).where(SalesOrder.id == w.order_id)
        ).one()
        plans.append(
            (
                w.id,
                NoticePlan(
                    w.order_id, head.source, head.number, "", "new", ref, kind, None, None, lines
                ),
            )
        )
    written = write_notices(conn, ctx, [p for _, p in plans], now=now, actor=actor)
    return {old: new for (old, _), new in zip(plans, written, strict=True)}


def preview_refresh(
    conn: Connection,
    *,
    orders: Collection[int],
    fresh: Mapping[int, tuple[int, int]],
    now_of: Callable[[StatedLine], StatedLine],
    today: date,
    event: EmailEvent | None,
) -> tuple[list[Waiting], Decision]:
    """What refresh_emails would do after a change not written (a what-if): the waiting
    emails of `orders`, their links as `now_of` says they would stand, and `fresh`, the
    new links (made-up ids) with their order and template. Reads only, locks nothing."""
    order_ids = sorted(set(orders) | {o for o, _ in fresh.values()})
    if not order_ids:
        return [], Decision()
    waiting = _waiting(conn, order_ids, notices=False, lock=False)
    stated = {
        email_id: [now_of(line) for line in lines]
        for email_id, lines in _stated(conn, [w.id for w in waiting]).items()
    }
    templates = templated_statuses(conn)
    return waiting, decide(waiting, stated, templates, fresh, today=today, event=event)
