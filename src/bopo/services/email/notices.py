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
`write_notices` (bopo.services.email.notices_writing) renders and writes the plan, after
the new due dates are written.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import Field, PlainSerializer
from sqlalchemy import Connection, select, text

from bopo.db.bulk import one_of
from bopo.db.models import (
    Association,
    Customer,
    PendingEmail,
    PendingEmailAssociation,
    PoLine,
    SalesOrder,
)
from bopo.domain.changes import is_overdue
from bopo.domain.templating import EmailEvent, TemplateType
from bopo.services.context import Context
from bopo.services.email.backorder_emails import TemplateRef
from bopo.services.email.notices_writing import write_notices

# This module plans; write_notices (notices_writing) is re-exported for its callers.
__all__ = [
    "EARLIER",
    "LATER",
    "Moved",
    "NoticePlan",
    "notice_templates",
    "plan_notices",
    "write_notices",
]

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


@dataclass(frozen=True, slots=True)
class _Rules:
    """What makes a move worth a notice, and how often one may go."""

    templates: dict[TemplateType, TemplateRef]
    delay: int  # days
    interval: timedelta
    now: datetime

    def noticed(self, before: date | None, after: date | None) -> TemplateType | None:
        """The notice a move from `before` to `after` calls for, if it has a template."""
        kind = _direction(before, after, self.delay)
        return kind if kind in self.templates else None


@dataclass(frozen=True, slots=True)
class _Planned:
    """The notice decided for one sales order, before the order itself is read."""

    sales_order_id: int
    action: str  # as NoticePlan's
    kind: TemplateType | None
    email_id: int | None
    send_after: datetime | None
    lines: tuple[tuple[int, date | None], ...]


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
    cfg = ctx.backorders(conn)
    rules = _Rules(
        templates, cfg.notify_delay_days, timedelta(hours=cfg.notify_min_interval_hours), now
    )
    by_order: dict[int, list[Moved]] = defaultdict(list)
    for m in moved:
        by_order[m.sales_order_id].append(m)
    orders = sorted(by_order)
    if lock:
        _lock_orders(conn, orders)
    notices = _notices(conn, orders)
    unsent = _unsent(
        conn, [n.id for ns in notices.values() for n in ns if n.state == "pending"], lock
    )
    told = _told(conn, unsent)
    moved_to = {m.association_id: m.after for m in moved}
    current = _current_dates(
        conn, {a for lines in told.values() for a in lines if a not in moved_to}
    )
    current.update(moved_to)
    planned = []
    for order_id in orders:
        pending = [n for n in notices[order_id] if n.id in unsent]
        into = pending[-1] if pending else None
        found = _plan_order(
            order_id, by_order[order_id], notices[order_id], into, told, current, rules
        )
        if found is not None:
            planned.append(found)
    return _with_orders(conn, planned, templates)


def _lock_orders(conn: Connection, orders: list[int]) -> None:
    # One change at a time plans an order's notices: two PO lines of one order
    # moving at once must not both find no notice and each queue one. (Locked
    # after the associations; writers that lock sales orders hold their stock
    # items first, as this one does.)
    conn.execute(
        select(SalesOrder.id)
        .where(one_of(conn, SalesOrder.id, orders))
        .order_by(SalesOrder.id)
        .with_for_update(key_share=True)
    ).all()


def _notices(conn: Connection, orders: list[int]) -> dict[int, list[_Notice]]:
    """The orders' due-date notices, sent or to be sent, oldest first."""
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
    return notices


def _told(conn: Connection, unsent: set[int]) -> dict[int, dict[int, date | None]]:
    """For each unsent notice, its lines and the date each was told before it."""
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
    return told


def _plan_order(
    order_id: int,
    moves: list[Moved],
    notices: list[_Notice],
    into: _Notice | None,
    told: dict[int, dict[int, date | None]],
    current: dict[int, date | None],
    rules: _Rules,
) -> _Planned | None:
    """One order's notice: its unsent one (`into`) takes in the moves, or is cancelled when
    every date is back to what was told; else a new one, held back by the interval."""
    # A move between two dates gone by changes nothing a customer reads: both are "to be
    # confirmed" (overdue supply is never promised).
    today = rules.now.date()
    moves = [m for m in moves if _shown(m.before, today) != _shown(m.after, today)]
    fresh = [m for m in moves if rules.noticed(m.before, m.after) is not None]
    if into is not None and (fresh or any(m.association_id in told[into.id] for m in moves)):
        lines = dict(told[into.id])
        for m in fresh:
            lines.setdefault(m.association_id, m.before)
        kinds = {
            a: rules.noticed(previous, current[a]) for a, previous in lines.items() if a in current
        }
        keep = tuple(sorted((a, lines[a]) for a, k in kinds.items() if k is not None))
        if not keep:
            return _Planned(order_id, "cancelled", None, into.id, into.next_attempt_at, ())
        kind = _kind(k for k in kinds.values() if k is not None)
        return _Planned(order_id, "merged", kind, into.id, into.next_attempt_at, keep)
    if not fresh:
        return None
    last = max((n.goes_out for n in notices), default=None)
    hold = last + rules.interval if last is not None and last + rules.interval > rules.now else None
    kind = _kind(rules.noticed(m.before, m.after) for m in fresh)
    keep = tuple(sorted((m.association_id, m.before) for m in fresh))
    return _Planned(order_id, "new", kind, None, hold, keep)


def _with_orders(
    conn: Connection, planned: list[_Planned], templates: dict[TemplateType, TemplateRef]
) -> list[NoticePlan]:
    """The planned notices, with their orders' numbers and customers' addresses."""
    if not planned:
        return []
    heads = {
        r.id: r
        for r in conn.execute(
            select(SalesOrder.id, SalesOrder.source, SalesOrder.number, Customer.email)
            .join(Customer, Customer.id == SalesOrder.customer_id)
            .where(one_of(conn, SalesOrder.id, [p.sales_order_id for p in planned]))
        )
    }
    return [
        NoticePlan(
            p.sales_order_id,
            heads[p.sales_order_id].source,
            heads[p.sales_order_id].number,
            heads[p.sales_order_id].email,
            p.action,
            templates[p.kind] if p.kind else None,
            p.kind,
            p.email_id,
            p.send_after,
            p.lines,
        )
        for p in planned
    ]


def _shown(due: date | None, today: date) -> date | None:
    """The date a customer is told: none for supply overdue."""
    return None if is_overdue(due, today) else due


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
    return set(conn.scalars(stmt.with_for_update(key_share=True) if lock else stmt))


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
