"""Queueing back-order emails, in the caller's transaction, for a set of associations.

The rendering and writing that intake and bopo.services.email.superseding (every
change after intake: new links join, untrue emails are superseded) share.
Set-based: one query (GATE) finds the statuses whose template is a BACK_ORDER
one; when there is none, that is all it costs. Otherwise one query loads every
announced line, the emails are rendered with compiled, cached templates (one
per sales order and template, listing every line linked under it) and written
with two bulk inserts. Intake, which has every announced line in memory
already, runs GATE with its first reads and calls group_announced and
write_emails itself: no query of its own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, select, text

from bopo.db.bulk import Writes, one_of
from bopo.db.models import (
    Association,
    Customer,
    EmailTemplate,
    PendingEmail,
    PendingEmailAssociation,
    PoLine,
    PoLineStatus,
    PurchaseOrder,
    SalesOrder,
    SoLine,
    StockItem,
)
from bopo.domain.changes import is_overdue
from bopo.domain.templating import (
    CompiledTemplate,
    EmailEvent,
    Rendered,
    RenderLimits,
    TemplateSource,
    TemplateTooSlow,
    TemplateType,
    backorder_context,
    linked_line,
)
from bopo.errors import InvalidInput
from bopo.services.context import Context

log = logging.getLogger(__name__)


def message_id(from_address: str) -> str:
    """A new, globally unique Message-ID, kept with the email so a resend carries it again."""
    return message_ids(from_address, 1)[0]


def message_ids(from_address: str, count: int) -> list[str]:
    """`count` new Message-IDs (as message_id), their random parts drawn at once."""
    domain = from_address.rpartition("@")[2] or "bopo.invalid"
    random = secrets.token_hex(16 * count)
    return [f"<{random[i : i + 32]}@{domain}>" for i in range(0, 32 * count, 32)]


@dataclass(frozen=True, slots=True)
class TemplateRef:
    id: int
    version: object  # updated_at, as stored: a new version means a new compiled template
    name: str


# The statements are built once: this runs in every intake transaction, and
# building a statement costs more than running it. The gate is plain SQL on
# two small tables, so that orders under no templated status pay next to nothing.
GATE = text(
    "SELECT s.id AS status_id, s.name AS status_name, t.id AS template_id, t.updated_at,"
    " t.name AS template_name FROM po_line_statuses s "
    "JOIN email_templates t ON t.id = s.email_template_id WHERE t.type = :type"
).bindparams(type=TemplateType.BACK_ORDER.value)


def templated(gate_rows: Sequence[Any]) -> dict[int, TemplateRef]:
    """PO line status id -> its BACK_ORDER template, from the rows of GATE."""
    return {r[0]: TemplateRef(r[2], r[3], r[4]) for r in gate_rows}


def templated_statuses(conn: Connection) -> dict[int, TemplateRef]:
    """PO line status id -> its BACK_ORDER template."""
    return templated(conn.execute(GATE).all())


class Announced(NamedTuple):
    """One linked line as an email announces it (a row of `announced`, or built in memory)."""

    association_id: int
    qty: int
    order_id: int
    number: str
    source: str
    order_date: date
    delivery_date: date
    customer_code: str
    customer_name: str
    email: str
    line_no: int
    sku: str
    item_name: str
    due_date: date | None
    po_number: str
    po_line_no: int
    status_id: int | None
    status_name: str | None


def compiled_templates(
    conn: Connection, ctx: Context, refs: Collection[TemplateRef]
) -> dict[int, CompiledTemplate]:
    """Template id -> compiled; only templates the cache lacks are read (one query)."""
    missing = [ref.id for ref in refs if (ref.id, ref.version) not in ctx.templates]
    sources: dict[int, TemplateSource] = {}
    if missing:
        for r in conn.execute(
            select(
                EmailTemplate.id,
                EmailTemplate.subject,
                EmailTemplate.body_text,
                EmailTemplate.body_html,
            ).where(EmailTemplate.id.in_(sorted(missing)))
        ):
            sources[r.id] = TemplateSource(r.subject, r.body_text, r.body_html)
    return {
        ref.id: ctx.templates.get((ref.id, ref.version), partial(sources.__getitem__, ref.id))
        for ref in refs
    }


def queue_backorder_emails(
    conn: Connection,
    ctx: Context,
    association_ids: Collection[int],
    *,
    event: EmailEvent,
    now: datetime,
) -> list[int]:
    """Queue one email per sales order and BACK_ORDER template for these associations.

    Only associations whose PO line's status has a BACK_ORDER template are
    announced. Returns the new emails' ids. It does not look at emails already
    waiting: the changes go through superseding.refresh_emails, which does.
    """
    if not association_ids:
        return []
    by_status = templated_statuses(conn)
    if not by_status:
        return []
    rows = announced(conn, association_ids, by_status)
    if not rows:
        return []
    groups = group_announced(rows, by_status)
    writes = Writes(conn)
    email_ids = writes.reserve_ids({PendingEmail: len(groups)})[PendingEmail]
    write_emails(writes, ctx, groups, by_status, email_ids, event=event, now=now)
    writes.flush()
    return email_ids


def group_announced(
    rows: Sequence[Any], by_status: Mapping[int, TemplateRef]
) -> dict[tuple[int, int], list[Any]]:
    """(sales order id, template id) -> the lines one email announces, in order."""
    groups: dict[tuple[int, int], list[Any]] = {}
    for r in rows:
        groups.setdefault((r.order_id, by_status[r.status_id].id), []).append(r)
    return groups


def write_emails(
    writes: Writes,
    ctx: Context,
    groups: Mapping[tuple[int, int], Sequence[Any]],
    by_status: Mapping[int, TemplateRef],
    email_ids: Sequence[int],
    *,
    event: EmailEvent,
    now: datetime,
) -> None:
    """Render one email per group (ids reserved by the caller) and queue its rows."""
    refs = {ref.id: ref for ref in by_status.values()}
    templates = compiled_templates(writes.conn, ctx, {refs[tid] for _, tid in groups})
    settings, today = ctx.settings.email, now.date()
    render = partial(
        _content,
        settings.company_name,
        settings.render_limits,
        event=event,
        today=today,
        slow={},  # template id -> the fewest lines it ran out of time on (see _content)
    )
    emails = [
        {
            "id": email_id,
            "sales_order_id": order_id,
            "template_id": template_id,
            "event": event.value,
            "to_address": group[0].email,
            "to_name": group[0].customer_name,
            "message_id": mid,
            "state": "pending",
            "attempts": 0,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        | render(templates[template_id], refs[template_id].name, group, template_id)
        for email_id, mid, ((order_id, template_id), group) in zip(
            email_ids, message_ids(settings.from_address, len(groups)), groups.items(), strict=True
        )
    ]
    writes.insert(PendingEmail, emails)
    writes.insert(
        PendingEmailAssociation,
        [
            stated(email_id, r, today)
            for email_id, group in zip(email_ids, groups.values(), strict=True)
            for r in group
        ],
    )


def _content(
    company: str,
    limits: RenderLimits,
    compiled: CompiledTemplate,
    name: str,
    group: Sequence[Any],
    template_id: int,
    *,
    event: EmailEvent,
    today: date,
    slow: dict[int, tuple[int, str]],
) -> dict[str, Any]:
    """An email's subject and bodies; or, when its template does not render, a failed
    email saying why. `slow` holds the fewest lines each template (by id) ran out
    of time on: an order at least as big is not tried again in this transaction (its
    locks are held meanwhile)."""
    head = group[0]
    rendered: Rendered | None = None
    too_slow = slow.get(template_id)
    if too_slow is not None and len(group) >= too_slow[0]:
        error = f"{too_slow[1]} (as for {too_slow[0]} lines earlier in this batch)"
    else:
        try:
            rendered = compiled.render(context_of(company, group, event.value, today=today), limits)
        except InvalidInput as exc:
            if isinstance(exc, TemplateTooSlow):
                slow[template_id] = (len(group), str(exc))
            error = str(exc)
    if rendered is None:
        # The template passed its check when saved but not on this order's data.
        # The order still goes in; the email waits, failed, for a person to see.
        log.warning("template %r did not render for order %s: %s", name, head.number, error)
        return {
            "subject": f"(not rendered: template {name})",
            "body_text": "",
            "body_html": None,
            "state": "failed",
            "last_error": f"template {name!r} did not render: {error}",
        }
    return {
        "subject": rendered.subject,
        "body_text": rendered.body_text,
        "body_html": rendered.body_html,
    }


def stated(
    email_id: int, line: Any, today: date, previous_due: date | None = None
) -> dict[str, Any]:
    """The row that records what an email states of one link: while the link is
    active with this quantity, due date and overdue-ness, the email is true."""
    return {
        "email_id": email_id,
        "association_id": line.association_id,
        "previous_due": previous_due,
        "qty": line.qty,
        "due_date": line.due_date,
        "overdue": is_overdue(line.due_date, today),
    }


_ANNOUNCED = (
    select(
        Association.id.label("association_id"),
        Association.qty,
        SalesOrder.id.label("order_id"),
        SalesOrder.number,
        SalesOrder.source,
        SalesOrder.order_date,
        SalesOrder.delivery_date,
        Customer.code.label("customer_code"),
        Customer.name.label("customer_name"),
        Customer.email,
        SoLine.line_no,
        StockItem.sku,
        StockItem.name.label("item_name"),
        PoLine.due_date,
        PurchaseOrder.number.label("po_number"),
        PoLine.line_no.label("po_line_no"),
        PoLine.status_id,
        PoLineStatus.name.label("status_name"),
    )
    .join(SoLine, SoLine.id == Association.so_line_id)
    .join(SalesOrder, SalesOrder.id == SoLine.sales_order_id)
    .join(Customer, Customer.id == SalesOrder.customer_id)
    .join(StockItem, StockItem.id == SoLine.stock_item_id)
    .join(PoLine, PoLine.id == Association.po_line_id)
    .join(PurchaseOrder, PurchaseOrder.id == PoLine.purchase_order_id)
    .outerjoin(PoLineStatus, PoLineStatus.id == PoLine.status_id)
    .order_by(SalesOrder.id, SoLine.line_no, Association.id)
)


def announced(
    conn: Connection, association_ids: Collection[int], status_ids: Collection[int] | None
) -> list[Any]:
    """The lines these associations link (under these statuses), as templates show them."""
    stmt = _ANNOUNCED.where(one_of(conn, Association.id, sorted(association_ids)))
    if status_ids is not None:
        stmt = stmt.where(one_of(conn, PoLine.status_id, sorted(status_ids)))
    return list(conn.execute(stmt))


def email_context(
    ctx: Context,
    group: Sequence[Row[Any]],
    event: str,
    previous: Mapping[int, date | None] | None = None,
    *,
    today: date,
) -> dict[str, Any]:
    """The template context for one sales order's lines; `previous` gives each
    association's earlier expected date (due-date notices). A line whose due date is
    before `today` is overdue: no date is promised for it."""
    return context_of(ctx.settings.email.company_name, group, event, previous, today=today)


def context_of(
    company: str,
    group: Sequence[Any],
    event: str,
    previous: Mapping[int, date | None] | None = None,
    *,
    today: date,
) -> dict[str, Any]:
    """email_context, given the company's name."""
    head = group[0]
    return backorder_context(
        company=company,
        customer={"code": head.customer_code, "name": head.customer_name, "email": head.email},
        order={
            "number": head.number,
            "source": head.source,
            "order_date": head.order_date,
            "delivery_date": head.delivery_date,
        },
        lines=[
            linked_line(
                line_no=r.line_no,
                sku=r.sku,
                item_name=r.item_name,
                qty=r.qty,
                expected=r.due_date,
                po_number=r.po_number,
                po_line_no=r.po_line_no,
                status=r.status_name or "",
                previous_expected=previous.get(r.association_id) if previous else None,
                overdue=is_overdue(r.due_date, today),
            )
            for r in group
        ],
        event=event,
    )


def load_announcements(
    conn: Connection, ctx: Context, association_ids: Collection[int], event: str = "preview"
) -> dict[int, tuple[str, dict[str, Any]]]:
    """Sales order id -> (customer address, template context) for these associations."""
    groups: dict[int, list[Row[Any]]] = {}
    for r in announced(conn, association_ids, None):
        groups.setdefault(r.order_id, []).append(r)
    today = ctx.clock().date()
    return {
        oid: (g[0].email, email_context(ctx, g, event, today=today)) for oid, g in groups.items()
    }
