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
written: from `Scope.flush` (every goods-in, supply, demand, link, unlink and
despatch change), after the worklist retry's links, from a status change and
from giving a status another template. `decide` is the rule on plain values, so
a what-if (`preview_refresh`) answers with the same rule. The mailer asks
`untrue` of what it claims, and has `refresh_emails` supersede what is no longer
true.

Due-date notices (event `due_date`) keep their own rules (bopo.services.notices):
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
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Connection, select, update

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
from bopo.domain.changes import is_overdue
from bopo.domain.statuses import EmailState
from bopo.domain.templating import EmailEvent
from bopo.services.backorder_emails import (
    TemplateRef,
    announced,
    group_announced,
    templated_statuses,
    write_emails,
)
from bopo.services.context import Context
from bopo.services.linking import event as audit_event
from bopo.services.notices import NoticePlan, notice_templates, write_notices

PENDING = EmailState.PENDING.value
NOTICE = EmailEvent.DUE_DATE.value


@dataclass(frozen=True, slots=True)
class Waiting:
    """A waiting email: what it is for."""

    id: int
    order_id: int
    template_id: int | None
    event: str


@dataclass(frozen=True, slots=True)
class StatedLine:
    """One link as an email states it, beside how it stands now."""

    email_id: int
    association_id: int
    stated_qty: int | None
    stated_due: date | None
    stated_overdue: bool
    previous_due: date | None
    state: str
    qty: int
    due_date: date | None
    status_id: int | None
    order_status: str
    line_no: int
    po_number: str
    po_line_no: int
    po_line_id: int
    so_line_id: int

    @property
    def active(self) -> bool:
        return self.state == "active" and self.order_status == "open"

    def why_untrue(
        self, template_id: int | None, templates: Mapping[int, TemplateRef], today: date
    ) -> str | None:
        """Why the email no longer says what is true of this link, or None."""
        where = f"line {self.line_no}"
        po = f"{self.po_number} line {self.po_line_no}"
        if self.order_status != "open":
            return f"the order is {self.order_status}"
        if self.state == "fulfilled":
            return f"{where}: the goods came in on {po}"
        if self.state != "active":
            return f"{where}: no longer linked to {po}"
        if self.stated_qty is not None and self.qty != self.stated_qty:
            return f"{where}: {self.qty} on order, not {self.stated_qty}"
        if self.due_date != self.stated_due:
            return f"{where}: {po} now due {_day(self.due_date)}, not {_day(self.stated_due)}"
        if is_overdue(self.due_date, today) != self.stated_overdue:
            return f"{where}: {po} is overdue (was due {_day(self.due_date)})"
        if template_id is not None:  # a notice's template goes by its type, not the status
            ref = templates.get(self.status_id) if self.status_id is not None else None
            if ref is None or ref.id != template_id:
                return f"{where}: {po} has a status with another email (or none)"
        return None


def _day(value: date | None) -> str:
    return f"{value.day} {value:%b}" if value else "no date"


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


@dataclass
class Decision:
    """Which waiting emails go (and why), and what the emails queued instead announce."""

    reasons: dict[int, str] = field(default_factory=dict)  # email id -> why superseded
    # (sales order id, template id) -> the associations its new email announces
    groups: dict[tuple[int, int], list[int]] = field(default_factory=dict)
    events: dict[tuple[int, int], str] = field(default_factory=dict)  # what each new email says


def decide(
    waiting: Sequence[Waiting],
    stated: Mapping[int, Sequence[StatedLine]],
    templates: Mapping[int, TemplateRef],
    fresh: Mapping[int, tuple[int, int]],
    *,
    today: date,
    event: EmailEvent | None,
) -> Decision:
    """The rule, on values: `fresh` maps each new link (association id) to the sales
    order and template that announce it; `stated` holds each waiting email's links as
    they stand after the change."""
    out = Decision()
    for w in waiting:
        template_id = None if w.event == NOTICE else w.template_id
        for line in stated.get(w.id, ()):
            why = line.why_untrue(template_id, templates, today)
            if why is not None:
                out.reasons[w.id] = why
                break
    # New links join the waiting email of their order and template: it goes, and one
    # email says both.
    joined = set(fresh.values())
    for w in waiting:
        if w.id not in out.reasons and w.event != NOTICE and (w.order_id, w.template_id) in joined:
            out.reasons[w.id] = "lines linked since join it"
    # The links a superseded email states that are still true move to the template their
    # PO line's status has now; a waiting email there goes too, so that one email says all.
    carried: dict[int, tuple[int, int]] = {}
    for w in waiting:
        if w.id in out.reasons and w.event != NOTICE:
            for line in stated.get(w.id, ()):
                ref = templates.get(line.status_id) if line.status_id is not None else None
                if line.active and ref is not None:
                    carried[line.association_id] = (w.order_id, ref.id)
    landing = set(carried.values())
    for w in waiting:
        if w.id not in out.reasons and w.event != NOTICE and (w.order_id, w.template_id) in landing:
            out.reasons[w.id] = "lines from another email join it"
            for line in stated.get(w.id, ()):
                carried[line.association_id] = (w.order_id, w.template_id or 0)
    first: dict[tuple[int, int], str] = {}
    for w in waiting:
        if w.id in out.reasons and w.event != NOTICE and w.template_id is not None:
            first.setdefault((w.order_id, w.template_id), w.event)
    for assoc_id, key in (carried | dict(fresh)).items():
        out.groups.setdefault(key, []).append(assoc_id)
    for key, ids in out.groups.items():
        if event is not None and any(i in fresh for i in ids):
            out.events[key] = event.value
        else:
            out.events[key] = first.get(key, (event or EmailEvent.REALLOCATION).value)
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
        stmt = stmt.with_for_update()
    return [Waiting(r.id, r.sales_order_id, r.template_id, r.event) for r in conn.execute(stmt)]


def lock_orders(conn: Connection, order_ids: Collection[int]) -> None:
    """Lock sales orders by ascending id: whoever changes an order's waiting emails
    holds the order first, so two changes to one order queue its emails in turn."""
    if order_ids:
        conn.execute(
            select(SalesOrder.id)
            .where(one_of(conn, SalesOrder.id, sorted(order_ids)))
            .order_by(SalesOrder.id)
            .with_for_update()
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
    # Leave the queue first: the unique index allows one waiting email per order and template.
    for w in gone:
        conn.execute(
            update(PendingEmail)
            .where(PendingEmail.id == w.id)
            .values(state=EmailState.SUPERSEDED.value, superseded_reason=plan.reasons[w.id])
            .values(updated_at=now, next_attempt_at=None)
        )
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

    notice_successors = _renotice(
        conn, ctx, [w for w in gone if w.event == NOTICE], stated, now=now, actor=actor
    )
    where_now = {r.association_id: (r.order_id, templates[r.status_id].id) for r in rows}
    audit = []
    for w in gone:
        after: int | None
        if w.event == NOTICE:
            after = notice_successors.get(w.id)
        else:
            after = successor.get((w.order_id, w.template_id or 0))
            if after is None:  # its links went under another template
                after = next(
                    (
                        successor[where_now[line.association_id]]
                        for line in stated.get(w.id, ())
                        if line.association_id in where_now
                    ),
                    None,
                )
        if after is not None:
            conn.execute(
                update(PendingEmail).where(PendingEmail.id == w.id).values(superseded_by_id=after)
            )
        audit.append(
            audit_event(
                now,
                actor,
                "email.supersede",
                "pending_email",
                w.id,
                {"state": PENDING},
                {"state": "superseded", "reason": plan.reasons[w.id], "superseded_by": after},
            )
        )
    record_audit(conn, audit)
    return list(ids) + list(notice_successors.values())


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
