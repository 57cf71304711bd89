"""Queueing back-order emails, in the caller's transaction, for a set of associations.

Called wherever links are written (through linking.write_links) and when a
PO line's status changes. Set-based: one query finds the statuses whose
template is a BACK_ORDER one; when there is none, that is all it costs.
Otherwise one query loads every announced line, the emails are rendered with
compiled, cached templates (one per sales order and template, listing every
line linked under it) and written with two bulk inserts.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Connection, Row, insert, select

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
from bopo.domain.templating import (
    CompiledTemplate,
    EmailEvent,
    LinkedLine,
    TemplateSource,
    TemplateType,
    backorder_context,
)
from bopo.errors import InvalidInput
from bopo.services.context import Context

log = logging.getLogger(__name__)


def message_id(from_address: str) -> str:
    """A new, globally unique Message-ID, kept with the email so a resend carries it again."""
    domain = from_address.rpartition("@")[2] or "bopo.invalid"
    return f"<{uuid.uuid4().hex}@{domain}>"


def templated_statuses(conn: Connection) -> dict[int, tuple[int, datetime]]:
    """PO line status id -> (template id, template version) for BACK_ORDER templates."""
    rows = conn.execute(
        select(PoLineStatus.id, EmailTemplate.id, EmailTemplate.updated_at)
        .join(EmailTemplate, EmailTemplate.id == PoLineStatus.email_template_id)
        .where(EmailTemplate.type == TemplateType.BACK_ORDER.value)
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def compiled_templates(
    conn: Connection, ctx: Context, versions: Collection[tuple[int, datetime]]
) -> dict[int, tuple[str, CompiledTemplate]]:
    """Template id -> (name, compiled), compiling only what the cache lacks (one query)."""
    missing = [tid for tid, at in versions if (tid, at) not in ctx.templates]
    sources: dict[int, TemplateSource] = {}
    names: dict[int, str] = {}
    ids = sorted({tid for tid, _ in versions})
    for r in conn.execute(
        select(
            EmailTemplate.id,
            EmailTemplate.name,
            EmailTemplate.subject,
            EmailTemplate.body_text,
            EmailTemplate.body_html,
        ).where(EmailTemplate.id.in_(ids))
    ):
        names[r.id] = r.name
        if r.id in missing:
            sources[r.id] = TemplateSource(r.subject, r.body_text, r.body_html)
    return {
        tid: (names[tid], ctx.templates.get((tid, at), partial(sources.__getitem__, tid)))
        for tid, at in versions
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
    announced. Returns the new emails' ids.
    """
    if not association_ids:
        return []
    templated = templated_statuses(conn)
    if not templated:
        return []
    rows = _announced(conn, association_ids, templated)
    if not rows:
        return []
    # (sales order id, template id) -> its lines, in order
    groups: dict[tuple[int, int], list[Row[Any]]] = {}
    for r in rows:
        groups.setdefault((r.order_id, templated[r.status_id][0]), []).append(r)
    templates = compiled_templates(conn, ctx, {templated[r.status_id] for r in rows})

    settings = ctx.settings.email
    emails: list[dict[str, Any]] = []
    for (order_id, template_id), group in groups.items():
        head = group[0]
        name, compiled = templates[template_id]
        email: dict[str, Any] = {
            "sales_order_id": order_id,
            "template_id": template_id,
            "event": event.value,
            "to_address": head.email,
            "to_name": head.customer_name,
            "message_id": message_id(settings.from_address),
            "state": "pending",
            "attempts": 0,
            "last_error": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            rendered = compiled.render(_context(ctx, group, event.value))
        except InvalidInput as exc:
            # The template passed its check when saved but not on this order's data.
            # The order still goes in; the email waits, failed, for a person to see.
            log.warning("template %r did not render for order %s: %s", name, head.number, exc)
            email |= {
                "subject": f"(not rendered: template {name})",
                "body_text": "",
                "body_html": None,
                "state": "failed",
                "last_error": f"template {name!r} did not render: {exc}",
            }
        else:
            email |= {
                "subject": rendered.subject,
                "body_text": rendered.body_text,
                "body_html": rendered.body_html,
            }
        emails.append(email)

    email_ids = list(
        conn.scalars(
            insert(PendingEmail).returning(PendingEmail.id, sort_by_parameter_order=True), emails
        )
    )
    conn.execute(
        insert(PendingEmailAssociation),
        [
            {"email_id": email_id, "association_id": r.association_id}
            for email_id, group in zip(email_ids, groups.values(), strict=True)
            for r in group
        ],
    )
    return email_ids


def _announced(
    conn: Connection, association_ids: Collection[int], status_ids: Collection[int] | None
) -> list[Any]:
    """The lines these associations link, with what a template shows of them."""
    stmt = (
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
        .where(Association.id.in_(sorted(association_ids)))
        .order_by(SalesOrder.id, SoLine.line_no, Association.id)
    )
    if status_ids is not None:
        stmt = stmt.where(PoLine.status_id.in_(sorted(status_ids)))
    return list(conn.execute(stmt))


def _context(ctx: Context, group: Sequence[Row[Any]], event: str) -> dict[str, Any]:
    head = group[0]
    return backorder_context(
        company=ctx.settings.email.company_name,
        customer={"code": head.customer_code, "name": head.customer_name, "email": head.email},
        order={
            "number": head.number,
            "source": head.source,
            "order_date": head.order_date,
            "delivery_date": head.delivery_date,
        },
        lines=[
            LinkedLine(
                r.line_no,
                r.sku,
                r.item_name,
                r.qty,
                r.due_date,
                r.po_number,
                r.po_line_no,
                r.status_name or "",
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
    for r in _announced(conn, association_ids, None):
        groups.setdefault(r.order_id, []).append(r)
    return {oid: (g[0].email, _context(ctx, g, event)) for oid, g in groups.items()}
